"""A customer's own orders. Every query is filtered by the customer: never another's order."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, Engine, Float, case, cast, func, select

from data.schema import Backorder, Customer, Order, OrderLine, Product
from queries import reading

ORDER_COLUMNS = [
    "order_id",
    "order",
    "placed",
    "status",
    "priority",
    "lines",
    "backordered_lines",
    "next_estimate",
    "value",
]
LINE_COLUMNS = [
    "line_no",
    "sku",
    "product",
    "qty_ordered",
    "qty_allocated",
    "qty_backordered",
    "qty_cancelled",
    "qty_shipped",
    "unit_price",
    "estimated_date",
    "late_case_date",
    "reason",
    "substitute_for",
]


def customer_orders(
    engine: Engine | Connection, customer_id: int, *, limit: int = 100
) -> pd.DataFrame:
    """The customer's orders, newest first: status, line counts and the next expected date."""
    lines = (
        select(
            OrderLine.order_id,
            func.count().label("lines"),
            func.sum(case((OrderLine.qty_backordered > 0, 1), else_=0)).label("backordered_lines"),
            func.sum(cast(OrderLine.qty_ordered * OrderLine.unit_price, Float)).label("value"),
        )
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.customer_id == customer_id)
        .group_by(OrderLine.order_id)
        .subquery("line_totals")
    )
    waiting = (
        select(
            OrderLine.order_id,
            func.min(Backorder.estimated_date).label("next_estimate"),
        )
        .join(OrderLine, OrderLine.id == Backorder.order_line_id)
        .where(Backorder.customer_id == customer_id, Backorder.status == "open")
        .group_by(OrderLine.order_id)
        .subquery("waiting")
    )
    statement = (
        select(
            Order.id.label("order_id"),
            Order.number.label("order"),
            Order.placed_at.label("placed"),
            Order.status,
            Order.priority,
            func.coalesce(lines.c.lines, 0).label("lines"),
            func.coalesce(lines.c.backordered_lines, 0).label("backordered_lines"),
            waiting.c.next_estimate,
            func.coalesce(lines.c.value, 0.0).label("value"),
        )
        .outerjoin(lines, lines.c.order_id == Order.id)
        .outerjoin(waiting, waiting.c.order_id == Order.id)
        .where(Order.customer_id == customer_id)
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(limit)
    )
    with reading(engine) as conn:
        df = pd.read_sql(statement, conn, parse_dates=["placed", "next_estimate"])
    df["next_estimate"] = df["next_estimate"].dt.date
    return df[ORDER_COLUMNS]


def order_lines(engine: Engine | Connection, customer_id: int, order_id: int) -> pd.DataFrame:
    """The lines of one order of this customer; empty when the order is someone else's."""
    original = Product.__table__.alias("original")
    statement = (
        select(
            OrderLine.line_no,
            Product.sku,
            Product.name.label("product"),
            OrderLine.qty_ordered,
            OrderLine.qty_allocated,
            OrderLine.qty_backordered,
            OrderLine.qty_cancelled,
            OrderLine.qty_shipped,
            cast(OrderLine.unit_price, Float).label("unit_price"),
            Backorder.estimated_date,
            Backorder.estimated_late_date.label("late_case_date"),
            Backorder.estimate_reason.label("reason"),
            original.c.sku.label("substitute_for"),
        )
        .join(Order, Order.id == OrderLine.order_id)
        .join(Product, Product.id == OrderLine.product_id)
        .outerjoin(
            Backorder, (Backorder.order_line_id == OrderLine.id) & (Backorder.status == "open")
        )
        .outerjoin(original, original.c.id == OrderLine.substitute_for_id)
        .where(Order.id == order_id, Order.customer_id == customer_id)
        .order_by(OrderLine.line_no)
    )
    with reading(engine) as conn:
        df = pd.read_sql(statement, conn, parse_dates=["estimated_date", "late_case_date"])
    for column in ("estimated_date", "late_case_date"):
        df[column] = df[column].dt.date
    return df[LINE_COLUMNS]


def customer_profile(engine: Engine | Connection, customer_id: int) -> dict | None:
    """The customer's name, code, segment, tier and backorder preference (None if unknown)."""
    with reading(engine) as conn:
        row = conn.execute(
            select(
                Customer.id,
                Customer.code,
                Customer.name,
                Customer.segment,
                Customer.tier,
                Customer.backorder_preference,
            ).where(Customer.id == customer_id)
        ).one_or_none()
    return None if row is None else dict(row._mapping)
