"""Backorder cost for finance: the cost ledger, lost sales and margin, revenue at risk, cash.

Sales, cost of goods and lost sales come from the backorder rollup (by the week the order was
placed); the cost ledger is read by the day each cost was booked. Both are grouped by period
and category here, so one table shows a period's sales beside what its backorders cost.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Connection, Engine, Float, cast, func, select

from data.schema import (
    OPEN_PO_STATUSES,
    Backorder,
    BackorderCost,
    BackorderRollup,
    Customer,
    Order,
    OrderLine,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
)
from queries import reading
from queries.overview import Filters, _where, period_label, period_start

COST_KIND_LABELS = {
    "handling": "Handling",
    "split_freight": "Split freight",
    "expedite": "Expediting",
    "credit": "Credits and discounts",
}
LEDGER_COLUMNS = [
    "date",
    "kind",
    "amount",
    "order_number",
    "customer",
    "category",
    "sku",
    "backorder_id",
    "note",
]

SALES_HELP = (
    "Value ordered less every cancelled unit, at the order lines' prices, for orders placed in "
    "the weeks shown."
)
MARGIN_HELP = (
    "Sales less their cost of goods (product cost when ordered). 'After backorder cost' also "
    "takes off the ledger's costs booked in the same weeks."
)
LOST_HELP = (
    "Backordered units that ended cancelled (the customer gave up or takes only what is in "
    "stock), at the line price; lost margin is that less their cost of goods."
)
POTENTIAL_HELP = "Sales plus the lost sales: the revenue had no backorder been lost."
CASH_HELP = (
    "Open purchase orders: units still to arrive x unit cost (cash committed to suppliers). "
    "Open backorders: units still waiting x line price (sales not yet invoiceable)."
)


def _ledger_window(f: Filters) -> tuple[dt.datetime, dt.datetime]:
    return (
        dt.datetime.combine(f.first_week, dt.time()),
        dt.datetime.combine(f.last_week + dt.timedelta(days=7), dt.time()),
    )


def cost_ledger(engine: Engine | Connection, f: Filters) -> pd.DataFrame:
    """One row per ledger entry booked in the weeks: date, kind, amount, order, customer, category."""
    start, end = _ledger_window(f)
    statement = (
        select(
            BackorderCost.at.label("date"),
            BackorderCost.kind,
            cast(BackorderCost.amount, Float).label("amount"),
            Order.number.label("order_number"),
            Customer.name.label("customer"),
            Product.category,
            Product.sku,
            Backorder.id.label("backorder_id"),
            BackorderCost.note,
        )
        .join(Backorder, Backorder.id == BackorderCost.backorder_id)
        .join(OrderLine, OrderLine.id == Backorder.order_line_id)
        .join(Order, Order.id == OrderLine.order_id)
        .join(Customer, Customer.id == Order.customer_id)
        .join(Product, Product.id == Backorder.product_id)
        .where(BackorderCost.at >= start, BackorderCost.at < end)
        .order_by(BackorderCost.at, BackorderCost.id)
    )
    if f.categories:
        statement = statement.where(Product.category.in_(f.categories))
    if f.segments:
        statement = statement.where(Customer.segment.in_(f.segments))
    with reading(engine) as conn:
        df = pd.read_sql(statement, conn, parse_dates=["date"])
    df["kind"] = df["kind"].map(COST_KIND_LABELS).fillna(df["kind"])
    return df[LEDGER_COLUMNS]


def costs_by_day(engine: Engine | Connection, f: Filters) -> pd.DataFrame:
    """Ledger totals per day, kind and category (the database sums)."""
    start, end = _ledger_window(f)
    day = func.date(BackorderCost.at)
    statement = (
        select(
            day.label("day"),
            BackorderCost.kind,
            Product.category,
            cast(func.sum(BackorderCost.amount), Float).label("amount"),
            func.count().label("entries"),
        )
        .join(Backorder, Backorder.id == BackorderCost.backorder_id)
        .join(Product, Product.id == Backorder.product_id)
        .where(BackorderCost.at >= start, BackorderCost.at < end)
        .group_by(day, BackorderCost.kind, Product.category)
    )
    if f.categories:
        statement = statement.where(Product.category.in_(f.categories))
    if f.segments:
        statement = statement.join(Customer, Customer.id == Backorder.customer_id).where(
            Customer.segment.in_(f.segments)
        )
    with reading(engine) as conn:
        df = pd.read_sql(statement, conn, parse_dates=["day"])
    df["week"] = df["day"] - pd.to_timedelta(df["day"].dt.day_of_week, unit="D")
    return df


def sales_by_week(engine: Engine | Connection, f: Filters) -> pd.DataFrame:
    """Sales, cost of goods and lost sales per week and category, from the rollup."""
    r = BackorderRollup
    money = {
        name: cast(func.sum(column), Float).label(name)
        for name, column in (
            ("value", r.value),
            ("cost", r.cost),
            ("cancelled_value", r.cancelled_value),
            ("cancelled_cost", r.cancelled_cost),
            ("lost_value", r.lost_value),
            ("lost_cost", r.lost_cost),
        )
    }
    statement = _where(
        select(r.week, r.category, *money.values(), func.sum(r.lost_units).label("lost_units")),
        f,
    ).group_by(r.week, r.category)
    with reading(engine) as conn:
        return pd.read_sql(statement, conn, parse_dates=["week"])


def cost_summary(engine: Engine | Connection, f: Filters, *, period: str = "month") -> pd.DataFrame:
    """Per period and category: sales, margin with and without backorder cost, lost sales."""
    sales = sales_by_week(engine, f)
    costs = costs_by_day(engine, f)
    keys = ["period_start", "category"]
    if not sales.empty:
        sales["period_start"] = period_start(sales["week"], period)
        sales = sales.groupby(keys, as_index=False)[
            ["value", "cost", "cancelled_value", "cancelled_cost", "lost_value", "lost_cost"]
        ].sum()
    else:
        sales = pd.DataFrame(columns=[*keys, "value", "cost", "cancelled_value",
                                      "cancelled_cost", "lost_value", "lost_cost"])  # fmt: skip
    if not costs.empty:
        costs["period_start"] = period_start(costs["week"], period)
        by_kind = costs.pivot_table(
            index=keys, columns="kind", values="amount", aggfunc="sum", fill_value=0.0
        ).reset_index()
    else:
        by_kind = pd.DataFrame(columns=keys)
    for kind in COST_KIND_LABELS:
        if kind not in by_kind:
            by_kind[kind] = 0.0
    table = sales.merge(by_kind[[*keys, *COST_KIND_LABELS]], on=keys, how="outer")
    table = table.fillna(0.0)
    table["sales"] = table["value"] - table["cancelled_value"]
    table["gross_margin"] = table["sales"] - (table["cost"] - table["cancelled_cost"])
    table["backorder_cost"] = table[list(COST_KIND_LABELS)].sum(axis=1)
    table["margin_after_cost"] = table["gross_margin"] - table["backorder_cost"]
    table["lost_sales"] = table["lost_value"]
    table["lost_margin"] = table["lost_value"] - table["lost_cost"]
    table["potential_revenue"] = table["sales"] + table["lost_sales"]
    table["cost_share_of_sales"] = table["backorder_cost"] / table["sales"].where(
        table["sales"] > 0
    )
    table["period_start"] = pd.to_datetime(table["period_start"])
    table["period"] = period_label(table["period_start"], period)
    return table.sort_values(keys).reset_index(drop=True)


def cash_tied(engine: Engine | Connection) -> dict[str, float]:
    """Cash in open purchase orders (at cost) against cash waiting in open backorders."""
    outstanding = PurchaseOrderLine.qty_ordered - PurchaseOrderLine.qty_received
    open_qty = Backorder.qty_open
    with reading(engine) as conn:
        in_pos = conn.execute(
            select(
                cast(func.coalesce(func.sum(outstanding * PurchaseOrderLine.unit_cost), 0), Float)
            )
            .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
            .where(PurchaseOrder.status.in_(OPEN_PO_STATUSES))
        ).scalar_one()
        waiting, waiting_cost = conn.execute(
            select(
                cast(func.coalesce(func.sum(open_qty * OrderLine.unit_price), 0), Float),
                cast(func.coalesce(func.sum(open_qty * Product.cost), 0), Float),
            )
            .select_from(Backorder)
            .join(OrderLine, OrderLine.id == Backorder.order_line_id)
            .join(Product, Product.id == Backorder.product_id)
            .where(Backorder.status == "open")
        ).one()
    return {
        "open_purchase_orders": float(in_pos),
        "open_backorders": float(waiting),
        "open_backorders_at_cost": float(waiting_cost),
    }
