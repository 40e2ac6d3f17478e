"""Document numbers (SO-000123, PO-000045, SH-000007) derived from the row id.

The id comes from the database's own sequence, so two app servers can never hand out the same
number. Most rows are inserted with a unique provisional number and renamed once their id is
known; :func:`numbered_insert` gives a row its id and its number in the one INSERT instead.
The demo data (:mod:`data.demo.rows`) numbers its rows by the same rule.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Insert, String, Table, Text, bindparam, case, cast, func, literal, select

NUMBER_DIGITS = 6


def provisional_number() -> str:
    """A unique placeholder that fits the 20-character number columns."""
    return "tmp-" + uuid.uuid4().hex[:16]


def document_number(prefix: str, row_id: int) -> str:
    return f"{prefix}-{row_id:0{NUMBER_DIGITS}d}"


def numbered_insert(table: Table, prefix: str, columns: list[str], dialect: str) -> Insert:
    """INSERT of one row of ``table`` with its id and its number (``document_number``) at once.

    The row's other values are bound by column name (``columns``); RETURNING gives the id and
    the number. The id is the one the database would have given the row itself: on PostgreSQL
    the next value of the id column's sequence, taken once in a subquery that both columns
    read; on SQLite one more than the highest id, which is how SQLite picks the rowid of a table
    without AUTOINCREMENT (and the INSERT holds the write lock, so no other writer can take it).
    """
    key = table.c.id
    if dialect == "postgresql":
        new_id = func.nextval(func.pg_get_serial_sequence(table.name, key.name))
    else:
        new_id = func.coalesce(func.max(key), 0) + 1
    new = select(new_id.label("id")).subquery("new_row")
    if dialect == "postgresql":
        text_id = cast(new.c.id, Text)
        digits = case(
            (new.c.id < 10**NUMBER_DIGITS, func.lpad(text_id, NUMBER_DIGITS, "0")), else_=text_id
        )
        number = literal(f"{prefix}-", String) + digits
    else:
        number = func.printf(f"{prefix}-%0{NUMBER_DIGITS}d", new.c.id)

    # Typed by their columns: the driver converts them as for a plain INSERT (PostgreSQL's
    # driver also casts each one, so a NULL in the SELECT list is not taken for text).
    values = [bindparam(name, type_=table.c[name].type) for name in columns]
    rows = select(new.c.id, number, *values)
    return (
        table.insert()
        .from_select([key.name, "number", *columns], rows)
        .returning(key, table.c.number)
    )
