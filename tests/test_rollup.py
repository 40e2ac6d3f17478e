"""The backorder rollup kept by the write side equals the straight aggregate over the order lines.

Random sequences of every operation that changes an order line or its backorder (place with each
backorder choice, cancel a line or an order, receive goods that fill backorders, short picks,
shipping) run on a small world; afterwards the rollup must equal an aggregate computed here in
plain Python from the raw rows, and a rebuild must give the same rows again.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal

import pytest
from sqlalchemy import text

from data import demo
from data.db import read_connection
from data.schema import Base
from data.summaries import FIGURE_COLUMNS, rebuild
from tests.operations_world import build_world
from tests.test_invariants_property import CHOICES, SKUS, TIERS, run_step

MONEY_COLUMNS = {
    "value",
    "cost",
    "bo_value",
    "lost_value",
    "lost_cost",
    "cancelled_value",
    "cancelled_cost",
}

RAW_LINES = text(
    """
    SELECT o.placed_at, p.category, c.segment, p.cost, l.unit_price, l.qty_ordered,
           l.qty_cancelled, b.qty, b.qty_filled, b.qty_cancelled, b.root_cause
    FROM order_lines l
    JOIN orders o ON o.id = l.order_id
    JOIN customers c ON c.id = o.customer_id
    JOIN products p ON p.id = l.product_id
    LEFT JOIN backorders b ON b.order_line_id = l.id
    """
)


def expected_rollup(engine) -> dict[tuple, dict]:
    """The rollup computed in Python, line by line, from the raw rows."""
    out: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys(FIGURE_COLUMNS, 0))
    with read_connection(engine) as conn:
        rows = conn.execute(RAW_LINES).all()
    for placed, category, segment, cost, price, ordered, cancelled, bq, bf, bc, cause in rows:
        if isinstance(placed, str):
            placed = dt.datetime.fromisoformat(placed)
        week = placed.date() - dt.timedelta(days=placed.weekday())
        price, cost = Decimal(str(price)), Decimal(str(cost))
        has_bo = bq is not None and bq > 0
        key = (week, category, segment, (cause or "unknown") if has_bo else "none")
        row = out[key]
        row["lines"] += 1
        row["units"] += ordered
        row["value"] += ordered * price
        row["cost"] += ordered * cost
        row["cancelled_units"] += cancelled
        row["cancelled_value"] += cancelled * price
        row["cancelled_cost"] += cancelled * cost
        if has_bo:
            row["bo_lines"] += 1
            row["bo_units"] += bq
            row["bo_value"] += bq * price
            row["bo_filled_units"] += bf
            row["lost_units"] += bc
            row["lost_value"] += bc * price
            row["lost_cost"] += bc * cost
    return {key: _rounded(row) for key, row in out.items()}


def _rounded(row: dict) -> dict:
    return {c: round(Decimal(str(v)), 2) if c in MONEY_COLUMNS else int(v) for c, v in row.items()}


def stored_rollup(engine) -> dict[tuple, dict]:
    """The rollup table, without rows that add up to nothing."""
    columns = ", ".join(FIGURE_COLUMNS)
    with read_connection(engine) as conn:
        rows = conn.execute(
            text(f"SELECT week, category, segment, root_cause, {columns} FROM backorder_rollup")
        ).all()
    out = {}
    for row in rows:
        week = row[0] if isinstance(row[0], dt.date) else dt.date.fromisoformat(row[0])
        figures = _rounded(dict(zip(FIGURE_COLUMNS, row[4:], strict=True)))
        if any(figures.values()):
            out[(week, row[1], row[2], row[3])] = figures
    return out


def random_steps(rng: random.Random, n: int) -> list[tuple]:
    steps = []
    for _ in range(n):
        kind = rng.choice(
            ["place"] * 4 + ["fulfil", "cancel_order", "cancel_line", "receive", "pick", "ship"]
        )
        if kind == "place":
            skus = rng.sample(SKUS, rng.randint(1, 3))
            lines = [(sku, rng.randint(1, 15)) for sku in skus]
            steps.append(
                (
                    "place",
                    rng.choice(TIERS),
                    lines,
                    rng.choice(CHOICES),
                    rng.choice(["normal", "urgent"]),
                )
            )
        elif kind == "fulfil":
            steps.append(("fulfil", rng.randint(0, 50), rng.randint(0, 2)))
        elif kind == "cancel_order":
            steps.append(("cancel_order", rng.randint(0, 50)))
        elif kind == "cancel_line":
            steps.append(("cancel_line", rng.randint(0, 50), rng.choice([None, 1, 3])))
        elif kind == "receive":
            steps.append(("receive", rng.choice(SKUS), rng.randint(1, 30), rng.randint(1, 30)))
        elif kind == "pick":
            steps.append(("pick", rng.randint(0, 50), rng.randint(0, 3)))
        else:
            steps.append(("ship", rng.randint(0, 50)))
    return steps


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rollup_equals_the_straight_aggregate_after_random_operations(engine, seed):
    world = build_world(engine)
    for step in random_steps(random.Random(seed), 40):
        run_step(engine, world, step)
    expected = expected_rollup(engine)
    assert sum(row["bo_lines"] for row in expected.values()) > 0, "no backorder was made"
    assert stored_rollup(engine) == expected
    with engine.begin() as conn:
        rebuild(conn)
    assert stored_rollup(engine) == expected


def test_rebuild_is_idempotent_and_the_demo_fills_the_rollup(sqlite_engine):
    Base.metadata.drop_all(sqlite_engine)
    Base.metadata.create_all(sqlite_engine)
    demo.generate(sqlite_engine, scale="tiny")
    expected = expected_rollup(sqlite_engine)
    assert stored_rollup(sqlite_engine) == expected
    with sqlite_engine.begin() as conn:
        rebuild(conn)
        rebuild(conn)
    assert stored_rollup(sqlite_engine) == expected
