"""Reads for the two customer-facing desks: My customers (sales rep) and Customer desk (service).

Row-level access: every read takes ``sales_rep_id`` and, when it is not None, filters in SQL to
that representative's customers (``customers.sales_rep_id``). ``None`` means every customer and
is for customer service only; the pages pass the logged-in user's own link, never a widget value.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
from sqlalchemy import Connection, Engine, Float, Select, case, cast, func, literal, or_, select
from sqlalchemy.orm import Session

from data.schema import (
    Allocation,
    AuditLog,
    Backorder,
    Communication,
    Customer,
    Feedback,
    Notification,
    Order,
    OrderLine,
    PickTask,
    Product,
    Shipment,
    ShipmentLine,
    Stock,
    StockLedger,
    utcnow,
)
from data.settings import all_settings
from models.substitutes import substitutes_for
from queries import days_between, reading

# The likely date is the estimate's median (P50) and the late case its 90th percentile (P90);
# the risk of missing the promise assumes a normal spread of the delivery day with that median
# and a standard deviation of (late - likely) / Z90.
Z90 = 1.2816
AT_RISK = 0.3  # a backorder counts as "at risk" from this chance of missing its promised date
HIGH_RISK = 0.6
KPI_WINDOW_DAYS = 90
TREND_WEEKS = 12
SEARCH_LIMIT = 50
ESCAPE = "\\"

BACKORDER_COLUMNS = [
    "backorder_id",
    "order_id",
    "order_number",
    "order_status",
    "order_line_id",
    "customer_id",
    "customer_code",
    "customer",
    "tier",
    "product_id",
    "sku",
    "product",
    "qty_open",
    "value",
    "created",
    "days_waiting",
    "promised_date",
    "likely_date",
    "late_date",
    "reason",
    "miss_risk",
    "risk",
]


def miss_probability(
    promised: dt.date | None, likely: dt.date | None, late: dt.date | None
) -> float:
    """Chance that delivery comes after ``promised``, from the likely (P50) and late (P90) dates.

    Delivery day ~ Normal(likely, (late - likely) / Z90). With no spread the answer is 0 or 1;
    with no promise or no estimate it is unknown (NaN).
    """
    if promised is None or likely is None or pd.isna(promised) or pd.isna(likely):
        return math.nan
    late = likely if late is None or pd.isna(late) else late
    spread = max((late - likely).days, 0) / Z90
    margin = (promised - likely).days
    if spread == 0:
        return 1.0 if margin < 0 else 0.0
    return 0.5 * math.erfc(margin / (spread * math.sqrt(2)))


def risk_band(p: float) -> str:
    if p is None or math.isnan(p):
        return "unknown"
    if p >= HIGH_RISK:
        return "high"
    if p >= AT_RISK:
        return "medium"
    return "low"


def _scoped(statement: Select, sales_rep_id: int | None) -> Select:
    """Limit a statement that joins Customer to one representative's customers."""
    if sales_rep_id is None:
        return statement
    return statement.where(Customer.sales_rep_id == sales_rep_id)


def _like(value: str) -> str:
    """A case-folded LIKE pattern matching ``value`` anywhere, its wildcards escaped."""
    escaped = (
        value.lower()
        .replace(ESCAPE, ESCAPE * 2)
        .replace("%", ESCAPE + "%")
        .replace("_", ESCAPE + "_")
    )
    return f"%{escaped}%"


# --- Open backorders with their risk ---------------------------------------------------------


