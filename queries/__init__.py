"""The read side: functions that take an engine (or an open connection) and return data.

Pages call these and never hold SQL. Every query is SQLAlchemy Core with bound parameters,
aggregates in the database, and reads through :func:`data.db.read_connection` so that on
SQLite a page never takes the write lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

from data.db import read_connection


@contextmanager
def reading(bind: Engine | Connection) -> Iterator[Connection]:
    """A read connection: a new one for an engine, the caller's own for a connection."""
    if isinstance(bind, Connection):
        yield bind
        return
    with read_connection(bind) as conn:
        yield conn
