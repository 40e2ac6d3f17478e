"""queries.read_frame gives the frame pd.read_sql gives, on both databases."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import Column, DateTime, Float, Integer, MetaData, Numeric, String, Table, select

from queries import read_frame

ROWS = [
    {"i": 1, "s": "a", "f": 1.5, "n": Decimal("2.25"), "d": dt.datetime(2026, 12, 1, 10, 0)},
    {"i": None, "s": None, "f": None, "n": None, "d": None},
    {"i": 3, "s": "c", "f": 2.5, "n": Decimal("7.10"), "d": dt.datetime(2026, 12, 2, 11, 30)},
]


@pytest.fixture
def mixed(engine):
    metadata = MetaData()
    table = Table(
        "read_frame_rows",
        metadata,
        Column("i", Integer),
        Column("s", String(10)),
        Column("f", Float),
        Column("n", Numeric(10, 2)),
        Column("d", DateTime),
    )
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), ROWS)
    yield table
    metadata.drop_all(engine)


@pytest.mark.parametrize("where", ["every row", "no row"])
def test_a_frame_as_read_sql_gives_it(engine, mixed, where):
    statement = select(mixed).order_by(mixed.c.d.is_(None), mixed.c.d)
    if where == "no row":
        statement = statement.where(mixed.c.i > 100)
    with engine.connect() as conn:
        expected = pd.read_sql(statement, conn, parse_dates=["d"])
        got = read_frame(conn, statement, dates=["d"])
    pd.testing.assert_frame_equal(got, expected)
    if where == "every row":
        assert got["n"].dtype == float and got["n"].iloc[0] == 2.25  # a decimal as a float
        assert got["i"].isna().sum() == 1 and got["d"].isna().sum() == 1
