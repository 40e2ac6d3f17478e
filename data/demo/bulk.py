"""Fast bulk loading: COPY on PostgreSQL, ``executemany`` on SQLite, in the caller's transaction.

Rows are tuples of plain Python values in the table's storage form (timestamps as
``YYYY-MM-DD HH:MM:SS.ffffff`` text, the format SQLAlchemy itself writes to SQLite, so that
comparisons in SQL behave the same for seeded and live rows).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from itertools import islice

import numpy as np
from sqlalchemy import Connection, ForeignKeyConstraint, Table, func, insert, inspect, select
from sqlalchemy.schema import AddConstraint, DropConstraint

BATCH_ROWS = 50_000


@lru_cache(maxsize=1)
def _times_of_day() -> list[str]:
    """The text " HH:MM:SS.000000" for every second of a day."""
    return [
        f" {h:02d}:{m:02d}:{sec:02d}.000000"
        for h in range(24)
        for m in range(60)
        for sec in range(60)
    ]


def timestamps(start: dt.date, seconds: np.ndarray) -> list[str | None]:
    """Seconds after midnight of ``start`` as timestamp text; negative means no time (None)."""
    seconds = np.asarray(seconds, dtype=np.int64)
    if not seconds.size:
        return []
    days, second_of_day = np.divmod(np.maximum(seconds, 0), 86_400)
    first, last = int(days.min()), int(days.max())
    day_text = dates(start, np.arange(first, last + 1))
    times = _times_of_day()
    out: list[str | None] = [
        day_text[d] + times[t]
        for d, t in zip((days - first).tolist(), second_of_day.tolist(), strict=True)
    ]
    for i in np.flatnonzero(seconds < 0).tolist():
        out[i] = None
    return out


def dates(start: dt.date, days: np.ndarray) -> list[str | None]:
    """Day offsets from ``start`` as ``YYYY-MM-DD``; negative means no date (None)."""
    days = np.asarray(days, dtype=np.int64)
    text = np.datetime_as_string(np.datetime64(start, "D") + np.maximum(days, 0), unit="D")
    out = text.tolist()
    for i in np.flatnonzero(days < 0):
        out[i] = None
    return out


def money(values: np.ndarray) -> list[float]:
    return np.round(np.asarray(values, dtype=float), 2).tolist()


def as_json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[tuple]
) -> int:
    """Load ``rows`` (tuples in ``columns`` order) into ``table``; returns the row count."""
    loaded = 0
    if conn.dialect.name == "postgresql":
        from psycopg import sql

        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        )
        raw = conn.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
                loaded += 1
        return loaded
    statement = str(insert(table).compile(dialect=conn.dialect, column_keys=list(columns)))
    rows = iter(rows)
    while batch := list(islice(rows, BATCH_ROWS)):
        conn.exec_driver_sql(statement, batch)
        loaded += len(batch)
    return loaded


def reset_id_sequences(conn: Connection, tables: Iterable[Table]) -> None:
    """After loading explicit ids, move PostgreSQL's id sequences past them."""
    if conn.dialect.name != "postgresql":
        return  # SQLite hands out max(id) + 1 by itself
    for table in tables:
        if "id" not in table.c:
            continue
        sequence = conn.execute(select(func.pg_get_serial_sequence(table.name, "id"))).scalar()
        if sequence is None:
            continue
        highest = conn.execute(select(func.max(table.c.id))).scalar()
        conn.execute(select(func.setval(sequence, highest or 1, highest is not None)))


@contextmanager
def foreign_keys_checked_once(conn: Connection, tables: Iterable[Table]) -> Iterator[None]:
    """On PostgreSQL, drop the tables' foreign keys for the load and add them back afterwards.

    Checking a foreign key row by row made COPY several times slower (27k rows/s for shipment
    lines); adding the constraint back validates all rows in one pass, so a bad reference still
    fails the whole load. The DDL is part of the caller's transaction.
    """
    if conn.dialect.name != "postgresql":
        yield
        return
    dropped: list[ForeignKeyConstraint] = []
    inspector = inspect(conn)
    for table in tables:
        present = {fk["name"] for fk in inspector.get_foreign_keys(table.name)}
        for constraint in sorted(table.foreign_key_constraints, key=lambda c: str(c.name)):
            if constraint.name in present:
                conn.execute(DropConstraint(constraint))
                dropped.append(constraint)
    yield
    for constraint in dropped:
        conn.execute(AddConstraint(constraint))
