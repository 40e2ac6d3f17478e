"""Live stock per product: on hand, reserved, available, on order, demand, cover and status."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import Connection, Engine, Float, Select, case, cast, func, literal, null, select

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
    df["_cover"] = cover
    # Within a status: most units waiting first, then the shortest cover (unrounded, as
    # stock_page sorts in the database).
    df = df.sort_values(
        ["_rank", "backordered", "_cover", "sku"],
        ascending=[True, False, True, True],
        na_position="last",
    )
    return df.drop(columns=["_rank", "_cover"]).reset_index(drop=True)[OVERVIEW_COLUMNS]


def _filtered_select(
    ratio: float,
    today: dt.date,
    category: str | None,
    supplier_id: int | None,
    status: str | None,
    search: str | None,
) -> Select:
    """The per-product statement narrowed by the filters every stock view offers."""
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
    return statement


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
        statement = _filtered_select(ratio, today, category, supplier_id, status, search)
        df = pd.read_sql(statement, conn)
    return _finish(df)


# --- One page of the stock table -------------------------------------------------------------

# The columns the stock table may be sorted by (a whitelist: nothing else reaches ORDER BY).
STOCK_SORTS = {
    "urgency": "Most urgent first",
    "sku": "SKU",
    "name": "Product",
    "available": "Available",
    "backordered": "Backordered",
    "days_of_cover": "Days of cover",
    "on_hand": "On hand",
    "on_order": "On order",
    "avg_daily_demand": "Demand/day",
    "reorder_point": "Reorder point",
    "category": "Category",
    "supplier": "Supplier",
}
PAGE_ROWS = 50
MAX_PAGE_ROWS = 500


@dataclass(frozen=True)
class StockPage:
    """Rows ``offset`` .. ``offset + len(rows)`` of a filtered, sorted stock table of ``total``."""

    rows: pd.DataFrame
    total: int
    offset: int
    # How many of the ``total`` rows are in each status (every status, zeros too).
    status_counts: dict[str, int] = field(default_factory=dict)


def stock_page(
    engine: Engine | Connection,
    *,
    category: str | None = None,
    supplier_id: int | None = None,
    status: str | None = None,
    search: str | None = None,
    sort: str = "urgency",
    descending: bool = False,
    limit: int = PAGE_ROWS,
    offset: int = 0,
    today: dt.date | None = None,
) -> StockPage:
    """One page of :func:`stock_overview`: filtered, sorted and cut in the database.

    ``sort`` is a key of ``STOCK_SORTS``; "urgency" is the overview's own order (status, then
    most units waiting, then shortest cover), other columns sort with blanks last and the SKU
    breaking ties. ``total`` counts every row the filters match; an offset past the end gives
    the last page (``offset`` of the result says which rows these are).
    """
    if sort not in STOCK_SORTS:
        raise ValueError(f"Unknown sort column {sort!r}; choose one of {', '.join(STOCK_SORTS)}")
    limit = max(1, min(int(limit), MAX_PAGE_ROWS))
    offset = max(0, int(offset))
    today = today or utcnow().date()
    with reading(engine) as conn:
        ratio = float(get_setting(conn, "low_stock_ratio"))
        inner = _filtered_select(ratio, today, category, supplier_id, status, search).subquery(
            "stock_rows"
        )
        demand = inner.c.avg_daily_demand
        in_stock = case((inner.c.available > 0, inner.c.available), else_=0)
        cover = case((demand > 0, in_stock / demand), else_=null())
        if sort == "urgency":
            rank = case(STATUS_RANK, value=inner.c.status, else_=len(STATUS_RANK))
            order = [
                rank.desc() if descending else rank,
                inner.c.backordered if descending else inner.c.backordered.desc(),
                (cover.desc() if descending else cover).nulls_last(),
            ]
        else:
            column = cover if sort == "days_of_cover" else inner.c[sort]
            order = [(column.desc() if descending else column.asc()).nulls_last()]
        # The status counts ride along as window sums: the same pass, no second statement.
        per_status = [
            func.sum(case((inner.c.status == s, 1), else_=0)).over().label(f"_n_{s}")
            for s in STOCK_STATUSES
        ]
        statement = select(
            inner, cover.label("days_of_cover"), func.count().over().label("_total"), *per_status
        ).order_by(*order, inner.c.sku)
        df = pd.read_sql(statement.limit(limit).offset(offset), conn)
        if df.empty:
            total = int(conn.execute(select(func.count()).select_from(inner)).scalar_one())
            if total and offset:  # past the end (the rows changed): the last page instead
                offset = (total - 1) // limit * limit
                df = pd.read_sql(statement.limit(limit).offset(offset), conn)
        else:
            total = int(df["_total"].iloc[0])
    counts = {s: int(df[f"_n_{s}"].iloc[0]) if not df.empty else 0 for s in STOCK_STATUSES}
    df["days_of_cover"] = pd.to_numeric(df["days_of_cover"], errors="coerce").round(1)
    return StockPage(
        rows=df[OVERVIEW_COLUMNS].reset_index(drop=True),
        total=total,
        offset=offset,
        status_counts=counts,
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
