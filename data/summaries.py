"""Summaries the pages read instead of the order lines, and their rebuild from scratch.

The write side keeps ``backorder_rollup`` up to date line by line and ``demand_weekly`` beside
``demand_daily`` (operations/rollup.py); this module holds what both sides share (keys, figures,
the week a day belongs to) and the straight aggregates that :func:`rebuild` writes, one
statement per summary: the rollup from the order lines, the weekly demand from the daily one.
The demo generator fills both with it; ``python -m data rebuild-summaries`` runs it on demand.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, Date, case, cast, delete, func, insert, select

from data.plans import unindexed
from data.schema import (
    NO_BACKORDER,
    Backorder,
    BackorderRollup,
    Customer,
    DemandDaily,
    DemandWeekly,
    Order,
    OrderLine,
    Product,
)

KEY_COLUMNS = ("week", "category", "segment", "root_cause")
FIGURE_COLUMNS = (
    "lines",
    "units",
    "value",
    "cost",
    "bo_lines",
    "bo_units",
    "bo_value",
    "bo_filled_units",
    "lost_units",
    "lost_value",
    "lost_cost",
    "cancelled_units",
    "cancelled_value",
    "cancelled_cost",
)
WEEKLY_KEY_COLUMNS = ("week", "product_id")
WEEKLY_FIGURE_COLUMNS = ("lines", "lines_short", "qty_ordered", "qty_short", "revenue")
# A backorder without a recorded cause (older data) counts as unknown.
UNRECORDED_CAUSE = "unknown"


def week_of(moment: dt.datetime | dt.date) -> dt.date:
    """The Monday of the week ``moment`` falls in."""
    day = moment.date() if isinstance(moment, dt.datetime) else moment
    return day - dt.timedelta(days=day.weekday())


def week_start(conn: Connection, column):
    """SQL for the Monday of the week of a timestamp or date column, on SQLite and PostgreSQL."""
    if conn.dialect.name == "postgresql":
        return cast(func.date_trunc("week", column), Date)
    # weekday 0 moves to the next Sunday (or stays on one); six days back is that week's Monday.
    return func.date(column, "weekday 0", "-6 days")


def straight_aggregate(conn: Connection):
    """The rollup's rows computed from every order line (what the write side keeps up)."""
    price = OrderLine.unit_price
    has_bo = Backorder.id.is_not(None) & (Backorder.qty > 0)
    cause = case(
        (has_bo, func.coalesce(Backorder.root_cause, UNRECORDED_CAUSE)), else_=NO_BACKORDER
    )
    bo_qty = func.coalesce(Backorder.qty, 0)
    lost = func.coalesce(Backorder.qty_cancelled, 0)
    week = week_start(conn, Order.placed_at)
    return (
        select(
            week.label("week"),
            Product.category.label("category"),
            Customer.segment.label("segment"),
            cause.label("root_cause"),
            func.count().label("lines"),
            func.sum(OrderLine.qty_ordered).label("units"),
            func.sum(OrderLine.qty_ordered * price).label("value"),
            func.sum(OrderLine.qty_ordered * Product.cost).label("cost"),
            func.sum(case((has_bo, 1), else_=0)).label("bo_lines"),
            func.sum(bo_qty).label("bo_units"),
            func.sum(bo_qty * price).label("bo_value"),
            func.sum(func.coalesce(Backorder.qty_filled, 0)).label("bo_filled_units"),
            func.sum(lost).label("lost_units"),
            func.sum(lost * price).label("lost_value"),
            func.sum(lost * Product.cost).label("lost_cost"),
            func.sum(OrderLine.qty_cancelled).label("cancelled_units"),
            func.sum(OrderLine.qty_cancelled * price).label("cancelled_value"),
            func.sum(OrderLine.qty_cancelled * Product.cost).label("cancelled_cost"),
        )
        # One pass over the order lines, every other table looked up by its key: with
        # statistics SQLite would rather drive the join from customers through two indexes,
        # several times slower (data/plans.py).
        .select_from(OrderLine)
        .join(Order, Order.id == unindexed(OrderLine.order_id))
        .join(Customer, Customer.id == unindexed(Order.customer_id))
        .join(Product, Product.id == unindexed(OrderLine.product_id))
        .outerjoin(Backorder, Backorder.order_line_id == OrderLine.id)
        .group_by(week, Product.category, Customer.segment, cause)
    )


def weekly_demand_aggregate(conn: Connection):
    """``demand_weekly``'s rows computed from ``demand_daily`` (what the write side keeps up)."""
    week = week_start(conn, DemandDaily.day)
    return select(
        week.label("week"),
        DemandDaily.product_id,
        *(func.sum(DemandDaily.__table__.c[c]).label(c) for c in WEEKLY_FIGURE_COLUMNS),
    ).group_by(week, DemandDaily.product_id)


def rebuild(conn: Connection) -> dict[str, int]:
    """Recompute every summary from its source (idempotent); returns each one's row count."""
    conn.execute(delete(BackorderRollup))
    columns = [*KEY_COLUMNS, *FIGURE_COLUMNS]
    conn.execute(
        insert(BackorderRollup).from_select(columns, straight_aggregate(conn).subquery().select())
    )
    conn.execute(delete(DemandWeekly))
    conn.execute(
        insert(DemandWeekly).from_select(
            [*WEEKLY_KEY_COLUMNS, *WEEKLY_FIGURE_COLUMNS],
            weekly_demand_aggregate(conn).subquery().select(),
        )
    )
    return {
        table.__tablename__: conn.execute(select(func.count()).select_from(table)).scalar_one()
        for table in (BackorderRollup, DemandWeekly)
    }
