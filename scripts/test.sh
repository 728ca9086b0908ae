#!/usr/bin/env bash
# Set up a virtual environment with the test extras and run the whole test suite, then the eval.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3.11 -m venv "$VENV" 2>/dev/null || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q -e ".[dev]"
export PATH="$PWD/$VENV/bin:$PATH"
python -m pytest -q "$@"
