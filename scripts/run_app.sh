#!/usr/bin/env bash
# Install what the app needs, then start it. The database (SQLite under data/ unless
# DATABASE_URL says otherwise) is migrated and seeded with demo data on first start.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh app
.venv/bin/python -m data migrate
.venv/bin/python -m data seed --if-empty
exec .venv/bin/python -m streamlit run app.py "$@"
