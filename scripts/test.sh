#!/usr/bin/env bash
# Runs every test: the Rust core's (cargo test) and the Python suite (pytest).
# Builds what it needs first (scripts/bootstrap.sh). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
echo "== cargo test (rust/core)"
cargo test --release -p albert-fast-core --quiet
echo "== pytest"
.venv/bin/python -m pytest -q "$@"
