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

import numpy as np
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
from queries import read_frame, reading
from queries.overview import Filters, _where, as_day, label_of, period_of

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
    """The ledger's rows (selected in LEDGER_COLUMNS' order) with each kind's label."""
    labels = [COST_KIND_LABELS.get(kind, kind) for kind in df["kind"]]
    df["kind"] = pd.Series(labels, index=df.index, dtype="str")
    return df


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
        df = read_frame(conn, _ledger_select(f).limit(limit).offset(offset), dates=["date"])
    return LedgerPage(rows=_labelled(df), total=total, offset=offset)


def _weekly_costs(statement, f: Filters):
    w = BackorderCostWeekly
    statement = statement.where(w.week >= f.first_week, w.week <= f.last_week)
    if f.categories:
        statement = statement.where(w.category.in_(f.categories))
    if f.segments:
        statement = statement.where(w.segment.in_(f.segments))
    return statement


def _costs_select(f: Filters):
    w = BackorderCostWeekly
    return _weekly_costs(
        select(
            w.week,
            w.kind,
            w.category,
            cast(func.sum(w.amount), Float).label("amount"),
            func.sum(w.entries).label("entries"),
        ),
        f,
    ).group_by(w.week, w.kind, w.category)


def costs_by_week(engine: Engine | Connection, f: Filters) -> pd.DataFrame:
    """Ledger totals per week (Monday), kind and category, from the weekly summary."""
    with reading(engine) as conn:
        df = pd.read_sql(_costs_select(f), conn, parse_dates=["week"])
    return df[df["entries"] != 0].reset_index(drop=True)


SALES_FIGURES = ("value", "cost", "cancelled_value", "cancelled_cost", "lost_value", "lost_cost")


def _sales_select(f: Filters, *, lost_units: bool = True):
    r = BackorderRollup
    money = [cast(func.sum(getattr(r, name)), Float).label(name) for name in SALES_FIGURES]
    units = [func.sum(r.lost_units).label("lost_units")] if lost_units else []
    return _where(select(r.week, r.category, *money, *units), f).group_by(r.week, r.category)


def sales_by_week(engine: Engine | Connection, f: Filters) -> pd.DataFrame:
    """Sales, cost of goods and lost sales per week and category, from the rollup."""
    with reading(engine) as conn:
        return pd.read_sql(_sales_select(f), conn, parse_dates=["week"])


# --- Cost per period and category ----------------------------------------------------------
# The database sums per week; the weeks are added up per period here, from plain rows, so the
# finished weeks (read and summed once) and this week (read again after each order) can be read
# apart: this week's rows go on from the finished weeks' running sums (cost_sums ``into``), which
# gives what one pass over every week's rows gives.

SalesRows = tuple[tuple, ...]  # (week, category, *SALES_FIGURES), in week order
CostRows = tuple[tuple, ...]  # (week, kind, category, amount), in week order


def sales_rows(engine: Engine | Connection, f: Filters) -> SalesRows:
    """:func:`sales_by_week` as plain rows, oldest week first."""
    r = BackorderRollup
    statement = _sales_select(f, lost_units=False).order_by(r.week, r.category)
    with reading(engine) as conn:
        rows = conn.execute(statement).all()
    return tuple((as_day(row[0]), *row[1:]) for row in rows)


def cost_rows(engine: Engine | Connection, f: Filters) -> CostRows:
    """:func:`costs_by_week` as plain rows (weeks with entries), oldest week first."""
    w = BackorderCostWeekly
    statement = _costs_select(f).order_by(w.week, w.kind, w.category)
    with reading(engine) as conn:
        rows = conn.execute(statement).all()
    return tuple(
        (as_day(wk), kind, category, amount) for wk, kind, category, amount, n in rows if n
    )


SUMMARY_COLUMNS = [
    "period_start",
    "category",
    *SALES_FIGURES,
    *COST_KIND_LABELS,
    "sales",
    "gross_margin",
    "backorder_cost",
    "margin_after_cost",
    "lost_sales",
    "lost_margin",
    "potential_revenue",
    "cost_share_of_sales",
    "period",
]


CostSums = dict[tuple[dt.date, str], list[float]]  # (period start, category) -> running sums