def open_backorders(
    engine: Engine | Connection,
    *,
    sales_rep_id: int | None,
    customer_id: int | None = None,
    now: dt.datetime | None = None,
) -> pd.DataFrame:
    """Open backorders of the customers in scope, with dates, reason, value and risk."""
    now = now or utcnow()
    qty_open = Backorder.qty_open
    statement = (
        select(
            Backorder.id.label("backorder_id"),
            Order.id.label("order_id"),
            Order.number.label("order_number"),
            Order.status.label("order_status"),
            OrderLine.id.label("order_line_id"),
            Customer.id.label("customer_id"),
            Customer.code.label("customer_code"),
            Customer.name.label("customer"),
            Customer.tier,
            Product.id.label("product_id"),
            Product.sku,
            Product.name.label("product"),
            qty_open.label("qty_open"),
            cast(qty_open * OrderLine.unit_price, Float).label("value"),
            Backorder.created_at.label("created"),
            Backorder.promised_date,
            Backorder.estimated_date.label("likely_date"),
            Backorder.estimated_late_date.label("late_date"),
            Backorder.estimate_reason.label("reason"),
        )
        .join(OrderLine, OrderLine.id == Backorder.order_line_id)
        .join(Order, Order.id == OrderLine.order_id)
        .join(Customer, Customer.id == Backorder.customer_id)
        .join(Product, Product.id == Backorder.product_id)
        .where(Backorder.status == "open")
        .order_by(Backorder.created_at, Backorder.id)
    )
    statement = _scoped(statement, sales_rep_id)
    if customer_id is not None:
        statement = statement.where(Customer.id == customer_id)
    with reading(engine) as conn:
        df = pd.read_sql(
            statement,
            conn,
            parse_dates=["created", "promised_date", "likely_date", "late_date"],
        )
    for column in ("promised_date", "likely_date", "late_date"):
        df[column] = df[column].dt.date
    df["days_waiting"] = (pd.Timestamp(now) - df["created"]).dt.days.astype("int64")
    df["value"] = df["value"].astype(float).round(2)
    df["miss_risk"] = [
        miss_probability(p, lk, lt)
        for p, lk, lt in zip(df["promised_date"], df["likely_date"], df["late_date"], strict=True)
    ]
    df["miss_risk"] = df["miss_risk"].astype(float)
    df["risk"] = [risk_band(p) for p in df["miss_risk"]]
    return df[BACKORDER_COLUMNS]


def customers_in_scope(engine: Engine | Connection, *, sales_rep_id: int | None) -> pd.DataFrame:
    """The customers in scope with their tier and open backorder value (for the filters)."""
    qty_open = Backorder.qty_open
    open_value = (
        select(
            Backorder.customer_id.label("customer_id"),
            func.sum(cast(qty_open * OrderLine.unit_price, Float)).label("value"),
        )
        .join(OrderLine, OrderLine.id == Backorder.order_line_id)
        .where(Backorder.status == "open")
        .group_by(Backorder.customer_id)
        .subquery()
    )
    statement = _scoped(
        select(
            Customer.id.label("customer_id"),
            Customer.code,
            Customer.name,
            Customer.tier,
            Customer.segment,
            Customer.email,
            Customer.phone,
            func.coalesce(open_value.c.value, 0.0).label("open_backorder_value"),
        )
        .outerjoin(open_value, open_value.c.customer_id == Customer.id)
        .order_by(Customer.name, Customer.id),
        sales_rep_id,
    )
    with reading(engine) as conn:
        return pd.read_sql(statement, conn)


def customer_in_scope(
    engine: Engine | Connection, customer_id: int, *, sales_rep_id: int | None
) -> dict | None:
    """One customer's card, or None when it does not exist or is not in scope."""
    statement = _scoped(
        select(
            Customer.id.label("customer_id"),
            Customer.code,
            Customer.name,
            Customer.tier,
            Customer.segment,
            Customer.region,
            Customer.email,
            Customer.phone,
            Customer.backorder_preference,
        ).where(Customer.id == customer_id),
        sales_rep_id,
    )
    with reading(engine) as conn:
        row = conn.execute(statement).mappings().first()
    return None if row is None else dict(row)


