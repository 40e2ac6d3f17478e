"""The weekly demand kept by the write side equals ``demand_daily`` summed per week and product.

Random sequences of operations (the same steps as the rollup's tests) run on a small world over
several weeks; afterwards ``demand_weekly`` must equal the daily rows summed here in plain Python
by Monday and product, and a rebuild must give the same rows again.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal

import pytest
from sqlalchemy import select

from data import demo
from data.db import read_connection
from data.schema import Base, DemandDaily, DemandWeekly
from data.summaries import WEEKLY_FIGURE_COLUMNS, rebuild
from operations import place_order
from tests.operations_world import build_world
from tests.test_invariants_property import CHOICES, SKUS, TIERS, run_step
from tests.test_rollup import random_steps


def _day(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _rounded(row: dict) -> dict:
    return {c: round(Decimal(str(v)), 2) if c == "revenue" else int(v) for c, v in row.items()}


def expected_weekly(engine) -> dict[tuple, dict]:
    """``demand_daily`` summed by Monday and product, in Python."""
    out: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys(WEEKLY_FIGURE_COLUMNS, 0))
    figures = [DemandDaily.__table__.c[c] for c in WEEKLY_FIGURE_COLUMNS]
    with read_connection(engine) as conn:
        rows = conn.execute(select(DemandDaily.day, DemandDaily.product_id, *figures)).all()
    for day, product_id, *values in rows:
        day = _day(day)
        row = out[(day - dt.timedelta(days=day.weekday()), product_id)]
        for column, value in zip(WEEKLY_FIGURE_COLUMNS, values, strict=True):
            row[column] += Decimal(str(value)) if column == "revenue" else value
    return {key: _rounded(row) for key, row in out.items()}


def stored_weekly(engine) -> dict[tuple, dict]:
    figures = [DemandWeekly.__table__.c[c] for c in WEEKLY_FIGURE_COLUMNS]
    with read_connection(engine) as conn:
        rows = conn.execute(select(DemandWeekly.week, DemandWeekly.product_id, *figures)).all()
    return {
        (_day(week), product_id): _rounded(dict(zip(WEEKLY_FIGURE_COLUMNS, values, strict=True)))
        for week, product_id, *values in rows
    }


@pytest.mark.parametrize("seed", [4, 5])
def test_weekly_demand_equals_the_daily_summed_after_random_operations(engine, seed):
    world = build_world(engine)
    rng = random.Random(seed)
    for step in random_steps(rng, 40):
        run_step(engine, world, step)
    # Orders on either side of week boundaries: a Sunday evening, the Monday after, a week on.
    for day in (dt.datetime(2026, 11, 1, 23, 30), dt.datetime(2026, 11, 2, 0, 15)) * 2 + (
        dt.datetime(2026, 11, 9, 9, 0),
    ):
        skus = rng.sample(SKUS, rng.randint(1, 3))
        place_order(
            engine,
            customer_id=world.customers[rng.choice(TIERS)],
            lines=[(sku, rng.randint(1, 15)) for sku in skus],
            actor="test",
            backorder_choice=rng.choice(CHOICES),
            now=day,
        )
    expected = expected_weekly(engine)
    assert len({week for week, _ in expected}) >= 3
    assert sum(row["lines"] for row in expected.values()) > 0, "no order was placed"
    assert sum(row["qty_short"] for row in expected.values()) > 0, "nothing went short"
    assert stored_weekly(engine) == expected
    with engine.begin() as conn:
        counts = rebuild(conn)
    assert counts["demand_weekly"] == len(expected)
    assert stored_weekly(engine) == expected


def test_rebuild_is_idempotent_and_the_demo_fills_the_weekly_demand(sqlite_engine):
    Base.metadata.drop_all(sqlite_engine)
    Base.metadata.create_all(sqlite_engine)
    counts = demo.generate(sqlite_engine, scale="tiny")
    expected = expected_weekly(sqlite_engine)
    assert counts["demand_weekly"] == len(expected) > 0
    assert stored_weekly(sqlite_engine) == expected
    with sqlite_engine.begin() as conn:
        rebuild(conn)
        rebuild(conn)
    assert stored_weekly(sqlite_engine) == expected
