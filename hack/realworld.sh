#!/usr/bin/env bash
# realworld.sh [-o OUTDIR] DIR — gate every input under DIR with dsgate and print one Markdown table:
# input, exit, denies, warns, schema errors, errors, seconds.
#
# An input is each immediate subdirectory of DIR and each immediate *.yaml / *.yml / *.json file
# (names starting with "." are skipped, so DIR/.values/ can hold values files). Each is gated with
#   dsgate check --no-deploy --no-config --format json INPUT [OPTIONS]
# run from DIR. OPTIONS come from DIR/INPUT.args when it exists: dsgate options separated by white
# space or newlines, `#` starts a comment, no shell quoting; paths in it are relative to DIR
# (e.g. `-f .values/vector-agent.yaml`, `--repo https://github.com/o/r=o-r`). An args file that names
# `--config` replaces the default `--no-config`.
#
# DSGATE (default: this checkout's .venv/bin/dsgate) picks the dsgate to run, so two checkouts can be
# compared on one corpus; REALWORLD_TIMEOUT (default 900) bounds each input in seconds (exit 124).
# With -o OUTDIR, each input's JSON report and stderr are kept there (INPUT.json, INPUT.err).
# A run that printed no JSON report (exit 2 before reporting) counts its `dsgate: error:` lines.
# Exit: 0 when the table was printed, 2 for a usage error (missing DIR, no inputs, no dsgate).
set -euo pipefail

usage() { echo "usage: $0 [-o OUTDIR] DIR" >&2; exit 2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
outdir=""
while getopts "o:h" opt; do
  case $opt in
    o) outdir=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
dir=$1
if [ ! -d "$dir" ]; then
  echo "realworld.sh: error: $dir is not a directory; name a directory whose subdirectories and YAML files are the inputs" >&2
  exit 2
fi
dir=$(cd "$dir" && pwd)
dsgate=${DSGATE:-$here/.venv/bin/dsgate}
if [ ! -x "$dsgate" ]; then
  echo "realworld.sh: error: $dsgate is not executable; run bash hack/venv.sh (or set DSGATE=/path/to/dsgate)" >&2
  exit 2
fi
python=$(dirname "$dsgate")/python
[ -x "$python" ] || python=python3
timeout_s=${REALWORLD_TIMEOUT:-900}

inputs=()
for path in "$dir"/*; do
  name=$(basename "$path")
  if [ -d "$path" ]; then
    inputs+=("$name")
  elif [ -f "$path" ]; then
    case $name in *.yaml | *.yml | *.json) inputs+=("$name") ;; esac
  fi
done
if [ ${#inputs[@]} -eq 0 ]; then
  echo "realworld.sh: error: $dir holds no input (no subdirectory, no *.yaml/*.yml/*.json file)" >&2
  exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -n "$outdir" ]; then
  mkdir -p "$outdir"
  outdir=$(cd "$outdir" && pwd)
fi

# counts JSON ERR: "denies warns schema errors" from a JSON report, or "- - - N" without one
counts() {
  "$python" - "$1" "$2" <<'PY'
import json, sys
try:
    with open(sys.argv[1]) as fh:
        s = json.load(fh)["summary"]
    print(s["deny"], s["warn"], s["schema_errors"], s["errors"])
except (OSError, ValueError, KeyError, TypeError):
    with open(sys.argv[2], errors="replace") as fh:
        n = sum(1 for line in fh if line.startswith("dsgate: error:"))
    print("-", "-", "-", n)
PY
}

echo "| input | exit | denies | warns | schema errors | errors | seconds |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for name in "${inputs[@]}"; do
  base=${name%.*}
  [ -d "$dir/$name" ] && base=$name
  opts=()
  if [ -f "$dir/$base.args" ]; then
    while IFS= read -r line || [ -n "$line" ]; do
      line=${line%%#*}
      read -ra words <<<"$line"
      opts+=("${words[@]}")
    done <"$dir/$base.args"
  fi
  config=(--no-config)
  for word in "${opts[@]}"; do
    case $word in --config | --config=*) config=() ;; esac
  done
  arg=$name
  case $arg in -*) arg=./$arg ;; esac # a name dsgate would read as an option
  start=$(date +%s.%N)
  rc=0
  (cd "$dir" && timeout "$timeout_s" "$dsgate" check --no-deploy "${config[@]}" --format json -o "$work/report.json" "$arg" "${opts[@]}") \
    >/dev/null 2>"$work/stderr" || rc=$?
  seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  [ -s "$work/report.json" ] || : >"$work/report.json"
  read -r denies warns schema errors < <(counts "$work/report.json" "$work/stderr")
  echo "| $name | $rc | $denies | $warns | $schema | $errors | $seconds |"
  if [ -n "$outdir" ]; then
    cp "$work/report.json" "$outdir/$base.json"
    cp "$work/stderr" "$outdir/$base.err"
  fi
  rm -f "$work/report.json" "$work/stderr"
done