def open_order_lines(
    engine: Engine | Connection, *, customer_id: int | None = None, order_id: int | None = None,
    sales_rep_id: int | None,
) -> pd.DataFrame:  # fmt: skip
    """Every line of a customer's open orders (or of one order), with status and dates.

    A customer's open orders include any order with an open backorder, whatever its status.
    """
    statement = _scoped(
        select(
            Order.id.label("order_id"),
            Order.number.label("order_number"),
            Order.placed_at,
            Order.status.label("order_status"),
            Order.priority,
            OrderLine.id.label("order_line_id"),
            OrderLine.line_no,
            Product.id.label("product_id"),
            Product.sku,
            Product.name.label("product"),
            OrderLine.qty_ordered.label("ordered"),
            OrderLine.qty_allocated.label("allocated"),
            OrderLine.qty_backordered.label("backordered"),
            OrderLine.qty_cancelled.label("cancelled"),
            OrderLine.qty_shipped.label("shipped"),
            cast(OrderLine.unit_price, Float).label("unit_price"),
            Backorder.id.label("backorder_id"),
            Backorder.promised_date,
            Backorder.estimated_date.label("likely_date"),
            Backorder.estimated_late_date.label("late_date"),
            Backorder.estimate_reason.label("reason"),
        )
        .join(Customer, Customer.id == Order.customer_id)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(Product, Product.id == OrderLine.product_id)
        .outerjoin(Backorder, Backorder.order_line_id == OrderLine.id)
        .order_by(Order.placed_at.desc(), Order.id.desc(), OrderLine.line_no),
        sales_rep_id,
    )
    if customer_id is not None:
        # Open orders, and closed ones still waiting on a backorder (shipped in part).
        waiting = (
            select(literal(1))
            .select_from(Backorder)
            .join(OrderLine, OrderLine.id == Backorder.order_line_id)
            .where(OrderLine.order_id == Order.id, Backorder.status == "open")
            .correlate(Order)
            .exists()
        )
        statement = statement.where(
            Order.customer_id == customer_id,
            or_(Order.status.in_(("open", "picking")), waiting),
        )
    if order_id is not None:
        statement = statement.where(Order.id == order_id)
    if customer_id is None and order_id is None:
        raise ValueError("name a customer or an order")
    with reading(engine) as conn:
        df = pd.read_sql(
            statement,
            conn,
            parse_dates=["placed_at", "promised_date", "likely_date", "late_date"],
        )
    for column in ("promised_date", "likely_date", "late_date"):
        df[column] = df[column].dt.date
    df["line_status"] = [line_status(r) for r in df.itertuples()]
    return df


def line_status(row) -> str:
    """A line's state in a word: cancelled, delivered/shipped, backordered, reserved."""
    if row.cancelled == row.ordered:
        return "cancelled"
    if row.shipped and row.shipped == row.ordered - row.cancelled:
        return "shipped"
    if row.backordered:
        return "backordered" if not row.allocated else "part backordered"
    if row.allocated > row.shipped:
        return "reserved"
    return "open"


def ranked_alternatives(
    engine: Engine | Connection,
    *,
    product_id: int,
    customer_id: int,
    needed_date: dt.date | None,
) -> pd.DataFrame:
    """The substitute model's ranking for a backordered product and customer, best first.

    The same ranking the substitute swap accepts: same use or listed, no added allergen.
    """
    needed = needed_date or utcnow().date()
    with reading(engine) as conn, Session(bind=conn) as session:
        ranked = substitutes_for(session, product_id, customer_id, needed)
    columns = ["product_id", "sku", "name", "price", "free", "available_date", "score", "reason"]
    if ranked.empty:
        return pd.DataFrame(columns=columns)
    ranked = ranked[columns].copy()
    ranked["available_date"] = pd.to_datetime(ranked["available_date"]).dt.date
    return ranked.reset_index(drop=True)


# --- Priority order preview ------------------------------------------------------------------


def allocation_queue(engine: Engine | Connection, product_ids: list[int]) -> pd.DataFrame:
    """The open backorders of these products as the allocation ranks them: no customer names.

    Only what the score needs (tier, order priority, age, promised date) so a representative
    can see where a new order would queue without learning who else is waiting.
    """
    if not product_ids:
        return pd.DataFrame(
            columns=["product_id", "tier", "priority", "created", "promised_date", "qty_open"]
        )
    statement = (
        select(
            Backorder.product_id,
            Customer.tier,
            Order.priority,
            Backorder.created_at.label("created"),
            Backorder.promised_date,
            Backorder.qty_open.label("qty_open"),
        )
        .join(OrderLine, OrderLine.id == Backorder.order_line_id)
        .join(Order, Order.id == OrderLine.order_id)
        .join(Customer, Customer.id == Backorder.customer_id)
        .where(Backorder.status == "open", Backorder.product_id.in_(list(product_ids)))
    )
    with reading(engine) as conn:
        df = pd.read_sql(statement, conn, parse_dates=["created", "promised_date"])
    df["promised_date"] = df["promised_date"].dt.date
    return df


