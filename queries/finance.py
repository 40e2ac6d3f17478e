"""Backorder cost for finance: the cost ledger, lost sales and margin, revenue at risk, cash.

Sales, cost of goods and lost sales come from the backorder rollup (by the week the order was
placed); the ledger's costs from its weekly summary ``backorder_cost_weekly`` (by the week each
cost was booked). Both are grouped by period and category here, so one table shows a period's
sales beside what its backorders cost. The ledger itself is read one page at a time (its total
from the weekly summary); every entry only for an export.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, Engine, Float, cast, func, select

from data.schema import (
    OPEN_PO_STATUSES,
    Backorder,
    BackorderCost,
    BackorderCostWeekly,
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
LEDGER_ROWS = 50  # ledger entries per page

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


def _ledger_select(f: Filters):
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
    return statement


def _labelled(df: pd.DataFrame) -> pd.DataFrame:
    df["kind"] = df["kind"].map(COST_KIND_LABELS).fillna(df["kind"])
    return df[LEDGER_COLUMNS]


def cost_ledger(engine: Engine | Connection, f: Filters) -> pd.DataFrame:
    """Every ledger entry booked in the weeks (for an export): date, kind, amount, order, customer,
    category, oldest first."""
    with reading(engine) as conn:
        df = pd.read_sql(_ledger_select(f), conn, parse_dates=["date"])
    return _labelled(df)


@dataclass(frozen=True)
class LedgerPage:
    rows: pd.DataFrame  # LEDGER_COLUMNS
    total: int  # entries the filters match
    offset: int  # position of the first row among them


def cost_ledger_page(
    engine: Engine | Connection, f: Filters, *, limit: int = LEDGER_ROWS, offset: int = 0
) -> LedgerPage:
    """One page of :func:`cost_ledger` (cut in the database); an offset past the end gives the
    last page. The total is summed from the weekly summary."""
    limit, offset = max(1, int(limit)), max(0, int(offset))
    with reading(engine) as conn:
        total = int(
            conn.execute(
                _weekly_costs(select(func.coalesce(func.sum(BackorderCostWeekly.entries), 0)), f)
            ).scalar_one()
        )
        if total and offset >= total:
            offset = (total - 1) // limit * limit
        df = pd.read_sql(_ledger_select(f).limit(limit).offset(offset), conn, parse_dates=["date"])
    return LedgerPage(rows=_labelled(df).reset_index(drop=True), total=total, offset=offset)


def _weekly_costs(statement, f: Filters):
    w = BackorderCostWeekly
    statement = statement.where(w.week >= f.first_week, w.week <= f.last_week)
    if f.categories:
        statement = statement.where(w.category.in_(f.categories))
    if f.segments:
        statement = statement.where(w.segment.in_(f.segments))
    return statement


def costs_by_week(engine: Engine | Connection, f: Filters) -> pd.DataFrame:
    """Ledger totals per week (Monday), kind and category, from the weekly summary."""
    w = BackorderCostWeekly
    statement = _weekly_costs(
        select(
            w.week,
            w.kind,
            w.category,
            cast(func.sum(w.amount), Float).label("amount"),
            func.sum(w.entries).label("entries"),
        ),
        f,
    ).group_by(w.week, w.kind, w.category)
    with reading(engine) as conn:
        df = pd.read_sql(statement, conn, parse_dates=["week"])
    return df[df["entries"] != 0].reset_index(drop=True)


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
    costs = costs_by_week(engine, f)
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
    """Cash in open purchase orders (at cost) against cash waiting in open backorders (at the
    line price and at cost), and how many backorders are open."""
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
        count, waiting, waiting_cost = conn.execute(
            select(
                func.count(Backorder.id),
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
        "open_backorder_count": int(count),
    }