def cost_sums(
    sales: SalesRows, costs: CostRows, period: str = "month", into: CostSums | None = None
) -> CostSums:
    """The figures of :func:`sales_rows` and :func:`cost_rows` summed per period and category.

    Each figure is summed over the weeks as pandas' group sums do, with a running correction
    kept beside it, so the sums are exactly those pandas gives. ``into`` holds the sums of
    earlier weeks (say the finished ones) to go on from: it is added to in place, and the
    result is the same as one pass over all the weeks' rows.
    """
    n_sales = len(SALES_FIGURES)
    kinds = {kind: 2 * (n_sales + i) for i, kind in enumerate(COST_KIND_LABELS)}
    width = 2 * (n_sales + len(kinds))
    sums: CostSums = {} if into is None else into
    starts: dict[dt.date, dt.date] = {}

    def slot(week: dt.date, category: str) -> list:
        start = starts.get(week)
        if start is None:
            start = starts[week] = period_of(week, period)
        into = sums.get((start, category))
        if into is None:
            into = sums[(start, category)] = [0.0] * width
        return into

    for week, category, *figures in sales:
        into = slot(week, category)
        for at, x in zip(range(0, 2 * n_sales, 2), figures, strict=True):
            if x is not None:
                total = into[at]
                y = x - into[at + 1]
                t = total + y
                into[at + 1] = t - total - y
                into[at] = t
    for week, kind, category, x in costs:
        into = slot(week, category)
        at = kinds.get(kind)
        if at is not None and x is not None:
            total = into[at]
            y = x - into[at + 1]
            t = total + y
            into[at + 1] = t - total - y
            into[at] = t
    return sums


def cost_table(sums: CostSums, period: str = "month") -> pd.DataFrame:
    """Per period and category, from :func:`cost_sums`: sales, margin with and without
    backorder cost, lost sales."""
    width = len(SALES_FIGURES) + len(COST_KIND_LABELS)
    keys = sorted(sums)
    figures = np.array([sums[key][::2] for key in keys], dtype="float64").reshape(len(keys), width)
    table = {
        "period_start": np.array([start for start, _ in keys], dtype="datetime64[us]"),
        "category": [category for _, category in keys],
    }
    for i, name in enumerate([*SALES_FIGURES, *COST_KIND_LABELS]):
        table[name] = figures[:, i]
    sold = table["value"] - table["cancelled_value"]
    margin = sold - (table["cost"] - table["cancelled_cost"])
    booked = np.zeros(len(keys))
    for kind in COST_KIND_LABELS:
        booked = booked + table[kind]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(sold > 0, booked / sold, np.nan)
    table.update(
        sales=sold,
        gross_margin=margin,
        backorder_cost=booked,
        margin_after_cost=margin - booked,
        lost_sales=table["lost_value"].copy(),
        lost_margin=table["lost_value"] - table["lost_cost"],
        potential_revenue=sold + table["lost_value"],
        cost_share_of_sales=share,
        period=[label_of(start, period) for start, _ in keys],
    )
    return pd.DataFrame(table, columns=SUMMARY_COLUMNS)


def cost_summary_from(sales: SalesRows, costs: CostRows, period: str = "month") -> pd.DataFrame:
    """Per period and category, from :func:`sales_rows` and :func:`cost_rows` of the weeks:
    sales, margin with and without backorder cost, lost sales."""
    return cost_table(cost_sums(sales, costs, period), period)


def cost_summary(engine: Engine | Connection, f: Filters, *, period: str = "month") -> pd.DataFrame:
    """Per period and category: sales, margin with and without backorder cost, lost sales."""
    return cost_summary_from(sales_rows(engine, f), cost_rows(engine, f), period)


def cash_in_purchase_orders(engine: Engine | Connection) -> float:
    """Cash committed to suppliers: units still to arrive on open purchase orders x unit cost."""
    outstanding = PurchaseOrderLine.qty_ordered - PurchaseOrderLine.qty_received
    statement = (
        select(cast(func.coalesce(func.sum(outstanding * PurchaseOrderLine.unit_cost), 0), Float))
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
        .where(PurchaseOrder.status.in_(OPEN_PO_STATUSES))
    )
    with reading(engine) as conn:
        return float(conn.execute(statement).scalar_one())


def cash_in_backorders(engine: Engine | Connection) -> dict[str, float]:
    """Cash waiting in open backorders (at the line price and at cost), and how many are open."""
    open_qty = Backorder.qty_open
    statement = (
        select(
            func.count(Backorder.id),
            cast(func.coalesce(func.sum(open_qty * OrderLine.unit_price), 0), Float),
            cast(func.coalesce(func.sum(open_qty * Product.cost), 0), Float),
        )
        .select_from(Backorder)
        .join(OrderLine, OrderLine.id == Backorder.order_line_id)
        .join(Product, Product.id == Backorder.product_id)
        .where(Backorder.status == "open")
    )
    with reading(engine) as conn:
        count, waiting, waiting_cost = conn.execute(statement).one()
    return {
        "open_backorders": float(waiting),
        "open_backorders_at_cost": float(waiting_cost),
        "open_backorder_count": int(count),
    }


def cash_tied(engine: Engine | Connection) -> dict[str, float]:
    """Cash in open purchase orders (at cost) against cash waiting in open backorders (at the
    line price and at cost), and how many backorders are open."""
    with reading(engine) as conn:
        return {"open_purchase_orders": cash_in_purchase_orders(conn), **cash_in_backorders(conn)}
