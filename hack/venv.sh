#!/usr/bin/env bash
# Create or refresh the project venv (.venv) from pyproject.toml with a pinned uv.
# uv and its package cache live in $DSGATE_CACHE, so a fresh clone installs in
# seconds. A stamp holding pyproject.toml's hash makes a second run a no-op.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSIONS="$ROOT/src/dsgate/data/versions.env"  # the pins, shipped inside the package
# shellcheck source=../src/dsgate/data/versions.env
source "$VERSIONS"
CACHE=${DSGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dsgate}
UV_HOME="$CACHE/tools/uv/$UV_VERSION"
export UV_CACHE_DIR="$CACHE/uv-cache"
PY=${PYTHON:-python3.11}
die() { echo "dsgate venv: $*" >&2; exit 2; }
command -v "$PY" >/dev/null || die "$PY not found on PATH; install Python 3.11 (or set PYTHON) and retry"

if [ ! -x "$UV_HOME/bin/uv" ]; then
  tmp=$(mktemp -d "$CACHE/uv.XXXXXX" 2>/dev/null || { mkdir -p "$CACHE"; mktemp -d "$CACHE/uv.XXXXXX"; })
  "$PY" -m pip install --quiet --disable-pip-version-check --target "$tmp/lib" "uv==$UV_VERSION" \
    || { rm -rf "$tmp"; die "pip could not install uv==$UV_VERSION from PyPI"; }
  mkdir -p "$tmp/bin" && cp "$tmp/lib/bin/uv" "$tmp/bin/uv" && rm -rf "${tmp:?}/lib"
  mkdir -p "$(dirname "$UV_HOME")" && rm -rf "$UV_HOME" && mv "$tmp" "$UV_HOME"
fi

stamp="$ROOT/.venv/.dsgate-stamp"
want=$(cat "$ROOT/pyproject.toml" "$VERSIONS" | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$ROOT/.venv/bin/dsgate" ]; then exit 0; fi
rm -f "$stamp"
[ -x "$ROOT/.venv/bin/python" ] || "$UV_HOME/bin/uv" venv --quiet --python "$PY" "$ROOT/.venv"
"$UV_HOME/bin/uv" pip install --quiet --python "$ROOT/.venv/bin/python" -e "${ROOT}[test]" \
  || die "installing Python dependencies failed (see above); check pyproject.toml pins"
echo "$want" >"$stamp"
