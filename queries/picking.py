"""The pick queue: open pick tasks in priority order, picked goods waiting to be packed, pick KPIs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, Engine, and_, case, func, select

from data.plans import unindexed
from data.schema import (
    Backorder,
    Bin,
    Customer,
    Order,
    OrderLine,
    PickTask,
    Product,
    Stock,
    utcnow,
)
from models.pick_route import (
    Location,
    bin_code_route,
    floor_layout,
    solve_route,
    unique_locations,
    walking_path,
)
from queries import reading

# The queue shows this many tasks at most (the most urgent); nobody walks further ahead.
QUEUE_LIMIT = 500
FULFILMENT_WINDOW_DAYS = 30
ACCURACY_WINDOW_DAYS = 30
# Statuses of a task the operator has confirmed at the bin (short ones included).
CONFIRMED_STATUSES = ("picked", "packed", "shipped", "short")

QUEUE_COLUMNS = [
    "task_id",
    "order_number",
    "customer",
    "sku",
    "product",
    "qty",
    "bin_code",
    "zone",
    "aisle",
    "bay",
    "level",
    "x",
    "y",
    "priority",
    "backorder_status",
    "promised_date",
    "available",
    "fills_backorder",
    "urgent",
    "warehouse_id",
]

LINES_PICKED_HELP = (
    "Pick tasks confirmed at the bin today (UTC) with at least one unit found; a short pick "
    "that found some units counts, one that found none does not."
)
FULFILMENT_HELP = (
    "Median time from an order being placed to its last pick task being packed, over orders "
    "whose goods were last packed in the last {days} days (backorder waits included)."
)
ACCURACY_HELP = (
    "Share of picks confirmed in the last {days} days that found the full quantity (no short "
    "pick). A scan of the wrong bin or SKU is refused before anything is booked, so a wrong "
    "pick never reaches an order."
)


def _promised():
    """The date the line is due: the backorder's promise, else the date the customer asked for."""
    return func.coalesce(Backorder.promised_date, PickTask.due_date)


def _queue_select(warehouse_id: int | None) -> select:
    open_backorder = Backorder.qty_open
    promised = _promised()
    statement = (
        select(
            PickTask.id.label("task_id"),
            PickTask.warehouse_id,
            Order.number.label("order_number"),
            Customer.name.label("customer"),
            Product.sku,
            Product.name.label("product"),
            PickTask.qty,
            Bin.code.label("bin_code"),
            Bin.zone,
            Bin.aisle,
            Bin.bay,
            Bin.level,
            Bin.x,
            Bin.y,
            PickTask.fills_backorder,
            PickTask.urgent,
            promised.label("promised_date"),
            case((Backorder.status == "open", open_backorder), else_=0).label("still_waiting"),
            (func.coalesce(Stock.on_hand, 0) - func.coalesce(Stock.reserved, 0)).label("available"),
        )
        .select_from(PickTask)
        .join(OrderLine, OrderLine.id == PickTask.order_line_id)
        .join(Order, Order.id == OrderLine.order_id)
        .join(Customer, Customer.id == Order.customer_id)
        .join(Product, Product.id == PickTask.product_id)
        .outerjoin(Bin, Bin.id == PickTask.bin_id)
        .outerjoin(Backorder, Backorder.order_line_id == OrderLine.id)
        .outerjoin(
            Stock,
            and_(
                Stock.product_id == PickTask.product_id, Stock.warehouse_id == PickTask.warehouse_id
            ),
        )
        .where(PickTask.status == "open")
        .order_by(
            PickTask.fills_backorder.desc(),
            PickTask.urgent.desc(),
            case((promised.is_(None), 1), else_=0),
            promised,
            PickTask.created_at,
            PickTask.id,
        )
    )
    if warehouse_id is not None:
        statement = statement.where(PickTask.warehouse_id == warehouse_id)
    return statement


def _backorder_status(row) -> str:
    if row.still_waiting > 0:
        return f"Line short: {int(row.still_waiting)} more on backorder"
    if row.fills_backorder:
        return "Fills a backorder"
    return "From stock"


def _priority(row) -> str:
    if row.fills_backorder and row.urgent:
        return "Backorder, urgent"
    if row.fills_backorder:
        return "Backorder"
    if row.urgent:
        return "Urgent"
    return "Normal"


