#!/usr/bin/env bash
# Install what the tests need (Python packages, Debian's chromium and nginx), lint, then run the whole
# suite on SQLite and on the PostgreSQL server at 127.0.0.1:5432 (tests skip it with a reason
# when it is not reachable, and fail when CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
if [ "$#" -gt 0 ]; then
  exec .venv/bin/python -m pytest -n 2 --durations=15 "$@"
fi
# The browser journeys run after the rest, one at a time: each starts a Streamlit server and a
# chromium, and beside the other tests on two cores their 30-second waits for a run ran out.
.venv/bin/python -m pytest -n 2 --durations=15 --ignore=tests/browser
exec .venv/bin/python -m pytest -n 0 --durations=5 tests/browser