def products_by_sku(engine: Engine | Connection, skus: list[str]) -> pd.DataFrame:
    """Active products with their price and free stock, by SKU (for the order form)."""
    free = (
        select(func.coalesce(func.sum(Stock.on_hand - Stock.reserved), 0))
        .where(Stock.product_id == Product.id)
        .correlate(Product)
        .scalar_subquery()
    )
    statement = select(
        Product.id.label("product_id"),
        Product.sku,
        Product.name,
        cast(Product.price, Float).label("price"),
        free.label("free"),
    ).where(Product.active.is_(True), Product.sku.in_([s.upper() for s in skus]))
    with reading(engine) as conn:
        return pd.read_sql(statement, conn)


# --- Search ----------------------------------------------------------------------------------


def find_orders(
    engine: Engine | Connection,
    text: str,
    *,
    sales_rep_id: int | None,
    limit: int = SEARCH_LIMIT,
) -> pd.DataFrame:
    """Orders whose customer name, code, phone or e-mail, order number or a line's SKU match.

    Case-insensitive and partial; spaces and dashes in phone numbers are ignored on both sides.
    """
    text = (text or "").strip()
    columns = ["order_id", "order_number", "placed_at", "status", "customer_id", "customer_code",
               "customer", "phone", "email"]  # fmt: skip
    if not text:
        return pd.DataFrame(columns=columns)
    pattern = _like(text)
    digits = _like(text.replace(" ", "").replace("-", ""))
    phone = func.replace(func.replace(func.lower(Customer.phone), " ", ""), "-", "")
    sku_match = (
        select(literal(1))
        .select_from(OrderLine)
        .join(Product, Product.id == OrderLine.product_id)
        .where(OrderLine.order_id == Order.id, func.lower(Product.sku).like(pattern, escape=ESCAPE))
        .correlate(Order)
        .exists()
    )
    statement = _scoped(
        select(
            Order.id.label("order_id"),
            Order.number.label("order_number"),
            Order.placed_at,
            Order.status,
            Customer.id.label("customer_id"),
            Customer.code.label("customer_code"),
            Customer.name.label("customer"),
            Customer.phone,
            Customer.email,
        )
        .join(Customer, Customer.id == Order.customer_id)
        .where(
            or_(
                func.lower(Customer.name).like(pattern, escape=ESCAPE),
                func.lower(Customer.code).like(pattern, escape=ESCAPE),
                func.lower(Customer.email).like(pattern, escape=ESCAPE),
                phone.like(digits, escape=ESCAPE),
                func.lower(Order.number).like(pattern, escape=ESCAPE),
                sku_match,
            )
        )
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(limit),
        sales_rep_id,
    )
    with reading(engine) as conn:
        return pd.read_sql(statement, conn, parse_dates=["placed_at"])


def find_customers(
    engine: Engine | Connection,
    text: str,
    *,
    sales_rep_id: int | None,
    limit: int = SEARCH_LIMIT,
) -> pd.DataFrame:
    """Customers whose name, code, phone or e-mail match (case-insensitive, partial)."""
    text = (text or "").strip()
    columns = ["customer_id", "code", "name", "tier", "phone", "email"]
    if not text:
        return pd.DataFrame(columns=columns)
    pattern = _like(text)
    digits = _like(text.replace(" ", "").replace("-", ""))
    phone = func.replace(func.replace(func.lower(Customer.phone), " ", ""), "-", "")
    statement = _scoped(
        select(
            Customer.id.label("customer_id"),
            Customer.code,
            Customer.name,
            Customer.tier,
            Customer.phone,
            Customer.email,
        )
        .where(
            or_(
                func.lower(Customer.name).like(pattern, escape=ESCAPE),
                func.lower(Customer.code).like(pattern, escape=ESCAPE),
                func.lower(Customer.email).like(pattern, escape=ESCAPE),
                phone.like(digits, escape=ESCAPE),
            )
        )
        .order_by(Customer.name, Customer.id)
        .limit(limit),
        sales_rep_id,
    )
    with reading(engine) as conn:
        return pd.read_sql(statement, conn)


