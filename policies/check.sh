#!/usr/bin/env bash
# Quality gate of the Rego policy library (called by `make lint` and `make test`):
#   1. opa fmt      - every module is formatted (fails on any reformat)
#   2. opa check    - the library compiles in strict mode
#   3. opa test     - every test passes and line coverage is at least $COVERAGE_THRESHOLD (default 100)
#   4. regal lint   - Regal's rules, configured in policies/.regal/config.yaml
# Exits non-zero on the first failing step; the coverage step prints every uncovered line range.
#
#   policies/check.sh            all four steps
#   OPA=/path/to/opa REGAL=/path/to/regal policies/check.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
THRESHOLD=${COVERAGE_THRESHOLD:-100}
# The pinned binaries, located by dsgate (it names the command that installs a missing one).
DSGATE=${DSGATE:-$ROOT/.venv/bin/dsgate}
[ -x "$DSGATE" ] || { echo "policies/check.sh: $DSGATE not found; run 'make setup' (or set DSGATE, OPA and REGAL)" >&2; exit 2; }
[ -n "${OPA:-}" ] || OPA=$("$DSGATE" tools path opa) || exit 2
[ -n "${REGAL:-}" ] || REGAL=$("$DSGATE" tools path regal) || exit 2
# Only the .rego modules are the library: samples, docs and configuration stay out of OPA's data.
IGNORE=(--ignore samples --ignore '*.yaml' --ignore '*.yml' --ignore '*.md' --ignore '*.sh' --ignore '.*')

step() { printf '== %s\n' "$*"; }

step "opa fmt --list --fail"
if ! unformatted=$("$OPA" fmt --list --fail "$HERE"); then
  echo "policies/check.sh: not formatted (run: $OPA fmt -w policies):" >&2
  echo "$unformatted" >&2
  exit 1
fi

step "opa check --strict"
"$OPA" check --strict "${IGNORE[@]}" "$HERE"

step "opa test"
"$OPA" test "${IGNORE[@]}" "$HERE" | tail -n 3

step "opa test --coverage (threshold ${THRESHOLD}%)"
report=$(mktemp)
trap 'rm -f "$report"' EXIT
"$OPA" test "${IGNORE[@]}" --coverage --format json "$HERE" >"$report"
echo "coverage: $("$OPA" eval --stdin-input --format raw 'input.coverage' <"$report")%"
below=$("$OPA" eval --stdin-input --format raw "input.coverage < $THRESHOLD" <"$report")
if [ "$below" != "false" ]; then
  echo "policies/check.sh: coverage is below ${THRESHOLD}%; not covered:" >&2
  "$OPA" eval --stdin-input --format raw \
    'concat("\n", {sprintf("  %s:%d-%d", [f, r.start.row, r.end.row]) | some f, v in input.files; some r in v.not_covered})' \
    <"$report" >&2
  exit 1
fi

step "regal lint"
(cd "$ROOT" && "$REGAL" lint policies)
