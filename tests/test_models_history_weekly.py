"""Weekly demand for the models comes from ``demand_weekly`` when it agrees with the daily rows.

Two products over three weeks (2025-03-03 is a Monday). The daily rows are summed here by hand;
the weekly summary is written to agree with them, then put out of step, and the history read
must follow the summary only while its total matches the daily rows'.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
from sqlalchemy import insert, update

from data.db import write_session
from data.schema import DemandDaily, DemandWeekly, Product, Supplier
from models.demand import _row_quantile_and_max
from models.history import demand_history

MONDAY = dt.date(2025, 3, 3)


def _world(engine) -> tuple[int, int]:
    with write_session(engine) as s:
        supplier = Supplier(code="S", name="S", lead_time_days=7)
        s.add(supplier)
        s.flush()
        a, b = (
            Product(
                sku=sku,
                name=sku,
                category=category,
                use="x",
                unit="each",
                cost=Decimal("1"),
                price=Decimal("2"),
                supplier_id=supplier.id,
            )
            for sku, category in (("A", "Dry goods"), ("B", "Dairy"))
        )
        s.add_all([a, b])
        s.flush()
        daily = [
            (MONDAY, a.id, "Hotel", 4),
            (MONDAY + dt.timedelta(days=6), a.id, "Cafe", 3),  # Sunday of week 1
            (MONDAY + dt.timedelta(days=7), a.id, "Hotel", 5),  # Monday of week 2
            (MONDAY + dt.timedelta(days=9), b.id, "Hotel", 2),
            (MONDAY + dt.timedelta(days=16), a.id, "Hotel", 1),  # Wednesday of week 3
            (MONDAY + dt.timedelta(days=20), b.id, "Cafe", 6),  # Sunday of week 3
        ]
        s.execute(
            insert(DemandDaily),
            [
                {"day": d, "product_id": p, "segment": seg, "qty_ordered": q, "lines": 1}
                for d, p, seg, q in daily
            ],
        )
        weekly = [(0, a.id, 7), (1, a.id, 5), (1, b.id, 2), (2, a.id, 1), (2, b.id, 6)]
        s.execute(
            insert(DemandWeekly),
            [
                {"week": MONDAY + dt.timedelta(weeks=w), "product_id": p, "qty_ordered": q}
                for w, p, q in weekly
            ],
        )
        return a.id, b.id


def _rows(frame) -> list[tuple]:
    return [(int(i), d.date(), float(q)) for i, d, q in frame.itertuples(index=False)]


def test_the_weekly_summary_gives_the_daily_rows_summed_by_monday(engine):
    a, b = _world(engine)
    history, categories = demand_history(engine, "W")
    week = [MONDAY + dt.timedelta(weeks=w) for w in range(3)]
    assert _rows(history) == [
        (a, week[0], 7.0),
        (a, week[1], 5.0),
        (a, week[2], 1.0),
        (b, week[1], 2.0),
        (b, week[2], 6.0),
    ]
    assert categories.to_dict() == {a: "Dry goods", b: "Dairy"}


def test_the_summary_is_read_while_its_total_matches_and_left_when_it_does_not(engine):
    a, b = _world(engine)
    week = [MONDAY + dt.timedelta(weeks=w) for w in range(3)]
    # The same total moved between weeks: the summary is what is read.
    with write_session(engine) as s:
        s.execute(
            update(DemandWeekly)
            .where(DemandWeekly.product_id == a, DemandWeekly.week == week[0])
            .values(qty_ordered=6)
        )
        s.execute(
            update(DemandWeekly)
            .where(DemandWeekly.product_id == a, DemandWeekly.week == week[1])
            .values(qty_ordered=6)
        )
    history, _ = demand_history(engine, "W")
    assert _rows(history)[:2] == [(a, week[0], 6.0), (a, week[1], 6.0)]
    # A summary behind the daily rows (its total differs): the daily rows are summed instead.
    with write_session(engine) as s:
        s.execute(
            update(DemandWeekly)
            .where(DemandWeekly.product_id == b, DemandWeekly.week == week[2])
            .values(qty_ordered=1)
        )
    history, _ = demand_history(engine, "W")
    assert _rows(history) == [
        (a, week[0], 7.0),
        (a, week[1], 5.0),
        (a, week[2], 1.0),
        (b, week[1], 2.0),
        (b, week[2], 6.0),
    ]


def test_without_a_summary_the_daily_rows_are_summed(engine):
    a, b = _world(engine)
    with write_session(engine) as s:
        s.execute(DemandWeekly.__table__.delete())
    history, _ = demand_history(engine, "W")
    assert [q for _, _, q in _rows(history)] == [7.0, 5.0, 1.0, 2.0, 6.0]


def test_row_quantiles_equal_numpys_nanquantile_row_by_row():
    """The residual quantiles of the backtest's simple methods: one sort for the whole panel
    gives what np.nanquantile gives for each row on its own."""
    nan = np.nan
    block = np.array(
        [
            [3.0, nan, 1.0, 2.0, 10.0],
            [nan, nan, nan, 4.0, nan],
            [0.0, 0.0, 0.0, 0.0, 5.0],
            [-2.0, 7.0, nan, -1.0, 0.5],
        ]
    )
    for q in (0.1, 0.5, 0.9):
        expected = [np.nanquantile(row, q) for row in block]
        got, peak = _row_quantile_and_max(block, q)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(peak, [10.0, 4.0, 5.0, 7.0])
    # Row 0 sorted is 1, 2, 3, 10: the P90 lies 0.7 of the way from 3 to 10.
    assert abs(_row_quantile_and_max(block, 0.9)[0][0] - 7.9) < 1e-12
