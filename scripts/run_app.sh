#!/usr/bin/env bash
# Install what the app needs, then start it. The database (SQLite under data/ unless
# DATABASE_URL says otherwise) is migrated, seeded with demo data and its models trained on
# first start; later starts skip all three.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh app
.venv/bin/python -m data migrate
.venv/bin/python -m data seed --if-empty
# Fit the forecasting models once, so dates use learned lead and transit times from the start.
.venv/bin/python -m models.train --if-untrained
exec .venv/bin/python -m streamlit run app.py "$@"
