#!/usr/bin/env bash
# Create ./.venv with a Python >= 3.12 and install the project with its dev extras.
# Looks for a working `python3.12` (or newer) first, then pyenv's installed 3.12+/3.13 versions.
set -euo pipefail
cd "$(dirname "$0")/.."

version_ok() { "$@" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }

find_python() {
  for candidate in python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && version_ok "$candidate"; then
      echo "$candidate"; return 0
    fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.(1[2-9])(\.|$)' | sort -V); do
      local exe
      exe="$(pyenv root)/versions/$v/bin/python3"
      if [ -x "$exe" ] && version_ok "$exe"; then
        echo "$exe"; return 0
      fi
    done
  fi
  return 1
}

if [ -x .venv/bin/python ] && version_ok .venv/bin/python; then
  PY=.venv/bin/python
else
  if ! BASE=$(find_python); then
    echo "error: no Python >= 3.12 found (tried python3.12, python3.13, python3 and pyenv versions)." >&2
    echo "       Install one (e.g. 'pyenv install 3.12') and re-run $0." >&2
    exit 2
  fi
  echo "bootstrap: creating .venv with $BASE ($("$BASE" --version 2>&1))"
  rm -rf .venv
  "$BASE" -m venv .venv
  PY=.venv/bin/python
fi
"$PY" -m pip install --quiet --upgrade pip
"$PY" -m pip install --quiet -e '.[dev]'
echo "bootstrap: $("$PY" --version) ready in .venv (nautilus_trader $("$PY" -c 'import nautilus_trader; print(nautilus_trader.__version__)'))"
