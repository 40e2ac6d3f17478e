"""The re-login cookie's signing key, kept in the database so every app server shares it.

Several servers behind one proxy must accept each other's cookies, and a server may run on a
machine of its own, so the key cannot live in one server's files. The first server to need a
key stores one in the ``settings`` table under :data:`COOKIE_KEY_ROW` (not a declared setting:
the Admin page never lists or edits it); every server then reads that same row. Concurrent
first starts are safe: the insert does nothing when another server's row is already there, and
both read back the one row that won.
"""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from data.db import read_connection, write_session
from data.schema import Setting, utcnow

COOKIE_KEY_ROW = "cookie_key"


def stored_cookie_key(engine: Engine) -> str | None:
    """The key stored in the database, or None before any server stored one."""
    with read_connection(engine) as conn:
        value = conn.execute(select(Setting.value).where(Setting.key == COOKIE_KEY_ROW)).scalar()
    return str(value["v"]) if value and value.get("v") else None


def shared_cookie_key(engine: Engine, proposed: str) -> str:
    """The database's key; ``proposed`` is stored first when there is none yet."""
    key = stored_cookie_key(engine)
    if key is not None:
        return key
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    with write_session(engine) as session:
        session.execute(
            insert(Setting)
            .values(
                key=COOKIE_KEY_ROW, value={"v": proposed}, updated_at=utcnow(), updated_by="system"
            )
            .on_conflict_do_nothing(index_elements=["key"])
        )
        value = session.execute(
            select(Setting.value).where(Setting.key == COOKIE_KEY_ROW)
        ).scalar_one()
    return str(value["v"])