def order_in_scope(
    engine: Engine | Connection, order_id: int, *, sales_rep_id: int | None
) -> dict | None:
    statement = _scoped(
        select(
            Order.id.label("order_id"),
            Order.number,
            Order.status,
            Order.priority,
            Order.placed_at,
            Order.customer_id,
            Customer.name.label("customer"),
            Customer.code.label("customer_code"),
            Customer.email,
            Customer.phone,
        )
        .join(Customer, Customer.id == Order.customer_id)
        .where(Order.id == order_id),
        sales_rep_id,
    )
    with reading(engine) as conn:
        row = conn.execute(statement).mappings().first()
    return None if row is None else dict(row)


# --- Timeline --------------------------------------------------------------------------------


def order_timeline(
    engine: Engine | Connection, order_id: int, *, sales_rep_id: int | None
) -> pd.DataFrame:
    """Everything that happened to an order, oldest first: (at, event, detail)."""
    columns = ["at", "event", "detail"]
    with reading(engine) as conn:
        order = conn.execute(
            _scoped(
                select(Order.id, Order.number, Order.placed_at, Order.placed_by, Order.channel)
                .join(Customer, Customer.id == Order.customer_id)
                .where(Order.id == order_id),
                sales_rep_id,
            )
        ).first()
        if order is None:
            return pd.DataFrame(columns=columns)
        events: list[tuple] = [
            (order.placed_at, "placed", f"by {order.placed_by} via {order.channel}")
        ]
        lines = conn.execute(
            select(OrderLine.id, OrderLine.line_no, Product.sku)
            .join(Product, Product.id == OrderLine.product_id)
            .where(OrderLine.order_id == order_id)
        ).all()
        sku_of = {line.id: f"line {line.line_no} {line.sku}" for line in lines}
        line_ids = list(sku_of)
        for at, qty, line_id, note in conn.execute(
            select(
                StockLedger.at, StockLedger.reserved_delta, StockLedger.ref_id, StockLedger.note
            ).where(
                StockLedger.ref_type == "order_line",
                StockLedger.ref_id.in_(line_ids),
                StockLedger.reason.in_(("reserve", "release")),
            )
        ):
            if note.startswith("fills backorder"):
                continue  # shown as "allocated" from the allocations table
            kind = "reserved" if qty > 0 else "released"
            events.append((at, kind, f"{sku_of[line_id]}: {abs(qty)} units {note}".strip()))
        backorders = conn.execute(
            select(
                Backorder.id,
                Backorder.order_line_id,
                Backorder.created_at,
                Backorder.qty,
                Backorder.promised_date,
                Backorder.estimated_late_date,
                Backorder.estimate_reason,
            ).where(Backorder.order_line_id.in_(line_ids))
        ).all()
        backorder_line = {b.id: b.order_line_id for b in backorders}
        for b in backorders:
            events.append(
                (
                    b.created_at,
                    "backordered",
                    f"{sku_of[b.order_line_id]}: {b.qty} units, promised {b.promised_date} "
                    f"(late case {b.estimated_late_date}); {b.estimate_reason}",
                )
            )
        if backorder_line:
            for at, qty, backorder_id, score in conn.execute(
                select(
                    Allocation.at, Allocation.qty, Allocation.backorder_id, Allocation.score
                ).where(Allocation.backorder_id.in_(list(backorder_line)))
            ):
                line = sku_of[backorder_line[backorder_id]]
                events.append((at, "allocated", f"{line}: {qty} units (priority score {score})"))
            for at, subject, body in conn.execute(
                select(Notification.created_at, Notification.subject, Notification.body).where(
                    Notification.kind == "promise_slipped",
                    Notification.role == "customer_service",
                    Notification.ref_type == "backorder",
                    Notification.ref_id.in_(list(backorder_line)),
                )
            ):
                events.append((at, "re-promised", f"{subject}. {body}"))
            for at, actor, action, after in conn.execute(
                select(AuditLog.at, AuditLog.actor, AuditLog.action, AuditLog.after).where(
                    AuditLog.entity == "backorder",
                    AuditLog.entity_id.in_([str(i) for i in backorder_line]),
                    AuditLog.action.in_(("swap_to_substitute", "offer_substitute")),
                )
            ):
                after = after or {}
                answer = "accepted" if action == "swap_to_substitute" else "declined"
                events.append(
                    (
                        at,
                        "substitute offered",
                        f"{after.get('qty')} x {after.get('substitute')} {answer} (by {actor})",
                    )
                )
        for at, picked, line_id in conn.execute(
            select(PickTask.picked_at, PickTask.qty_picked, PickTask.order_line_id).where(
                PickTask.order_line_id.in_(line_ids), PickTask.picked_at.is_not(None)
            )
        ):
            events.append((at, "picked", f"{sku_of[line_id]}: {picked} units"))
        shipments = conn.execute(
            select(
                Shipment.number,
                Shipment.shipped_at,
                Shipment.delivered_at,
                func.sum(ShipmentLine.qty).label("units"),
            )
            .join(ShipmentLine, ShipmentLine.shipment_id == Shipment.id)
            .where(Shipment.order_id == order_id)
            .group_by(Shipment.id, Shipment.number, Shipment.shipped_at, Shipment.delivered_at)
        ).all()
        for s in shipments:
            if s.shipped_at is not None:
                events.append((s.shipped_at, "shipped", f"{s.number}: {s.units} units"))
            if s.delivered_at is not None:
                events.append((s.delivered_at, "delivered", s.number))
        cancels = conn.execute(
            select(
                AuditLog.at, AuditLog.actor, AuditLog.action, AuditLog.entity_id, AuditLog.note
            ).where(
                or_(
                    (AuditLog.entity == "order") & (AuditLog.entity_id == str(order_id)),
                    (AuditLog.entity == "order_line")
                    & AuditLog.entity_id.in_([str(i) for i in line_ids]),
                ),
                AuditLog.action.in_(("cancel_order", "cancel_line")),
            )
        ).all()
        for c in cancels:
            what = "order" if c.action == "cancel_order" else sku_of.get(int(c.entity_id), "line")
            events.append((c.at, "cancelled", f"{what} by {c.actor}: {c.note}"))
        for m in conn.execute(
            select(
                Communication.created_at,
                Communication.direction,
                Communication.channel,
                Communication.subject,
                Communication.actor,
                Communication.answered_at,
            ).where(Communication.order_id == order_id)
        ):
            events.append(
                (m.created_at, f"message {m.direction}", f"{m.channel}: {m.subject} ({m.actor})")
            )
            if m.answered_at is not None:
                events.append((m.answered_at, "answered", m.subject))
    timeline = pd.DataFrame(events, columns=columns)
    timeline["at"] = pd.to_datetime(timeline["at"])
    return timeline.sort_values("at", kind="stable").reset_index(drop=True)


