"""Rewrite data/migrations/versions/0001 from data/schema.py (only until the first release).

Run from the repository root: ``.venv/bin/python scripts/regenerate_initial_migration.py``.
Once a database in use has 0001 applied, add a new revision instead.
"""

import tempfile
from pathlib import Path

from alembic import command

from data.migrate import MIGRATIONS_DIR, alembic_config

target = MIGRATIONS_DIR / "versions" / "0001_initial_schema.py"
target.unlink(missing_ok=True)
with tempfile.TemporaryDirectory() as tmp:
    command.revision(
        alembic_config(f"sqlite:///{Path(tmp) / 'empty.db'}"),
        message="initial schema",
        autogenerate=True,
        rev_id="0001",
    )
print(f"wrote {target}")
