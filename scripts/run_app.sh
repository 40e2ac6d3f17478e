#!/usr/bin/env bash
# Install what the app needs, then start it. The database (SQLite under data/ unless
# DATABASE_URL says otherwise) is migrated and seeded with demo data on first start; later
# starts skip both. The app answers at once: a job worker beside it runs `python -m jobs
# run-due` every minute, and its first run trains the forecasting models (until then dates use
# the quoted lead and transit times). The worker exits when the app server does.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh app
.venv/bin/python -m data migrate
.venv/bin/python -m data seed --if-empty
.venv/bin/python -m jobs worker --every 60 &
exec .venv/bin/python -m streamlit run app.py "$@"