def customer_messages(
    engine: Engine | Connection, customer_id: int, *, sales_rep_id: int | None, limit: int = 100
) -> pd.DataFrame:
    """A customer's recorded calls, mails and chats, newest first, with the response time."""
    statement = _scoped(
        select(
            Communication.id.label("communication_id"),
            Communication.created_at,
            Communication.direction,
            Communication.channel,
            Communication.subject,
            Communication.actor,
            Communication.answered_at,
            Order.number.label("order_number"),
        )
        .join(Customer, Customer.id == Communication.customer_id)
        .outerjoin(Order, Order.id == Communication.order_id)
        .where(Communication.customer_id == customer_id)
        .order_by(Communication.created_at.desc(), Communication.id.desc())
        .limit(limit),
        sales_rep_id,
    )
    with reading(engine) as conn:
        df = pd.read_sql(statement, conn, parse_dates=["created_at", "answered_at"])
    df["response_hours"] = ((df["answered_at"] - df["created_at"]).dt.total_seconds() / 3600).round(
        2
    )
    return df


# --- KPIs ------------------------------------------------------------------------------------


def _window_start(now: dt.datetime, days: int) -> dt.datetime:
    return now - dt.timedelta(days=days)


def rep_kpis(
    engine: Engine | Connection, *, sales_rep_id: int | None, now: dt.datetime | None = None
) -> dict:
    """The representative's figures (definitions in the page's help texts)."""
    now = now or utcnow()
    backorders = open_backorders(engine, sales_rep_id=sales_rep_id, now=now)
    return {
        **backorder_value_figures(backorders),
        **rep_window_kpis(engine, sales_rep_id=sales_rep_id, now=now),
    }


