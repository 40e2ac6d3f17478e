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
# The browser journeys run after the rest: beside the other tests on two cores their waits ran
# out. Two workers, each with its own Streamlit server and chromium, each file's tests on one
# worker in their order: about two thirds of the time of one worker.
.venv/bin/python -m pytest -n 2 --durations=15 --ignore=tests/browser
exec .venv/bin/python -m pytest -n 2 --dist loadfile --durations=5 tests/browser