def open_pick_tasks(
    engine: Engine | Connection,
    *,
    zone: str | None = None,
    search: str | None = None,
    warehouse_id: int | None = None,
    limit: int = QUEUE_LIMIT,
) -> pd.DataFrame:
    """Open pick tasks, most urgent first: backorder fills, then urgent customers, then due date.

    Each row carries its bin (code, aisle, bay, level, floor position), the order and customer,
    the quantity, whether the line still waits on a backorder, and the live available quantity
    (on hand - reserved) of the product.
    """
    statement = _queue_select(warehouse_id)
    if zone:
        statement = statement.where(Bin.zone == zone)
    if search and search.strip():
        needle = search.strip()
        statement = statement.where(
            Product.sku.icontains(needle, autoescape=True)
            | Product.name.icontains(needle, autoescape=True)
            | Order.number.icontains(needle, autoescape=True)
            | Customer.name.icontains(needle, autoescape=True)
            | Bin.code.icontains(needle, autoescape=True)
        )
    with reading(engine) as conn:
        df = pd.read_sql(statement.limit(limit), conn, parse_dates=["promised_date"])
    if df.empty:
        return pd.DataFrame(columns=QUEUE_COLUMNS)
    df["fills_backorder"] = df["fills_backorder"].astype(bool)
    df["urgent"] = df["urgent"].astype(bool)
    df["priority"] = [_priority(r) for r in df.itertuples(index=False)]
    df["backorder_status"] = [_backorder_status(r) for r in df.itertuples(index=False)]
    df["promised_date"] = df["promised_date"].dt.date
    return df[QUEUE_COLUMNS]


def tasks_to_pack(engine: Engine | Connection, *, limit: int = QUEUE_LIMIT) -> pd.DataFrame:
    """Picked tasks waiting to be packed, oldest pick first."""
    statement = (
        select(
            PickTask.id.label("task_id"),
            Order.number.label("order_number"),
            Customer.name.label("customer"),
            Product.sku,
            Product.name.label("product"),
            PickTask.qty_picked,
            PickTask.picked_at,
        )
        .select_from(PickTask)
        .join(OrderLine, OrderLine.id == PickTask.order_line_id)
        .join(Order, Order.id == OrderLine.order_id)
        .join(Customer, Customer.id == Order.customer_id)
        .join(Product, Product.id == PickTask.product_id)
        .where(PickTask.status == "picked")
        .order_by(PickTask.picked_at, PickTask.id)
        .limit(limit)
    )
    with reading(engine) as conn:
        return pd.read_sql(statement, conn, parse_dates=["picked_at"])


def pick_zones(engine: Engine | Connection) -> list[str]:
    """Zones that hold open pick tasks, for the filter."""
    with reading(engine) as conn:
        return list(
            conn.execute(
                select(Bin.zone)
                .join(PickTask, PickTask.bin_id == Bin.id)
                .where(PickTask.status == "open")
                .distinct()
                .order_by(Bin.zone)
            ).scalars()
        )


@dataclass(frozen=True)
class PickKpis:
    lines_picked_today: int
    fulfilment_hours: float | None  # median; None when no order was packed in the window
    fulfilment_orders: int
    accuracy: float | None  # None when nothing was picked in the window
    picks_counted: int
    fulfilment_days: int = FULFILMENT_WINDOW_DAYS
    accuracy_days: int = ACCURACY_WINDOW_DAYS


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def lines_picked_today(engine: Engine | Connection, *, today: dt.date | None = None) -> int:
    today = today or utcnow().date()
    start = _day_start(today)
    with reading(engine) as conn:
        return int(
            conn.execute(
                select(func.count()).where(
                    PickTask.picked_at >= start,
                    PickTask.picked_at < start + dt.timedelta(days=1),
                    unindexed(PickTask.status).in_(CONFIRMED_STATUSES),
                    PickTask.qty_picked > 0,
                )
            ).scalar_one()
        )


def fulfilment_times(
    engine: Engine | Connection,
    *,
    days: int = FULFILMENT_WINDOW_DAYS,
    now: dt.datetime | None = None,
) -> pd.DataFrame:
    """Per order packed in the window: placed at, last packed at, and the hours in between.

    An order whose last pack falls in the window has a pack in it, and its last pack is the
    last of those: so only the window's packs are read (by the packed-at index), not every
    pack of the years before it.
    """
    now = now or utcnow()
    packed = func.max(PickTask.packed_at)
    statement = (
        select(Order.id.label("order_id"), Order.placed_at, packed.label("packed_at"))
        .select_from(PickTask)
        .join(OrderLine, OrderLine.id == PickTask.order_line_id)
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            unindexed(PickTask.status).in_(("packed", "shipped")),
            PickTask.packed_at > now - dt.timedelta(days=days),
        )
        .group_by(Order.id, Order.placed_at)
        .having(packed <= now)
    )
    with reading(engine) as conn:
        df = pd.read_sql(statement, conn, parse_dates=["placed_at", "packed_at"])
    df["hours"] = (df["packed_at"] - df["placed_at"]).dt.total_seconds() / 3600
    return df