def backorder_value_figures(backorders: pd.DataFrame) -> dict:
    """Open backorder value, count and share at risk of an ``open_backorders`` frame."""
    value = float(backorders["value"].sum())
    at_risk = float(backorders.loc[backorders["miss_risk"] >= AT_RISK, "value"].sum())
    return {
        "open_backorder_value": value,
        "open_backorders": len(backorders),
        "share_at_risk": at_risk / value if value else None,
    }


def rep_window_kpis(
    engine: Engine | Connection, *, sales_rep_id: int | None, now: dt.datetime | None = None
) -> dict:
    """CSAT, fulfilment time and conversion of the representative's customers over the last
    ``KPI_WINDOW_DAYS`` days."""
    now = now or utcnow()
    since = _window_start(now, KPI_WINDOW_DAYS)
    with reading(engine) as conn:
        csat = conn.execute(
            _scoped(
                select(func.avg(cast(Feedback.csat, Float)), func.count(Feedback.csat))
                .join(Customer, Customer.id == Feedback.customer_id)
                .where(Feedback.created_at >= since, Feedback.csat.is_not(None)),
                sales_rep_id,
            )
        ).one()
        units = conn.execute(
            _scoped(
                select(
                    func.coalesce(func.sum(OrderLine.qty_ordered), 0),
                    func.coalesce(func.sum(OrderLine.qty_cancelled), 0),
                )
                .join(Order, Order.id == OrderLine.order_id)
                .join(Customer, Customer.id == Order.customer_id)
                .where(Order.placed_at >= since),
                sales_rep_id,
            )
        ).one()
        delivered = (
            _scoped(
                select(Order.placed_at, func.max(Shipment.delivered_at).label("delivered_at"))
                .join(Customer, Customer.id == Order.customer_id)
                .join(Shipment, Shipment.order_id == Order.id)
                .where(Shipment.delivered_at >= since, Shipment.direction == "outbound")
                .group_by(Order.id, Order.placed_at),
                sales_rep_id,
            )
        ).subquery()
        fulfilment = conn.execute(
            select(func.avg(days_between(conn, delivered.c.delivered_at, delivered.c.placed_at)))
        ).scalar_one()
    ordered, cancelled = int(units[0]), int(units[1])
    return {
        "csat": None if csat[1] == 0 else float(csat[0]),
        "csat_responses": int(csat[1]),
        "fulfilment_days": None if fulfilment is None else float(fulfilment),
        "conversion": (ordered - cancelled) / ordered if ordered else None,
    }


def answered_questions(
    engine: Engine | Connection, *, since: dt.datetime, sales_rep_id: int | None = None
) -> pd.DataFrame:
    """Inbound messages since ``since`` with their response time in hours (None: unanswered)."""
    statement = _scoped(
        select(Communication.created_at, Communication.answered_at)
        .join(Customer, Customer.id == Communication.customer_id)
        .where(Communication.direction == "inbound", Communication.created_at >= since),
        sales_rep_id,
    )
    with reading(engine) as conn:
        df = pd.read_sql(statement, conn, parse_dates=["created_at", "answered_at"])
    df["response_hours"] = (df["answered_at"] - df["created_at"]).dt.total_seconds() / 3600
    return df


