"""The backorder report: who waits for what, since when, until when, and what it is worth."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Connection, Engine, Float, Select, cast, select

from data.schema import (
    Backorder,
    Customer,
    Order,
    OrderLine,
    Product,
    Supplier,
    utcnow,
)
from queries import reading

REPORT_COLUMNS = [
    "backorder_id",
    "order_number",
    "customer_id",
    "customer",
    "segment",
    "product_id",
    "sku",
    "product",
    "category",
    "supplier",
    "qty_open",
    "created",
    "age_days",
    "promised_date",
    "estimated_date",
    "late_case_date",
    "reason",
    "status",
    "value_at_risk",
]
DATE_COLUMNS = ["promised_date", "estimated_date", "late_case_date"]


def _report_select() -> Select:
    qty_open = Backorder.qty_open
    return (
        select(
            Backorder.id.label("backorder_id"),
            Order.number.label("order_number"),
            Customer.id.label("customer_id"),
            Customer.name.label("customer"),
            Customer.segment,
            Product.id.label("product_id"),
            Product.sku,
            Product.name.label("product"),
            Product.category,
            Supplier.name.label("supplier"),
            qty_open.label("qty_open"),
            Backorder.created_at.label("created"),
            Backorder.promised_date,
            Backorder.estimated_date,
            Backorder.estimated_late_date.label("late_case_date"),
            Backorder.estimate_reason.label("reason"),
            Backorder.status,
            cast(qty_open * OrderLine.unit_price, Float).label("value_at_risk"),
        )
        .join(OrderLine, OrderLine.id == Backorder.order_line_id)
        .join(Order, Order.id == OrderLine.order_id)
        .join(Customer, Customer.id == Backorder.customer_id)
        .join(Product, Product.id == Backorder.product_id)
        .join(Supplier, Supplier.id == Product.supplier_id)
    )


def _read(conn: Connection, statement: Select, now: dt.datetime) -> pd.DataFrame:
    df = pd.read_sql(statement, conn, parse_dates=["created", *DATE_COLUMNS])
    for column in DATE_COLUMNS:
        df[column] = df[column].dt.date
    df["age_days"] = (pd.Timestamp(now) - df["created"]).dt.days.astype("int64")
    df["value_at_risk"] = df["value_at_risk"].astype(float).round(2)
    return df[REPORT_COLUMNS]


def backorder_report(
    engine: Engine | Connection,
    *,
    category: str | None = None,
    supplier_id: int | None = None,
    segment: str | None = None,
    min_age_days: int | None = None,
    max_age_days: int | None = None,
    status: str | None = "open",
    now: dt.datetime | None = None,
) -> pd.DataFrame:
    """Backorders (open by default) with order, customer, product, dates, reason and value.

    Age is whole days since the backorder was created; the age filters are bounds on that.
    ``value_at_risk`` is the open quantity at the order line's price.
    """
    now = now or utcnow()
    statement = _report_select()
    if status:
        statement = statement.where(Backorder.status == status)
    if category:
        statement = statement.where(Product.category == category)
    if supplier_id is not None:
        statement = statement.where(Product.supplier_id == supplier_id)
    if segment:
        statement = statement.where(Customer.segment == segment)
    # age >= n whole days  <=>  created at or before now - n days
    if min_age_days is not None:
        statement = statement.where(Backorder.created_at <= now - dt.timedelta(days=min_age_days))
    if max_age_days is not None:
        statement = statement.where(
            Backorder.created_at > now - dt.timedelta(days=max_age_days + 1)
        )
    statement = statement.order_by(Backorder.created_at, Backorder.id)
    with reading(engine) as conn:
        return _read(conn, statement, now)


def customer_open_backorders(
    engine: Engine | Connection, customer_id: int, *, now: dt.datetime | None = None
) -> pd.DataFrame:
    """One customer's open backorders (never another customer's), oldest first."""
    now = now or utcnow()
    statement = (
        _report_select()
        .where(Backorder.customer_id == customer_id, Backorder.status == "open")
        .order_by(Backorder.created_at, Backorder.id)
    )
    with reading(engine) as conn:
        return _read(conn, statement, now)


RANKINGS = ("oldest", "value")


def open_backorders_ranked(
    engine: Engine | Connection,
    *,
    by: str,
    limit: int = 10,
    now: dt.datetime | None = None,
) -> pd.DataFrame:
    """The ``limit`` open backorders waiting longest (``oldest``) or worth most (``value``).

    The database sorts and cuts, so the answer costs the same whatever the number of backorders.
    """
    if by not in RANKINGS:
        raise ValueError(f"rank by one of {RANKINGS}, not {by!r}")
    now = now or utcnow()
    statement = _report_select().where(Backorder.status == "open")
    if by == "oldest":
        statement = statement.order_by(Backorder.created_at, Backorder.id)
    else:
        value = Backorder.qty_open * OrderLine.unit_price
        statement = statement.order_by(value.desc(), Backorder.created_at, Backorder.id)
    with reading(engine) as conn:
        return _read(conn, statement.limit(limit), now)
