#!/usr/bin/env bash
# Creates .venv (once), installs the Python dependencies and builds the Rust extension into it.
# Idempotent and incremental: a second run only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
stamp=.venv/.deps-$(sha1sum requirements-dev.txt pyproject.toml | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -r requirements-dev.txt
    touch "$stamp"
fi
# Serialise builds: several shells (or a test and a demo) may run this at once.
exec 9>.venv/.build.lock
flock 9
# The first build installs the package in editable mode (entry point, metadata); later ones only
# rebuild the extension in place, which is all a code change needs.
installed=.venv/.editable-$(sha1sum pyproject.toml | cut -c1-12)
mode=()
[ -f "$installed" ] && mode=(--skip-install)
VIRTUAL_ENV="$PWD/.venv" PATH="$PWD/.venv/bin:$PATH" \
    .venv/bin/maturin develop --release --quiet "${mode[@]}" 2>&1 \
    | grep -vE '^(🔗|🐍|📦|🍹|✏️ |🛠 |📖|Requirement already satisfied|Ignoring |Looking in links|📡)' || true
touch "$installed"
VIRTUAL_ENV="$PWD/.venv" .venv/bin/python -c "import albert_fast" \
    || { echo "bootstrap: the albert_fast extension did not build" >&2; exit 1; }