def service_kpis(
    engine: Engine | Connection, *, target_hours: float, now: dt.datetime | None = None
) -> dict:
    """Customer service figures over the last ``KPI_WINDOW_DAYS`` days."""
    now = now or utcnow()
    since = _window_start(now, KPI_WINDOW_DAYS)
    questions = answered_questions(engine, since=since)
    answered = questions["response_hours"].dropna()
    with reading(engine) as conn:
        orders = conn.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((Order.status == "cancelled", 1), else_=0)), 0),
            ).where(Order.placed_at >= since)
        ).one()
        csat = conn.execute(
            select(func.avg(cast(Feedback.csat, Float))).where(
                Feedback.created_at >= since, Feedback.csat.is_not(None)
            )
        ).scalar_one()
    return {
        "questions": len(questions),
        "unanswered": int(questions["answered_at"].isna().sum()),
        "avg_response_hours": float(answered.mean()) if len(answered) else None,
        "p90_response_hours": float(answered.quantile(0.9)) if len(answered) else None,
        "within_target": float((answered <= target_hours).mean()) if len(answered) else None,
        "cancellation_rate": float(orders[1]) / orders[0] if orders[0] else None,
        "csat": None if csat is None else float(csat),
    }


def service_trend(
    engine: Engine | Connection, *, target_hours: float, now: dt.datetime | None = None
) -> pd.DataFrame:
    """Per week (ending today) of the last ``TREND_WEEKS``: response time, within target,
    cancellation rate and CSAT. Long form: week_ending, measure, value.

    The database returns the rows of the window (messages, per-day order counts, per-day
    ratings); the weeks are bucketed here because week arithmetic differs between databases.
    """
    now = now or utcnow()
    since = _window_start(now, TREND_WEEKS * 7)
    end = pd.Timestamp(now.date())

    def week(ts: pd.Series) -> pd.Series:
        back = ((end - ts.dt.normalize()).dt.days // 7).astype(int)
        return end - pd.to_timedelta(back * 7, unit="D")

    frames = []
    questions = answered_questions(engine, since=since).dropna(subset=["response_hours"])
    if not questions.empty:
        questions["week_ending"] = week(questions["created_at"])
        grouped = questions.groupby("week_ending")["response_hours"]
        frames.append(grouped.mean().rename("Average response (hours)"))
        frames.append(
            grouped.apply(lambda h: float((h <= target_hours).mean())).rename("Within target")
        )
    day = func.date(Order.placed_at)
    with reading(engine) as conn:
        orders = pd.read_sql(
            select(
                day.label("day"),
                func.count().label("orders"),
                func.sum(case((Order.status == "cancelled", 1), else_=0)).label("cancelled"),
            )
            .where(Order.placed_at >= since)
            .group_by(day),
            conn,
            parse_dates=["day"],
        )
        rating_day = func.date(Feedback.created_at)
        ratings = pd.read_sql(
            select(
                rating_day.label("day"),
                func.sum(cast(Feedback.csat, Float)).label("total"),
                func.count(Feedback.csat).label("n"),
            )
            .where(Feedback.created_at >= since, Feedback.csat.is_not(None))
            .group_by(rating_day),
            conn,
            parse_dates=["day"],
        )
    if not orders.empty:
        orders["week_ending"] = week(orders["day"])
        weekly = orders.groupby("week_ending")[["orders", "cancelled"]].sum()
        frames.append((weekly["cancelled"] / weekly["orders"]).rename("Cancellation rate"))
    if not ratings.empty:
        ratings["week_ending"] = week(ratings["day"])
        weekly = ratings.groupby("week_ending")[["total", "n"]].sum()
        frames.append((weekly["total"] / weekly["n"]).rename("CSAT"))
    if not frames:
        return pd.DataFrame(columns=["week_ending", "measure", "value"])
    wide = pd.concat(frames, axis=1)
    wide.index.name = "week_ending"
    return wide.reset_index().melt("week_ending", var_name="measure", value_name="value").dropna()


def desk_settings(engine: Engine | Connection) -> dict:
    """The settings the desks need: priority weights and the response-time target."""
    with reading(engine) as conn:
        values = all_settings(conn)
    keys = ("weight_tier", "weight_urgent", "weight_days_waiting", "weight_slack")
    return {
        "weights": {key: float(values[key]) for key in keys},
        "response_target_hours": float(values["response_target_hours"]),
    }
