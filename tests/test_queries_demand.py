"""Windows of demand read from the weekly summary equal the same windows of demand_daily.

A random daily history over five months; for windows ending on every weekday, shorter and
longer than a week, the sums over :func:`queries.demand.demand_rows` must equal the straight
sums over ``demand_daily``, per product, and the KPIs built on it must equal their direct SQL.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import Float, cast, func, insert, select

from data.db import read_connection
from data.schema import DemandDaily, Product, Stock, Supplier, Warehouse
from data.summaries import rebuild
from queries import overview
from queries.demand import demand_rows, split_window
from queries.kpis import backorder_rate, fill_rate, inventory_turnover

START = dt.date(2026, 6, 1)
HISTORY_DAYS = 150
PRODUCTS = 4


def _history(engine) -> None:
    rng = random.Random(11)
    with engine.begin() as conn:
        conn.execute(
            insert(Supplier), [{"id": 1, "code": "S1", "name": "Supplier", "lead_time_days": 5}]
        )
        conn.execute(insert(Warehouse), [{"id": 1, "code": "W1", "name": "Main"}])
        conn.execute(
            insert(Product),
            [
                {"id": p, "sku": f"SKU-{p}", "name": f"Product {p}", "category": "Dry goods",
                 "use": "test", "unit": "each", "pack_size": 1, "cost": 1.25 * p,
                 "price": 2 * p, "supplier_id": 1}
                for p in range(1, PRODUCTS + 1)
            ],
        )  # fmt: skip
        conn.execute(
            insert(Stock),
            [{"product_id": p, "warehouse_id": 1, "on_hand": 10 * p, "reserved": 0}
             for p in range(1, PRODUCTS + 1)],
        )  # fmt: skip
        rows = []
        for offset in range(HISTORY_DAYS):
            for product in range(1, PRODUCTS + 1):
                for segment in ("restaurant", "hotel"):
                    if rng.random() < 0.45:
                        continue
                    lines = rng.randint(1, 4)
                    short_lines = rng.randint(0, lines)
                    ordered = rng.randint(lines, 40)
                    rows.append(
                        {"day": START + dt.timedelta(days=offset), "product_id": product,
                         "segment": segment, "lines": lines, "lines_short": short_lines,
                         "qty_ordered": ordered,
                         "qty_short": rng.randint(0, ordered) if short_lines else 0,
                         "revenue": ordered * 2 * product}
                    )  # fmt: skip
        conn.execute(insert(DemandDaily), rows)
        rebuild(conn)


@pytest.fixture
def history(engine):
    _history(engine)
    return engine


def _windows() -> list[tuple[dt.date, int]]:
    ends = [START + dt.timedelta(days=d) for d in (60, 61, 62, 63, 64, 65, 66, 149, 170)]
    return [(end, days) for end in ends for days in (1, 3, 6, 7, 8, 13, 14, 28, 84, 140, 365)]


def test_windows_split_into_whole_weeks():
    # Wednesday 3 June .. Sunday 28 June: whole weeks from Monday 8 June to Monday 22 June.
    split = split_window(dt.date(2026, 6, 2), dt.date(2026, 6, 28))
    assert (split.first_week, split.last_week) == (dt.date(2026, 6, 8), dt.date(2026, 6, 22))
    # Tuesday to the Monday after: no whole week fits.
    split = split_window(dt.date(2026, 6, 1), dt.date(2026, 6, 8))
    assert split.first_week is None


def test_demand_rows_sum_like_the_daily_summary(history):
    columns = ("lines", "lines_short", "qty_ordered", "qty_short")
    with read_connection(history) as conn:
        for end, days in _windows():
            after = end - dt.timedelta(days=days)
            rows = demand_rows(after, end, columns).subquery()
            via_weeks = {
                r[0]: tuple(r[1:])
                for r in conn.execute(
                    select(rows.c.product_id, *(func.sum(rows.c[c]) for c in columns)).group_by(
                        rows.c.product_id
                    )
                ).all()
            }
            direct = {
                r[0]: tuple(r[1:])
                for r in conn.execute(
                    select(
                        DemandDaily.product_id,
                        *(func.sum(DemandDaily.__table__.c[c]) for c in columns),
                    )
                    .where(DemandDaily.day > after, DemandDaily.day <= end)
                    .group_by(DemandDaily.product_id)
                ).all()
            }
            assert via_weeks == direct, (end, days)
    assert any(direct.values())


def test_kpis_equal_their_direct_sql(history):
    end = START + dt.timedelta(days=149)  # a Wednesday
    with read_connection(history) as conn:
        for days in (7, 28, 90, 365):
            after = end - dt.timedelta(days=days)
            window = (DemandDaily.day > after, DemandDaily.day <= end)
            lines, short, ordered, units_short = conn.execute(
                select(
                    func.sum(DemandDaily.lines),
                    func.sum(DemandDaily.lines_short),
                    func.sum(DemandDaily.qty_ordered),
                    func.sum(DemandDaily.qty_short),
                ).where(*window)
            ).one()
            cogs = conn.execute(
                select(
                    func.sum(
                        cast(
                            (DemandDaily.qty_ordered - DemandDaily.qty_short) * Product.cost, Float
                        )
                    )
                )
                .select_from(DemandDaily)
                .join(Product, Product.id == DemandDaily.product_id)
                .where(*window)
            ).scalar_one()
            assert backorder_rate(conn, days=days, today=end).value == pytest.approx(short / lines)
            assert fill_rate(conn, days=days, today=end).value == pytest.approx(
                1 - units_short / ordered
            )
            inventory = sum(10 * p * 1.25 * p for p in range(1, PRODUCTS + 1))
            assert inventory_turnover(conn, days=days, today=end).value == pytest.approx(
                cogs / inventory
            )


@pytest.mark.parametrize("segments", [(), ("hotel",)])
def test_month_to_date_equals_the_daily_rows(history, segments):
    today = START + dt.timedelta(days=110)  # Saturday 19 September: one whole week inside
    got = overview.month_against_last_year(
        history, overview.Filters(START, today, segments=segments), today
    )
    window = [DemandDaily.day >= today.replace(day=1), DemandDaily.day <= today]
    if segments:
        window.append(DemandDaily.segment.in_(segments))
    with read_connection(history) as conn:
        lines, short, units, units_short = conn.execute(
            select(
                func.sum(DemandDaily.lines),
                func.sum(DemandDaily.lines_short),
                func.sum(DemandDaily.qty_ordered),
                func.sum(DemandDaily.qty_short),
            ).where(*window)
        ).one()
    this_month = got.iloc[0]
    assert lines > 0
    assert (this_month["lines"], this_month["bo_lines"]) == (lines, short)
    assert (this_month["units"], this_month["bo_units"]) == (units, units_short)
