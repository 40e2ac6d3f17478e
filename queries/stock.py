"""Live stock per product: on hand, reserved, available, on order, demand, cover and status."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Connection, Engine, Float, Select, case, cast, func, literal, select

from data.plans import unindexed
from data.schema import (
    OPEN_PO_STATUSES,
    Backorder,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Stock,
    Supplier,
    utcnow,
)
from data.settings import get_setting
from queries import reading
from queries.demand import demand_rows
from queries.search import clean_search

# Average daily demand is taken over this many days of the DemandDaily summary.
DEMAND_WINDOW_DAYS = 28
STOCK_STATUSES = ("backorders", "out", "low", "ok")
# Most urgent first: customers already waiting, then nothing left, then below threshold.
STATUS_RANK = {status: rank for rank, status in enumerate(STOCK_STATUSES)}
STATUS_HELP = {
    "backorders": "customers are waiting for it (open backorders)",
    "out": "nothing available to promise",
    "low": "available at or below the reorder point x the low-stock ratio setting",
    "ok": "above its threshold",
}

OVERVIEW_COLUMNS = [
    "product_id",
    "sku",
    "name",
    "category",
    "supplier_id",
    "supplier",
    "on_hand",
    "reserved",
    "available",
    "on_order",
    "backordered",
    "avg_daily_demand",
    "days_of_cover",
    "reorder_point",
    "safety_stock",
    "order_up_to",
    "status",
]


def _overview_select(ratio: float, today: dt.date) -> tuple[Select, object]:
    """The per-product stock statement and its status expression (for filtering)."""
    stock = (
        select(
            Stock.product_id,
            func.sum(Stock.on_hand).label("on_hand"),
            func.sum(Stock.reserved).label("reserved"),
        )
        .group_by(Stock.product_id)
        .subquery("stock_totals")
    )
    po_product = PurchaseOrderLine.product_id
    on_order = (
        select(
            po_product.label("product_id"),
            func.sum(PurchaseOrderLine.qty_ordered - PurchaseOrderLine.qty_received).label(
                "on_order"
            ),
        )
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
        .where(PurchaseOrder.status.in_(OPEN_PO_STATUSES))
        .group_by(po_product)
        .subquery("on_order")
    )
    bo_product = Backorder.product_id
    waiting = (
        select(
            bo_product.label("product_id"),
            func.sum(Backorder.qty_open).label("backordered"),
        )
        .where(Backorder.status == "open")
        .group_by(bo_product)
        .subquery("waiting")
    )
    window_start = today - dt.timedelta(days=DEMAND_WINDOW_DAYS)
    asked = demand_rows(window_start, today, ("qty_ordered",)).subquery("asked")
    demand = (
        select(asked.c.product_id, func.sum(asked.c.qty_ordered).label("asked"))
        .group_by(asked.c.product_id)
        .subquery("demand")
    )
    on_hand = func.coalesce(stock.c.on_hand, 0)
    reserved = func.coalesce(stock.c.reserved, 0)
    available = on_hand - reserved
    backordered = func.coalesce(waiting.c.backordered, 0)
    status = case(
        (backordered > 0, literal("backorders")),
        (available <= 0, literal("out")),
        (available <= Product.reorder_point * literal(float(ratio)), literal("low")),
        else_=literal("ok"),
    )
    statement = (
        select(
            Product.id.label("product_id"),
            Product.sku,
            Product.name,
            Product.category,
            Product.supplier_id,
            Supplier.name.label("supplier"),
            on_hand.label("on_hand"),
            reserved.label("reserved"),
            available.label("available"),
            func.coalesce(on_order.c.on_order, 0).label("on_order"),
            backordered.label("backordered"),
            (cast(func.coalesce(demand.c.asked, 0), Float) / DEMAND_WINDOW_DAYS).label(
                "avg_daily_demand"
            ),
            Product.reorder_point,
            Product.safety_stock,
            Product.order_up_to,
            status.label("status"),
        )
        .join(Supplier, Supplier.id == unindexed(Product.supplier_id))
        .outerjoin(stock, stock.c.product_id == Product.id)
        .outerjoin(on_order, on_order.c.product_id == Product.id)
        .outerjoin(waiting, waiting.c.product_id == Product.id)
        .outerjoin(demand, demand.c.product_id == Product.id)
        .where(Product.active.is_(True))
    )
    return statement, status


def _finish(df: pd.DataFrame) -> pd.DataFrame:
    """Add days of cover and sort most urgent first."""
    df = df.copy()
    demand = df["avg_daily_demand"].astype(float)
    cover = df["available"].clip(lower=0).astype(float) / demand.where(demand > 0)
    df["days_of_cover"] = cover.round(1)
    df["_rank"] = df["status"].map(STATUS_RANK)
    # Within a status: most units waiting first, then the shortest cover.
    df = df.sort_values(
        ["_rank", "backordered", "days_of_cover", "sku"],
        ascending=[True, False, True, True],
        na_position="last",
    )
    return df.drop(columns="_rank").reset_index(drop=True)[OVERVIEW_COLUMNS]


def stock_overview(
    engine: Engine | Connection,
    *,
    category: str | None = None,
    supplier_id: int | None = None,
    status: str | None = None,
    search: str | None = None,
    today: dt.date | None = None,
) -> pd.DataFrame:
    """One row per active product with its stock position and status, most urgent first.

    ``days_of_cover`` is available / average daily demand over the last 28 days (NaN when
    nobody asked for it). Status: backorders > out > low > ok (see ``STATUS_HELP``).
    """
    today = today or utcnow().date()
    with reading(engine) as conn:
        ratio = float(get_setting(conn, "low_stock_ratio"))
        statement, status_expr = _overview_select(ratio, today)
        if category:
            statement = statement.where(Product.category == category)
        if supplier_id is not None:
            statement = statement.where(Product.supplier_id == supplier_id)
        if status:
            statement = statement.where(status_expr == status)
        needle = clean_search(search)
        if needle:
            statement = statement.where(
                Product.name.icontains(needle, autoescape=True)
                | Product.sku.icontains(needle, autoescape=True)
            )
        df = pd.read_sql(statement, conn)
    return _finish(df)


def low_stock_alerts(engine: Engine | Connection, *, today: dt.date | None = None) -> pd.DataFrame:
    """Products that need attention (status backorders, out or low), most urgent first."""
    today = today or utcnow().date()
    with reading(engine) as conn:
        ratio = float(get_setting(conn, "low_stock_ratio"))
        statement, status_expr = _overview_select(ratio, today)
        df = pd.read_sql(statement.where(status_expr != "ok"), conn)
    return _finish(df)


def status_counts(engine: Engine | Connection, *, today: dt.date | None = None) -> pd.DataFrame:
    """How many active products are in each stock status (every status listed, zeros too)."""
    today = today or utcnow().date()
    with reading(engine) as conn:
        ratio = float(get_setting(conn, "low_stock_ratio"))
        statement, _ = _overview_select(ratio, today)
        inner = statement.subquery("overview")
        counts = dict(
            conn.execute(select(inner.c.status, func.count()).group_by(inner.c.status)).all()
        )
    return pd.DataFrame(
        {"status": list(STOCK_STATUSES), "products": [counts.get(s, 0) for s in STOCK_STATUSES]}
    )


def product_thresholds(engine: Engine | Connection, product_id: int) -> dict | None:
    """The current reorder point, safety stock and order-up-to level of one product."""
    with reading(engine) as conn:
        row = conn.execute(
            select(
                Product.id,
                Product.sku,
                Product.name,
                Product.reorder_point,
                Product.safety_stock,
                Product.order_up_to,
            ).where(Product.id == product_id)
        ).one_or_none()
    return None if row is None else dict(row._mapping)


def supplier_choices(engine: Engine | Connection) -> pd.DataFrame:
    """Suppliers that supply at least one active product (id, name), by name."""
    statement = (
        select(Supplier.id, Supplier.name)
        .where(
            Supplier.id.in_(
                select(Product.supplier_id).where(Product.active.is_(True)).scalar_subquery()
            )
        )
        .order_by(Supplier.name)
    )
    with reading(engine) as conn:
        return pd.read_sql(statement, conn)


def refresh_seconds(engine: Engine | Connection) -> int:
    """How often live pages refresh themselves (the ``refresh_seconds`` setting)."""
    with reading(engine) as conn:
        return int(get_setting(conn, "refresh_seconds"))
