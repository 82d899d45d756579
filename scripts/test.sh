#!/usr/bin/env bash
# The test command: set up the environment, lint, run the test suite and the benchmarks' smoke modes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest "$@"
