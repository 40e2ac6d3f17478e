"""Make the configured database ready on app start: migrate it, and seed the demo when empty.

Safe to call on every start (an up-to-date, seeded database costs one read of its Alembic
version and one count) and from several app servers at once: on PostgreSQL the servers queue on an advisory
lock; on SQLite the write transaction (``BEGIN IMMEDIATE``) does the queueing, and the seeder
re-checks emptiness inside its own transaction, so the loser simply finds the data there.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError

from data.migrate import at_head, is_empty, upgrade

SCALE_ENV = "LARDER_DEMO_SCALE"  # which demo scale an empty database gets (default: "default")
SQLITE_LOCKED_ATTEMPTS = 20  # one-second waits on top of each busy timeout
SETUP_LOCK_KEY = 7_310_001  # any constant; identifies "Larder database setup" among advisory locks


@contextmanager
def setup_lock(engine: Engine) -> Iterator[None]:
    """Serialise database setup across processes (PostgreSQL advisory lock; no-op on SQLite)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn.execute(select(func.pg_advisory_lock(SETUP_LOCK_KEY)))
        conn.commit()
        try:
            yield
        finally:
            conn.execute(select(func.pg_advisory_unlock(SETUP_LOCK_KEY)))
            conn.commit()


def ensure_database(engine: Engine, scale: str | None = None) -> None:
    """Apply migrations and, when there are no products yet, seed the demo wholesaler."""
    for attempt in range(1, SQLITE_LOCKED_ATTEMPTS + 1):
        try:
            _migrate_and_seed(engine, scale)
            return
        except OperationalError as exc:
            # SQLite: another server may hold the write lock longer than the busy timeout while
            # it seeds the default demo on a slow disk. Wait for it, then find its data.
            locked = engine.dialect.name == "sqlite" and "locked" in str(exc).lower()
            if not locked or attempt == SQLITE_LOCKED_ATTEMPTS:
                raise
            time.sleep(1)


def _migrate_and_seed(engine: Engine, scale: str | None) -> None:
    # The usual start: migrated and seeded already, checked with two small reads (no lock).
    if at_head(engine) and not is_empty(engine):
        return
    with setup_lock(engine):
        upgrade(engine)
        if not is_empty(engine):
            return
        # Imported only when seeding: the demo generator pulls in the forecasting models
        # (scikit-learn, SciPy), seconds of imports that an app start on seeded data never needs.
        from data.demo import DatabaseNotEmpty, generate

        # Another server may seed between our check and our transaction: that is fine.
        with suppress(DatabaseNotEmpty):
            generate(engine, scale=scale or os.environ.get(SCALE_ENV, "default"))
