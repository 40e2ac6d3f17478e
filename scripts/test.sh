#!/usr/bin/env bash
# Install what the tests need (Python packages, Debian's chromium and nginx), lint, then run the whole
# suite on SQLite and on the PostgreSQL server at 127.0.0.1:5432 (tests skip it with a reason
# when it is not reachable, and fail when CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest -n 2 --durations=15 "$@"
