"""The read side: functions that take an engine (or an open connection) and return data.

Pages call these and never hold SQL. Every query is SQLAlchemy Core with bound parameters,
aggregates in the database, and reads through :func:`data.db.read_connection` so that on
SQLite a page never takes the write lock.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pandas as pd
from sqlalchemy import Connection, Engine, Result, Select, func, type_coerce
from sqlalchemy.types import NullType

from data.db import read_connection


@contextmanager
def reading(bind: Engine | Connection) -> Iterator[Connection]:
    """A read connection: a new one for an engine, the caller's own for a connection."""
    if isinstance(bind, Connection):
        yield bind
        return
    with read_connection(bind) as conn:
        yield conn


def as_stored(column):
    """A column as the driver returns it, without SQLAlchemy's per-value conversion.

    For timestamps read by the ten thousand into pandas (``pd.to_datetime`` parses a whole
    column at once): on SQLite, converting each stored string to a datetime one by one costs
    more than the query.
    """
    return type_coerce(column, NullType())


def days_between(bind: Engine | Connection, later, earlier):
    """Days (fractional) from ``earlier`` to ``later``, two timestamp expressions, in the
    database's own date arithmetic."""
    if bind.dialect.name == "postgresql":
        return func.extract("epoch", later - earlier) / 86400.0
    return func.julianday(later) - func.julianday(earlier)


def plain_rows(result: Result) -> list[tuple]:
    """A result's rows as plain tuples: pandas probes each Row object's attributes, slowly."""
    return [tuple(row) for row in result.all()]


def read_frame(conn: Connection, statement: Select, *, dates: Sequence[str] = ()) -> pd.DataFrame:
    """The rows of ``statement`` as a frame, as ``pd.read_sql(..., parse_dates=dates)`` gives
    them, for a page of rows read while a user waits: ``read_sql`` wraps the connection, checks
    the database's tables and converts column by column, which costs more than a short query."""
    result = conn.execute(statement)
    frame = pd.DataFrame.from_records(
        plain_rows(result), columns=list(result.keys()), coerce_float=True
    )
    for column in dates:
        frame[column] = pd.to_datetime(frame[column])
    return frame
