"""Every figure of the Backorder cost page against direct SQL over a hand-made history."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
from sqlalchemy import DateTime, bindparam, text

from data.db import read_connection
from queries import finance as fin
from queries import overview as ov
from tests.analytics_world import TODAY, build_analytics_world

WINDOW = ov.Filters(TODAY - dt.timedelta(days=60), TODAY)


def _window() -> dict:
    return {
        "start": dt.datetime.combine(WINDOW.first_week, dt.time()),
        "end": dt.datetime.combine(WINDOW.last_week + dt.timedelta(days=7), dt.time()),
    }


def _params(statement):
    return statement.bindparams(
        bindparam("start", type_=DateTime), bindparam("end", type_=DateTime)
    )


@pytest.fixture
def aworld(engine):
    build_analytics_world(engine)
    return engine


def test_the_ledger_has_one_row_per_entry_with_order_customer_and_category(aworld):
    got = fin.cost_ledger(aworld, WINDOW)
    with read_connection(aworld) as conn:
        expected = conn.execute(
            _params(
                text(
                    """
                    SELECT k.kind, k.amount, o.number, c.name, p.category
                    FROM backorder_costs k
                    JOIN backorders b ON b.id = k.backorder_id
                    JOIN order_lines l ON l.id = b.order_line_id
                    JOIN orders o ON o.id = l.order_id
                    JOIN customers c ON c.id = o.customer_id
                    JOIN products p ON p.id = b.product_id
                    WHERE k.at >= :start AND k.at < :end
                    ORDER BY k.at, k.id
                    """
                )
            ),
            _window(),
        ).all()
    assert len(got) == len(expected) > 3
    assert [(fin.COST_KIND_LABELS[k], float(a), n, c, cat) for k, a, n, c, cat in expected] == list(
        got[["kind", "amount", "order_number", "customer", "category"]].itertuples(
            index=False, name=None
        )
    )
    assert {"Handling", "Expediting", "Credits and discounts"} <= set(got["kind"])
    assert list(got.columns) == fin.LEDGER_COLUMNS
    # A page of it: the same entries and columns, cut in the database.
    page = fin.cost_ledger_page(aworld, WINDOW, limit=3, offset=1)
    assert list(page.rows.columns) == fin.LEDGER_COLUMNS
    assert page.rows.equals(got.iloc[1:4].reset_index(drop=True))
    assert page.total == len(got)


def test_sales_margin_lost_sales_and_costs_per_category(aworld):
    got = (
        fin.cost_summary(aworld, WINDOW, period="quarter")
        .groupby("category")
        .sum(numeric_only=True)
    )
    with read_connection(aworld) as conn:
        sales = conn.execute(
            _params(
                text(
                    """
                    SELECT p.category,
                           SUM((l.qty_ordered - l.qty_cancelled) * l.unit_price),
                           SUM((l.qty_ordered - l.qty_cancelled) * p.cost),
                           SUM(COALESCE(b.qty_cancelled, 0) * l.unit_price),
                           SUM(COALESCE(b.qty_cancelled, 0) * p.cost)
                    FROM order_lines l
                    JOIN orders o ON o.id = l.order_id
                    JOIN products p ON p.id = l.product_id
                    LEFT JOIN backorders b ON b.order_line_id = l.id
                    WHERE o.placed_at >= :start AND o.placed_at < :end
                    GROUP BY p.category
                    """
                )
            ),
            _window(),
        ).all()
        costs = conn.execute(
            _params(
                text(
                    """
                    SELECT p.category, k.kind, SUM(k.amount)
                    FROM backorder_costs k
                    JOIN backorders b ON b.id = k.backorder_id
                    JOIN products p ON p.id = b.product_id
                    WHERE k.at >= :start AND k.at < :end
                    GROUP BY p.category, k.kind
                    """
                )
            ),
            _window(),
        ).all()
    cost_of = defaultdict(float)
    for category, kind, amount in costs:
        cost_of[(category, kind)] = float(amount)
    assert set(got.index) == {row[0] for row in sales}
    for category, value, cogs, lost, lost_cost in sales:
        row = got.loc[category]
        assert row["sales"] == pytest.approx(float(value))
        assert row["gross_margin"] == pytest.approx(float(value) - float(cogs))
        assert row["lost_sales"] == pytest.approx(float(lost))
        assert row["lost_margin"] == pytest.approx(float(lost) - float(lost_cost))
        assert row["potential_revenue"] == pytest.approx(float(value) + float(lost))
        booked = sum(cost_of[(category, kind)] for kind in fin.COST_KIND_LABELS)
        assert row["backorder_cost"] == pytest.approx(booked)
        assert row["margin_after_cost"] == pytest.approx(float(value) - float(cogs) - booked)
        for kind in fin.COST_KIND_LABELS:
            assert row[kind] == pytest.approx(cost_of[(category, kind)])
    assert got["lost_sales"].sum() > 0


def test_cost_share_of_sales_per_period(aworld):
    got = fin.cost_summary(aworld, WINDOW, period="month")
    for row in got.itertuples():
        if row.sales:
            assert row.cost_share_of_sales == pytest.approx(row.backorder_cost / row.sales)
    assert got["period"].nunique() >= 2


def test_cash_in_open_purchase_orders_and_in_open_backorders(aworld):
    got = fin.cash_tied(aworld)
    with read_connection(aworld) as conn:
        in_pos = conn.execute(
            text(
                "SELECT SUM((pl.qty_ordered - pl.qty_received) * pl.unit_cost) "
                "FROM purchase_order_lines pl JOIN purchase_orders po ON po.id = pl.po_id "
                "WHERE po.status IN ('approved', 'sent', 'partially_received')"
            )
        ).scalar_one()
        waiting = conn.execute(
            text(
                "SELECT SUM((b.qty - b.qty_filled - b.qty_cancelled) * l.unit_price) "
                "FROM backorders b JOIN order_lines l ON l.id = b.order_line_id "
                "WHERE b.status = 'open'"
            )
        ).scalar_one()
    assert got["open_purchase_orders"] == pytest.approx(float(in_pos)) and in_pos == 40
    assert got["open_backorders"] == pytest.approx(float(waiting)) and waiting > 0


@pytest.mark.parametrize("period", ["week", "month", "quarter"])
def test_the_summary_of_weeks_read_apart_is_the_summary_of_them_read_at_once(aworld, period):
    # The page keeps the finished weeks' sums and goes on from them with this week's rows.
    whole = fin.cost_summary(aworld, WINDOW, period=period)
    week = WINDOW.last_week - dt.timedelta(weeks=2)
    before = ov.Filters(WINDOW.start, week - dt.timedelta(days=1))
    after = ov.Filters(week, WINDOW.end)
    sums = fin.cost_sums(fin.sales_rows(aworld, before), fin.cost_rows(aworld, before), period)
    rows = (fin.sales_rows(aworld, after), fin.cost_rows(aworld, after))
    assert rows[0] and rows[1], "the later weeks have sales and costs"
    apart = fin.cost_table(fin.cost_sums(*rows, period, into=sums), period)
    assert len(whole) > 0
    assert apart.equals(whole)
