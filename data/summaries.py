"""Summaries the pages read instead of the order lines, and their rebuild from scratch.

The write side keeps ``backorder_rollup`` up to date line by line, ``backorder_closures`` beside
it, ``backorder_cost_weekly`` beside the cost ledger, ``delivery_weekly`` as shipments are
delivered and ``demand_weekly`` beside ``demand_daily`` (operations/rollup.py); this module holds
what both sides share (keys, figures, the week a day belongs to, the days-waiting buckets) and
the straight aggregates that :func:`rebuild` writes, one statement per summary: the rollup from
the order lines, the closures from the backorders, the weekly costs from the ledger, the
deliveries from the shipments, the weekly demand from the daily one. The demo generator fills
them all with it; ``python -m data rebuild-summaries`` runs it on demand.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, Date, and_, case, cast, delete, func, insert, select

from data.plans import unindexed
from data.schema import (
    NO_BACKORDER,
    Backorder,
    BackorderClosure,
    BackorderCost,
    BackorderCostWeekly,
    BackorderRollup,
    Customer,
    DeliveryWeekly,
    DemandDaily,
    DemandWeekly,
    Order,
    OrderLine,
    Product,
    Shipment,
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
COST_KEY_COLUMNS = ("week", "kind", "category", "segment")
COST_FIGURE_COLUMNS = ("amount", "entries")
CLOSURE_KEY_COLUMNS = ("segment", "bucket")
CLOSURE_FIGURE_COLUMNS = ("closed", "cancelled")
# Days-waiting buckets of a closed backorder, lower bounds in days: 0-7, 8-14, 15-30, 31+.
WAIT_BUCKETS = (0, 8, 15, 31)
# Cancelled at once because the customer takes only what is in stock: it never waited.
CANCEL_SHORT = "cancel_short"


def week_of(moment: dt.datetime | dt.date) -> dt.date:
    """The Monday of the week ``moment`` falls in."""
    day = moment.date() if isinstance(moment, dt.datetime) else moment
    return day - dt.timedelta(days=day.weekday())


def report_week(today: dt.date) -> dt.date:
    """The Monday of the last week finished before ``today`` (the weekly report's week)."""
    return week_of(today) - dt.timedelta(days=7)


def week_start(conn: Connection, column):
    """SQL for the Monday of the week of a timestamp or date column, on SQLite and PostgreSQL."""
    if conn.dialect.name == "postgresql":
        return cast(func.date_trunc("week", column), Date)
    # weekday 0 moves to the next Sunday (or stays on one); six days back is that week's Monday.
    return func.date(column, "weekday 0", "-6 days")


def wait_bucket(created_at: dt.datetime, closed_at: dt.datetime) -> int:
    """Index into ``WAIT_BUCKETS`` of a backorder closed ``closed_at`` after ``created_at``."""
    found = 0
    for i, days in enumerate(WAIT_BUCKETS):
        if closed_at >= created_at + dt.timedelta(days=days):
            found = i
    return found


def counts_as_closed(backorder: Backorder) -> bool:
    """Whether a backorder belongs in ``backorder_closures``: closed after waiting."""
    return (
        backorder.status in ("filled", "cancelled")
        and backorder.closed_at is not None
        and not (backorder.cancel_reason or "").startswith(CANCEL_SHORT)
    )


def _days_later(conn: Connection, column, days: int):
    """SQL for ``column`` plus a whole number of days (exact, on SQLite and PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        return column + func.make_interval(0, 0, 0, days)
    return func.julianday(column, f"+{days} days")


def _moment(conn: Connection, column):
    return column if conn.dialect.name == "postgresql" else func.julianday(column)


def closure_aggregate(conn: Connection):
    """``backorder_closures``' rows computed from every backorder (what the write side keeps up)."""
    closed_at = _moment(conn, Backorder.closed_at)
    bucket = case(
        *[
            (closed_at >= _days_later(conn, Backorder.created_at, days), i)
            for i, days in reversed(list(enumerate(WAIT_BUCKETS)))
            if days > 0
        ],
        else_=0,
    )
    return (
        select(
            Customer.segment.label("segment"),
            bucket.label("bucket"),
            func.count().label("closed"),
            func.sum(case((Backorder.status == "cancelled", 1), else_=0)).label("cancelled"),
        )
        # One pass over the backorders, each customer looked up by its key: with statistics
        # SQLite may drive the join from customers through the backorders' customer index.
        .select_from(Backorder)
        .join(Customer, Customer.id == unindexed(Backorder.customer_id))
        .where(
            and_(
                # Most backorders are closed: one pass over them, not the status index.
                unindexed(Backorder.status).in_(("filled", "cancelled")),
                Backorder.closed_at.is_not(None),
                func.coalesce(Backorder.cancel_reason, "").not_like(f"{CANCEL_SHORT}%"),
            )
        )
        .group_by(Customer.segment, bucket)
    )


def cost_aggregate(conn: Connection):
    """``backorder_cost_weekly``'s rows computed from every ledger entry."""
    week = week_start(conn, BackorderCost.at)
    return (
        select(
            week.label("week"),
            BackorderCost.kind.label("kind"),
            Product.category.label("category"),
            Customer.segment.label("segment"),
            func.sum(BackorderCost.amount).label("amount"),
            func.count().label("entries"),
        )
        # One pass over the ledger, each backorder looked up by its key (data/plans.py).
        .select_from(BackorderCost)
        .join(Backorder, Backorder.id == unindexed(BackorderCost.backorder_id))
        .join(Product, Product.id == Backorder.product_id)
        .join(Customer, Customer.id == Backorder.customer_id)
        .group_by(week, BackorderCost.kind, Product.category, Customer.segment)
    )


def delivered_on_time(delivered_at: dt.datetime, promised: dt.date) -> bool:
    """A delivery counts on time on or before the day promised."""
    return delivered_at.date() <= promised


def delivery_aggregate(conn: Connection):
    """``delivery_weekly``'s rows computed from every delivered outbound shipment."""
    week = week_start(conn, Shipment.delivered_at)
    on_time = case((func.date(Shipment.delivered_at) <= Shipment.promised_date, 1), else_=0)
    return (
        select(
            week.label("week"),
            func.count().label("delivered"),
            func.sum(on_time).label("on_time"),
        )
        .where(
            Shipment.direction == "outbound",
            Shipment.delivered_at.is_not(None),
            Shipment.promised_date.is_not(None),
        )
        .group_by(week)
    )


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
    conn.execute(delete(BackorderClosure))
    conn.execute(
        insert(BackorderClosure).from_select(
            [*CLOSURE_KEY_COLUMNS, *CLOSURE_FIGURE_COLUMNS],
            closure_aggregate(conn).subquery().select(),
        )
    )
    conn.execute(delete(BackorderCostWeekly))
    conn.execute(
        insert(BackorderCostWeekly).from_select(
            [*COST_KEY_COLUMNS, *COST_FIGURE_COLUMNS], cost_aggregate(conn).subquery().select()
        )
    )
    conn.execute(delete(DeliveryWeekly))
    conn.execute(
        insert(DeliveryWeekly).from_select(
            ["week", "delivered", "on_time"], delivery_aggregate(conn).subquery().select()
        )
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
        for table in (
            BackorderRollup,
            BackorderClosure,
            BackorderCostWeekly,
            DeliveryWeekly,
            DemandWeekly,
        )
    }
