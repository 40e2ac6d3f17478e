"""Histories the models learn from, read from Larder's database with the sums done in SQL.

Demand is *unconstrained*: ``DemandDaily.qty_ordered`` counts what customers asked for,
including what was backordered or cancelled for lack of stock, so a stock-out does not teach
the forecast that nobody wants the product.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Date, Engine, cast, func, select

from data.db import read_connection
from data.schema import (
    Carrier,
    Customer,
    DemandDaily,
    DemandWeekly,
    Order,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    Shipment,
    ShipmentLine,
    Supplier,
)


def plain_rows(result) -> list[tuple]:
    """Result rows as the driver's own tuples, to build a frame from.

    SQLAlchemy's rows cost a Python object each, and pandas probes every one for named-tuple
    attributes (each probe a failed key lookup): on the large demo's millions of rows that was
    most of the read. The driver's tuples skip SQLAlchemy's processing of the values, so dates
    and times come as the driver gives them (text on SQLite): parse them with pandas
    (``format="ISO8601"``).
    """
    rows = result.cursor.fetchall() if result.cursor is not None else []
    result.close()
    return rows


def _period(engine: Engine, freq: str):
    """SQL expression of the period start (day, Monday of the week, first of the month)."""
    day = DemandDaily.day
    if freq == "D":
        return day
    if engine.dialect.name == "sqlite":
        if freq == "W":
            # The Monday on or before the day: step back six days, then forward to a Monday.
            return func.date(day, "-6 days", "weekday 1")
        return func.date(day, "start of month")
    unit = {"W": "week", "M": "month"}[freq]
    return cast(func.date_trunc(unit, day), Date)


def last_complete_day(last_day: dt.date, freq: str) -> dt.date:
    """The last day of the last period that ``last_day`` completes (itself when it ends one)."""
    if freq == "D":
        return last_day
    if freq == "W":
        return last_day - dt.timedelta(days=(last_day.weekday() + 1) % 7)
    next_day = last_day + dt.timedelta(days=1)
    return last_day if next_day.day == 1 else last_day.replace(day=1) - dt.timedelta(days=1)


def demand_history(
    engine: Engine, freq: str = "W", since: dt.date | None = None, complete_only: bool = True
) -> tuple[pd.DataFrame, pd.Series]:
    """Ordered quantity per product and period (item, date, qty) and each product's category.

    With ``complete_only`` a period still running on the last recorded day (a week of two
    days) is left out: it would read as a collapse in demand.
    """
    if freq not in ("D", "W", "M"):
        raise ValueError(f"freq must be D, W or M, got {freq!r}")
    until = None
    if complete_only:
        with read_connection(engine) as conn:
            last_day = conn.execute(select(func.max(DemandDaily.day))).scalar_one()
        if last_day is not None:
            last_day = pd.Timestamp(last_day).date()
            until = last_complete_day(last_day, freq)
    if freq == "W" and (since is None or since.weekday() == 0):
        weekly = _weekly_demand(engine, since, until)
        if weekly is not None:
            return weekly
    # The period is computed in a subquery and grouped by name: grouping by the expression
    # itself would repeat its bound parameters, which PostgreSQL does not see as the same.
    per_day = select(
        DemandDaily.product_id,
        _period(engine, freq).label("period"),
        DemandDaily.qty_ordered,
    )
    if since is not None:
        per_day = per_day.where(DemandDaily.day >= since)
    if until is not None:
        per_day = per_day.where(DemandDaily.day <= until)
    rows_in = per_day.subquery()
    query = (
        select(rows_in.c.product_id, rows_in.c.period, func.sum(rows_in.c.qty_ordered))
        .group_by(rows_in.c.product_id, rows_in.c.period)
        .order_by(rows_in.c.product_id, rows_in.c.period)
    )
    with read_connection(engine) as conn:
        rows = plain_rows(conn.execute(query))
        categories = dict(conn.execute(select(Product.id, Product.category)).all())
    frame = pd.DataFrame(rows, columns=["item", "date", "qty"])
    frame["date"] = pd.to_datetime(frame["date"], format="ISO8601")
    frame["qty"] = frame["qty"].astype(float)
    return frame, pd.Series(categories, name="category")


def _weekly_demand(
    engine: Engine, since: dt.date | None, until: dt.date | None
) -> tuple[pd.DataFrame, pd.Series] | None:
    """Weekly demand read from the ``demand_weekly`` summary, or None where it cannot stand in.

    The summary holds ``demand_daily`` per Monday-to-Sunday week and product, a seventh of the
    rows or fewer. It is used only when its total over the weeks asked for equals the daily
    rows' total over the same days (a database whose summary was never built, or is behind,
    is read from the daily rows as before). ``since`` must be a Monday and ``until`` a Sunday.
    """
    daily_total = select(func.coalesce(func.sum(DemandDaily.qty_ordered), 0))
    weekly_total = select(func.coalesce(func.sum(DemandWeekly.qty_ordered), 0))
    weekly = select(DemandWeekly.product_id, DemandWeekly.week, DemandWeekly.qty_ordered)
    if since is not None:
        daily_total = daily_total.where(DemandDaily.day >= since)
        weekly_total = weekly_total.where(DemandWeekly.week >= since)
        weekly = weekly.where(DemandWeekly.week >= since)
    if until is not None:
        last_week = until - dt.timedelta(days=6)
        daily_total = daily_total.where(DemandDaily.day <= until)
        weekly_total = weekly_total.where(DemandWeekly.week <= last_week)
        weekly = weekly.where(DemandWeekly.week <= last_week)
    with read_connection(engine) as conn:
        total = conn.execute(daily_total).scalar_one()
        if total == 0 or conn.execute(weekly_total).scalar_one() != total:
            return None
        rows = plain_rows(conn.execute(weekly.order_by(DemandWeekly.product_id, DemandWeekly.week)))
        categories = dict(conn.execute(select(Product.id, Product.category)).all())
    frame = pd.DataFrame(rows, columns=["item", "date", "qty"])
    frame["date"] = pd.to_datetime(frame["date"], format="ISO8601")
    frame["qty"] = frame["qty"].astype(float)
    return frame, pd.Series(categories, name="category")


def lead_time_history(engine: Engine) -> pd.DataFrame:
    """Per received PO line: supplier, category, qty, sent, first receipt, expected date, days.

    ``quoted_days`` is the lead time the supplier gave when the PO was sent (its first expected
    date less the sent day).
    """
    first_receipt = func.min(Receipt.received_at).label("received_at")
    query = (
        select(
            PurchaseOrder.id.label("po_id"),
            PurchaseOrder.supplier_id,
            Supplier.name.label("supplier"),
            Product.category,
            PurchaseOrderLine.qty_ordered.label("qty"),
            PurchaseOrder.sent_at,
            func.coalesce(PurchaseOrder.original_expected_date, PurchaseOrder.expected_date).label(
                "expected_date"
            ),
            first_receipt,
        )
        .join(PurchaseOrderLine, PurchaseOrderLine.po_id == PurchaseOrder.id)
        .join(Receipt, Receipt.po_line_id == PurchaseOrderLine.id)
        .join(Product, Product.id == PurchaseOrderLine.product_id)
        .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
        .where(PurchaseOrder.sent_at.is_not(None))
        .group_by(
            PurchaseOrderLine.id,
            PurchaseOrder.id,
            PurchaseOrder.supplier_id,
            Supplier.name,
            Product.category,
            PurchaseOrderLine.qty_ordered,
            PurchaseOrder.sent_at,
            PurchaseOrder.original_expected_date,
            PurchaseOrder.expected_date,
        )
    )
    with read_connection(engine) as conn:
        frame = pd.DataFrame(
            plain_rows(conn.execute(query)), columns=list(query.selected_columns.keys())
        )
    for col in ("sent_at", "received_at", "expected_date"):
        frame[col] = pd.to_datetime(frame[col], format="ISO8601")
    frame["days"] = (frame["received_at"] - frame["sent_at"]).dt.total_seconds() / 86400
    # How late against the date the supplier gave when the PO was sent (negative = early).
    frame["delay_days"] = (
        frame["received_at"].dt.normalize() - frame["expected_date"]
    ).dt.days.astype(float)
    frame["quoted_days"] = (
        frame["expected_date"] - frame["sent_at"].dt.normalize()
    ).dt.days.astype(float)
    frame["qty"] = frame["qty"].astype(float)
    return frame[frame["days"] >= 0].reset_index(drop=True)


def transit_history(engine: Engine) -> pd.DataFrame:
    """Per delivered outbound shipment: carrier, region, units, shipped, delivered, promised, days.

    ``quoted_days`` is the time promised at shipping (promised date less the shipped day).
    """
    region = func.coalesce(Shipment.region, Customer.region).label("region")
    units = (
        select(func.coalesce(func.sum(ShipmentLine.qty), 0))
        .where(ShipmentLine.shipment_id == Shipment.id)
        .scalar_subquery()
        .label("qty")
    )
    query = (
        select(
            Shipment.id.label("shipment_id"),
            Shipment.carrier_id,
            Carrier.name.label("carrier"),
            region,
            units,
            Shipment.shipped_at,
            Shipment.delivered_at,
            Shipment.promised_date,
        )
        .join(Carrier, Carrier.id == Shipment.carrier_id)
        .outerjoin(Order, Order.id == Shipment.order_id)
        .outerjoin(Customer, Customer.id == Order.customer_id)
        .where(
            Shipment.direction == "outbound",
            Shipment.shipped_at.is_not(None),
            Shipment.delivered_at.is_not(None),
        )
    )
    with read_connection(engine) as conn:
        frame = pd.DataFrame(
            plain_rows(conn.execute(query)), columns=list(query.selected_columns.keys())
        )
    for col in ("shipped_at", "delivered_at", "promised_date"):
        frame[col] = pd.to_datetime(frame[col], format="ISO8601")
    frame["region"] = frame["region"].fillna("(unknown)")
    frame["qty"] = frame["qty"].astype(float)
    frame["quoted_days"] = (
        frame["promised_date"] - frame["shipped_at"].dt.normalize()
    ).dt.days.astype(float)
    frame["days"] = (frame["delivered_at"] - frame["shipped_at"]).dt.total_seconds() / 86400
    return frame[frame["days"] >= 0].reset_index(drop=True)