def pick_accuracy(
    engine: Engine | Connection,
    *,
    days: int = ACCURACY_WINDOW_DAYS,
    now: dt.datetime | None = None,
) -> tuple[float | None, int]:
    """(share of picks in the window that found the full quantity, picks counted)."""
    now = now or utcnow()
    with reading(engine) as conn:
        picks, full = conn.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((PickTask.qty_picked == PickTask.qty, 1), else_=0)), 0),
            ).where(
                PickTask.picked_at > now - dt.timedelta(days=days),
                PickTask.picked_at <= now,
                unindexed(PickTask.status).in_(CONFIRMED_STATUSES),
            )
        ).one()
    return (int(full) / int(picks) if picks else None), int(picks)


def pick_kpis(engine: Engine | Connection, *, now: dt.datetime | None = None) -> PickKpis:
    now = now or utcnow()
    with reading(engine) as conn:
        times = fulfilment_times(conn, now=now)
        accuracy, picks = pick_accuracy(conn, now=now)
        return PickKpis(
            lines_picked_today=lines_picked_today(conn, today=now.date()),
            fulfilment_hours=float(times["hours"].median()) if len(times) else None,
            fulfilment_orders=len(times),
            accuracy=accuracy,
            picks_counted=picks,
        )


def floor_plan(engine: Engine | Connection, *, warehouse_id: int | None = None) -> pd.DataFrame:
    """One point per aisle and bay (levels stacked): aisle, bay, zone, x, y."""
    statement = (
        select(
            Bin.aisle,
            Bin.bay,
            func.min(Bin.zone).label("zone"),
            func.avg(Bin.x).label("x"),
            func.avg(Bin.y).label("y"),
        )
        .group_by(Bin.aisle, Bin.bay)
        .order_by(Bin.aisle, Bin.bay)
    )
    if warehouse_id is not None:
        statement = statement.where(Bin.warehouse_id == warehouse_id)
    with reading(engine) as conn:
        return pd.read_sql(statement, conn)


def floor_extent(engine: Engine | Connection, *, warehouse_id: int | None = None) -> tuple:
    """(min x, max x) of the bins: where the front and back cross-aisles run."""
    statement = select(func.min(Bin.x), func.max(Bin.x))
    if warehouse_id is not None:
        statement = statement.where(Bin.warehouse_id == warehouse_id)
    with reading(engine) as conn:
        low, high = conn.execute(statement).one()
    return (None, None) if low is None else (float(low), float(high))


def task_statuses(engine: Engine | Connection, task_ids: list[int]) -> dict[int, str]:
    """The current status of each of the given pick tasks (missing ids are left out)."""
    if not task_ids:
        return {}
    with reading(engine) as conn:
        rows = conn.execute(
            select(PickTask.id, PickTask.status).where(PickTask.id.in_(task_ids))
        ).all()
    return {int(task_id): status for task_id, status in rows}


@dataclass(frozen=True)
class RoutePlan:
    """A batch's walking route: bins in order, metres (solver and bin-code order), the path."""

    order: tuple[str, ...]
    length_m: float
    bin_code_m: float
    solve_seconds: float
    path: tuple[tuple[float, float], ...]
    front_x: float


def plan_route(
    bins: list[tuple[str, int, int, float, float]],
    extent: tuple[float, float],
    *,
    time_limit_s: float | None = None,
) -> RoutePlan:
    """Route through ``bins`` (code, aisle, bay, x, y) on a floor whose bays span ``extent``
    (the solver's time limit grows with the stops unless ``time_limit_s`` is given)."""
    stops = unique_locations([Location(*b) for b in bins])
    layout = floor_layout(*extent)
    route = solve_route(stops, layout, time_limit_s=time_limit_s)
    return RoutePlan(
        order=tuple(s.code for s in route.stops),
        length_m=route.length_m,
        bin_code_m=bin_code_route(stops, layout).length_m,
        solve_seconds=route.solve_seconds,
        path=tuple(walking_path(route.stops, layout)),
        front_x=min(layout.cross_aisles_x),
    )
