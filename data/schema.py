"""The shared database: one typed SQLAlchemy 2 schema for every table Larder keeps.

Quantities are whole units (integers); money is Numeric(12, 2); timestamps are UTC and naive
(the database stores them without zone so SQLite and PostgreSQL compare them the same way).
The stock invariants are CHECK constraints so that no code path, ours or a console, can break
them: ``on_hand >= 0`` and ``0 <= reserved <= on_hand``; per order line
``allocated + backordered + cancelled = ordered``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, configure_mappers, mapped_column

from data.changes import COUNTER_TABLE, SUBJECTS

# Stable constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Money = Numeric(12, 2)

# Business vocabularies, declared once.
ROLES = (
    "warehouse_manager",
    "sales_rep",
    "purchasing_manager",
    "customer",
    "warehouse_operator",
    "logistics_manager",
    "finance_manager",
    "customer_service",
    "marketing_manager",
    "owner",
    "admin",
)
CATEGORIES = (
    "Dry goods",
    "Dairy",
    "Produce",
    "Frozen meat & fish",
    "Beverages",
    "Disposables",
    "Cleaning supplies",
    "Kitchen equipment",
)
SEGMENTS = (
    "Restaurant",
    "Hotel",
    "Event caterer",
    "School",
    "Hospital",
    "Canteen",
    "Café",
)
TIERS = ("gold", "silver", "bronze")
BACKORDER_PREFERENCES = ("accept_backorder", "ship_complete", "cancel_short")
ORDER_PRIORITIES = ("normal", "urgent")
ORDER_STATUSES = ("open", "picking", "shipped", "delivered", "cancelled")
BACKORDER_STATUSES = ("open", "filled", "cancelled")
PO_STATUSES = ("draft", "approved", "sent", "partially_received", "received", "cancelled")
# A purchase order counts as supply once approved; a draft may never be sent.
OPEN_PO_STATUSES = ("approved", "sent", "partially_received")
PICK_STATUSES = ("open", "picked", "packed", "short", "shipped", "cancelled")
SHIPMENT_DIRECTIONS = ("inbound", "outbound")
SHIPMENT_STATUSES = ("planned", "in_transit", "delayed", "delivered", "cancelled")
CHANNELS = ("phone", "email", "sms", "in_app", "portal")
OUTBOX_KINDS = ("mail", "webhook")
OUTBOX_STATUSES = ("queued", "sending", "sent", "failed", "cancelled")
OUTBOX_OUTCOMES = ("sent", "retry", "failed")
LEDGER_REASONS = (
    "opening",
    "receipt",
    "reserve",
    "release",
    "pick",
    "ship",
    "adjust",
    "short_pick",
)
COST_KINDS = ("expedite", "split_freight", "credit", "handling")
JOB_OUTCOMES = ("ok", "failed", "skipped")


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> dt.datetime:
    """Naive UTC now, the form every timestamp column stores."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# --- Places and partners -------------------------------------------------------------------


class Warehouse(Base):
    __tablename__ = "warehouses"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))


class Bin(Base):
    """A storage location; aisle/bay/level and floor coordinates drive the pick route."""

    __tablename__ = "bins"
    __table_args__ = (UniqueConstraint("warehouse_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    code: Mapped[str] = mapped_column(String(20))
    zone: Mapped[str] = mapped_column(String(20))  # ambient, chilled, frozen
    aisle: Mapped[int] = mapped_column(Integer)
    bay: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer)
    x: Mapped[float] = mapped_column(Float)  # metres from the dock, along the aisles
    y: Mapped[float] = mapped_column(Float)  # metres across the aisles


class Supplier(Base):
    __tablename__ = "suppliers"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(200))
    lead_time_days: Mapped[int] = mapped_column(Integer)  # quoted lead time
    min_order_value: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Carrier(Base):
    __tablename__ = "carriers"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(200))
    transit_days: Mapped[int] = mapped_column(Integer)  # quoted transit time


class SalesRep(Base):
    __tablename__ = "sales_reps"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(40))


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        CheckConstraint(_in("segment", SEGMENTS), name="segment"),
        CheckConstraint(_in("tier", TIERS), name="tier"),
        CheckConstraint(_in("backorder_preference", BACKORDER_PREFERENCES), name="preference"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    segment: Mapped[str] = mapped_column(String(30))
    region: Mapped[str] = mapped_column(String(40))
    tier: Mapped[str] = mapped_column(String(10))
    sales_rep_id: Mapped[int | None] = mapped_column(ForeignKey("sales_reps.id"), index=True)
    backorder_preference: Mapped[str] = mapped_column(String(20), default="accept_backorder")
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # The customer asked for no mail from Larder; in-app notices still appear.
    mail_opt_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


# --- Catalogue and stock -------------------------------------------------------------------


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("pack_size >= 1", name="pack_size"),
        CheckConstraint("cost >= 0 AND price >= 0", name="money"),
        CheckConstraint(
            "reorder_point >= 0 AND safety_stock >= 0 AND order_up_to >= reorder_point",
            name="thresholds",
        ),
        CheckConstraint("min_order_qty >= 1", name="min_order"),
        CheckConstraint(_in("category", CATEGORIES), name="category"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    category: Mapped[str] = mapped_column(String(40), index=True)
    use: Mapped[str] = mapped_column(String(60))  # what it is for; substitutes share a use
    unit: Mapped[str] = mapped_column(String(20))
    pack_size: Mapped[int] = mapped_column(Integer, default=1)
    cost: Mapped[Decimal] = mapped_column(Money)
    price: Mapped[Decimal] = mapped_column(Money)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    bin_id: Mapped[int | None] = mapped_column(ForeignKey("bins.id"))
    reorder_point: Mapped[int] = mapped_column(Integer, default=0)
    safety_stock: Mapped[int] = mapped_column(Integer, default=0)
    order_up_to: Mapped[int] = mapped_column(Integer, default=0)
    min_order_qty: Mapped[int] = mapped_column(Integer, default=1)
    shelf_life_days: Mapped[int | None] = mapped_column(Integer)
    allergens: Mapped[str] = mapped_column(String(200), default="")  # comma-separated, sorted
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Substitute(Base):
    __tablename__ = "substitutes"
    __table_args__ = (CheckConstraint("product_id <> substitute_id", name="not_self"),)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    substitute_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    note: Mapped[str] = mapped_column(String(200), default="")


class Stock(Base):
    __tablename__ = "stock"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_nonnegative"),
        CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved_within_on_hand"),
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=0)  # bumped on every change


class StockLedger(Base):
    """Append-only: every change to on_hand or reserved is a row; the rows sum to the stock."""

    __tablename__ = "stock_ledger"
    __table_args__ = (
        CheckConstraint(_in("reason", LEDGER_REASONS), name="reason"),
        Index("ix_stock_ledger_product", "product_id", "warehouse_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    on_hand_delta: Mapped[int] = mapped_column(Integer, default=0)
    reserved_delta: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(String(20))
    ref_type: Mapped[str | None] = mapped_column(String(20))  # order_line, po_line, count...
    ref_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(60), default="system")
    note: Mapped[str] = mapped_column(String(200), default="")


# --- People --------------------------------------------------------------------------------


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    sales_rep_id: Mapped[int | None] = mapped_column(ForeignKey("sales_reps.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class UserRole(Base):
    __tablename__ = "user_roles"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(30), primary_key=True)


# --- Orders and backorders -----------------------------------------------------------------


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(_in("priority", ORDER_PRIORITIES), name="priority"),
        CheckConstraint(_in("status", ORDER_STATUSES), name="status"),
        Index("ix_orders_customer_placed", "customer_id", "placed_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    placed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    requested_date: Mapped[dt.date | None] = mapped_column(Date)
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    status: Mapped[str] = mapped_column(String(12), default="open")
    channel: Mapped[str] = mapped_column(String(12), default="portal")
    placed_by: Mapped[str] = mapped_column(String(60), default="system")
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    # The backorder preference applied when placed (the customer's, or chosen for this order);
    # ship_complete orders are not picked until nothing is left on backorder.
    backorder_choice: Mapped[str | None] = mapped_column(String(20))
    # The order's number in the system it was imported from (unique: importing it again skips it).
    external_ref: Mapped[str | None] = mapped_column(String(40), unique=True, index=True)


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("qty_ordered > 0", name="qty_positive"),
        CheckConstraint(
            "qty_allocated >= 0 AND qty_backordered >= 0 AND qty_cancelled >= 0",
            name="parts_nonnegative",
        ),
        CheckConstraint(
            "qty_allocated + qty_backordered + qty_cancelled = qty_ordered", name="parts_sum"
        ),
        CheckConstraint("qty_shipped >= 0 AND qty_shipped <= qty_allocated", name="shipped"),
        CheckConstraint("unit_price >= 0", name="price"),
        UniqueConstraint("order_id", "line_no"),
        Index("ix_order_lines_product", "product_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    qty_ordered: Mapped[int] = mapped_column(Integer)
    qty_allocated: Mapped[int] = mapped_column(Integer, default=0)  # reserved or shipped
    qty_backordered: Mapped[int] = mapped_column(Integer, default=0)  # still waiting
    qty_cancelled: Mapped[int] = mapped_column(Integer, default=0)
    qty_shipped: Mapped[int] = mapped_column(Integer, default=0)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    substitute_for_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))


class Backorder(Base):
    """One per short order line; ``qty_open`` is what still waits."""

    __tablename__ = "backorders"
    __table_args__ = (
        CheckConstraint(_in("status", BACKORDER_STATUSES), name="status"),
        CheckConstraint("qty > 0", name="qty_positive"),
        CheckConstraint(
            "qty_filled >= 0 AND qty_cancelled >= 0 AND qty_filled + qty_cancelled <= qty",
            name="parts",
        ),
        Index("ix_backorders_product_status", "product_id", "status"),
        Index("ix_backorders_customer_status", "customer_id", "status"),
        # The open backorders on their own (revenue at risk): few rows among many closed ones.
        Index("ix_backorders_status", "status"),
        # The newest backorders first (the Overview's drill-down; a window of backorders).
        Index("ix_backorders_created_at", "created_at"),
        # Each customer's backorders of a window with what the Loyalty page sums of them, read
        # from the index alone and already in customer order (no sorting to group them).
        Index(
            "ix_backorders_customer_created",
            "customer_id",
            "created_at",
            "status",
            "promised_date",
            "closed_at",
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), unique=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    qty: Mapped[int] = mapped_column(Integer)
    qty_filled: Mapped[int] = mapped_column(Integer, default=0)
    qty_cancelled: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    promised_date: Mapped[dt.date | None] = mapped_column(Date)
    estimated_date: Mapped[dt.date | None] = mapped_column(Date)
    estimated_late_date: Mapped[dt.date | None] = mapped_column(Date)
    estimate_reason: Mapped[str] = mapped_column(String(300), default="")
    waits_on_po_id: Mapped[int | None] = mapped_column(ForeignKey("purchase_orders.id"))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    root_cause: Mapped[str | None] = mapped_column(String(30))  # late_supplier, forecast_miss…

    @hybrid_property
    def qty_open(self) -> int:
        """Units still waiting: ordered short, less filled and cancelled (also usable in SQL)."""
        return self.qty - self.qty_filled - self.qty_cancelled


class Allocation(Base):
    """Every unit of arriving stock given to a backorder, with the score that decided it."""

    __tablename__ = "allocations"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    backorder_id: Mapped[int] = mapped_column(ForeignKey("backorders.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    qty: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    score_parts: Mapped[dict] = mapped_column(JSON, default=dict)
    po_id: Mapped[int | None] = mapped_column(ForeignKey("purchase_orders.id"))
    actor: Mapped[str] = mapped_column(String(60), default="system")


class BackorderCost(Base):
    __tablename__ = "backorder_costs"
    __table_args__ = (
        CheckConstraint(_in("kind", COST_KINDS), name="kind"),
        # The cost ledger and its totals read the weeks shown, not every entry ever booked.
        Index("ix_backorder_costs_at", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    backorder_id: Mapped[int] = mapped_column(ForeignKey("backorders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    amount: Mapped[Decimal] = mapped_column(Money)
    note: Mapped[str] = mapped_column(String(200), default="")


class DemandDaily(Base):
    """Summary kept by the write side: what customers asked for, per day, product and segment.

    Pages and models read this instead of scanning every order line (STACK_NOTES: two million
    lines per view is too slow). ``qty_short`` is what could not be served from stock at order time.
    """

    __tablename__ = "demand_daily"
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    segment: Mapped[str] = mapped_column(String(30), primary_key=True)
    lines: Mapped[int] = mapped_column(Integer, default=0)
    lines_short: Mapped[int] = mapped_column(Integer, default=0)
    qty_ordered: Mapped[int] = mapped_column(Integer, default=0)
    qty_short: Mapped[int] = mapped_column(Integer, default=0)
    revenue: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))


ROOT_CAUSES = (
    "late_supplier",
    "demand_spike",
    "allocation",
    "forecast_miss",
    "threshold_too_low",
    "short_pick",
    "unknown",
)
# Rollup key of an order line that never went short.
NO_BACKORDER = "none"
RollupMoney = Numeric(14, 2)


class BackorderRollup(Base):
    """Summary kept by the write side: order lines per week, category, segment and root cause.

    Every write that changes an order line or its backorder adds its difference here in the same
    transaction (operations/rollup.py), so the analytics pages read a few thousand rows instead
    of every order line. ``week`` is the Monday of the week the order was placed; lines that never
    went short have ``root_cause = 'none'``. ``bo_*`` follow the line's backorder (its quantity,
    what was filled, what was cancelled = lost); ``cancelled_*`` every cancelled unit of the line.
    Cost is the product's cost when the change was recorded. ``python -m data
    rebuild-summaries`` recomputes it from the order lines.
    """

    __tablename__ = "backorder_rollup"
    week: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    category: Mapped[str] = mapped_column(String(40), primary_key=True)
    segment: Mapped[str] = mapped_column(String(30), primary_key=True)
    root_cause: Mapped[str] = mapped_column(String(30), primary_key=True)
    lines: Mapped[int] = mapped_column(Integer, default=0)
    units: Mapped[int] = mapped_column(Integer, default=0)
    value: Mapped[Decimal] = mapped_column(RollupMoney, default=Decimal("0"))
    cost: Mapped[Decimal] = mapped_column(RollupMoney, default=Decimal("0"))
    bo_lines: Mapped[int] = mapped_column(Integer, default=0)
    bo_units: Mapped[int] = mapped_column(Integer, default=0)
    bo_value: Mapped[Decimal] = mapped_column(RollupMoney, default=Decimal("0"))
    bo_filled_units: Mapped[int] = mapped_column(Integer, default=0)
    lost_units: Mapped[int] = mapped_column(Integer, default=0)
    lost_value: Mapped[Decimal] = mapped_column(RollupMoney, default=Decimal("0"))
    lost_cost: Mapped[Decimal] = mapped_column(RollupMoney, default=Decimal("0"))
    cancelled_units: Mapped[int] = mapped_column(Integer, default=0)
    cancelled_value: Mapped[Decimal] = mapped_column(RollupMoney, default=Decimal("0"))
    cancelled_cost: Mapped[Decimal] = mapped_column(RollupMoney, default=Decimal("0"))


class DemandWeekly(Base):
    """Summary kept by the write side: ``demand_daily`` per week (Monday) and product.

    The same figures as the daily summary, summed over the days of a week and the customer
    segments, so a read over months or a year (inventory turnover, trends) reads one row per
    product and week. Kept in the same transaction as ``demand_daily`` (operations/rollup.py);
    ``python -m data rebuild-summaries`` recomputes it from ``demand_daily``.
    """

    __tablename__ = "demand_weekly"
    week: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    lines: Mapped[int] = mapped_column(Integer, default=0)
    lines_short: Mapped[int] = mapped_column(Integer, default=0)
    qty_ordered: Mapped[int] = mapped_column(Integer, default=0)
    qty_short: Mapped[int] = mapped_column(Integer, default=0)
    revenue: Mapped[Decimal] = mapped_column(RollupMoney, default=Decimal("0"))


class BackorderClosure(Base):
    """Summary kept by the write side: closed backorders per customer segment and days waited.

    One row per segment and days-waiting bucket (``bucket`` indexes ``data.summaries.WAIT_BUCKETS``:
    closed after 0-7, 8-14, 15-30 or 31+ days): how many backorders closed (filled or cancelled)
    after waiting that long, and how many of them ended cancelled. Backorders cancelled at once
    because the customer takes only what is in stock (``cancel_short``) never waited and are
    left out. The chance that an open backorder ends cancelled is read from these few rows
    (queries/overview.py). Kept beside the backorder rollup in the same transaction
    (operations/rollup.py); ``python -m data rebuild-summaries`` recomputes it from the backorders.
    """

    __tablename__ = "backorder_closures"
    segment: Mapped[str] = mapped_column(String(30), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    closed: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[int] = mapped_column(Integer, default=0)


class BackorderCostWeekly(Base):
    """Summary kept by the write side: the cost ledger per week, kind, category and segment.

    ``week`` is the Monday of the week the cost was booked; ``category`` the backorder's
    product's, ``segment`` its customer's. Every entry booked (handling, split freight, a fee or
    credit booked by hand) adds its amount here in the same transaction (operations/rollup.py),
    so the finance page sums a few thousand rows instead of a year of ledger entries joined to
    their backorders. ``python -m data rebuild-summaries`` recomputes it from the ledger.
    """

    __tablename__ = "backorder_cost_weekly"
    week: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    category: Mapped[str] = mapped_column(String(40), primary_key=True)
    segment: Mapped[str] = mapped_column(String(30), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(RollupMoney, default=Decimal("0"))
    entries: Mapped[int] = mapped_column(Integer, default=0)


class DeliveryWeekly(Base):
    """Summary kept by the write side: outbound deliveries per week, and how many were on time.

    ``week`` is the Monday of the week the shipment was delivered; only outbound shipments with
    a promised date count, on time when delivered on or before that day. Marking a shipment
    delivered adds it here in the same transaction (operations/warehouse.py), so on-time delivery
    over a year reads one row per week. ``python -m data rebuild-summaries`` recomputes it.
    """

    __tablename__ = "delivery_weekly"
    week: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    delivered: Mapped[int] = mapped_column(Integer, default=0)
    on_time: Mapped[int] = mapped_column(Integer, default=0)


# --- Purchasing and logistics --------------------------------------------------------------


class PurchaseOrder(Base):
    __tablename__ = "purchase_orders"
    __table_args__ = (CheckConstraint(_in("status", PO_STATUSES), name="status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(60), default="system")
    approved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    approved_by: Mapped[str | None] = mapped_column(String(60))
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    expected_date: Mapped[dt.date | None] = mapped_column(Date)
    original_expected_date: Mapped[dt.date | None] = mapped_column(Date)
    received_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # The PO's number in the system it was imported from (unique: importing it again skips it).
    external_ref: Mapped[str | None] = mapped_column(String(40), unique=True, index=True)


class PurchaseOrderLine(Base):
    __tablename__ = "purchase_order_lines"
    __table_args__ = (
        CheckConstraint("qty_ordered > 0", name="qty_positive"),
        CheckConstraint("qty_received >= 0 AND qty_received <= qty_ordered", name="received"),
        CheckConstraint("unit_cost >= 0", name="cost"),
        UniqueConstraint("po_id", "product_id"),
        Index("ix_purchase_order_lines_product", "product_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    po_id: Mapped[int] = mapped_column(ForeignKey("purchase_orders.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    qty_ordered: Mapped[int] = mapped_column(Integer)
    qty_received: Mapped[int] = mapped_column(Integer, default=0)
    unit_cost: Mapped[Decimal] = mapped_column(Money)


class Receipt(Base):
    """One delivery against a PO line (a PO can arrive in parts)."""

    __tablename__ = "receipts"
    __table_args__ = (CheckConstraint("qty > 0", name="qty_positive"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    po_line_id: Mapped[int] = mapped_column(ForeignKey("purchase_order_lines.id"), index=True)
    qty: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(60), default="system")


class Shipment(Base):
    __tablename__ = "shipments"
    __table_args__ = (
        CheckConstraint(_in("direction", SHIPMENT_DIRECTIONS), name="direction"),
        CheckConstraint(_in("status", SHIPMENT_STATUSES), name="status"),
        Index("ix_shipments_direction_status", "direction", "status"),
        # Carriers' record: deliveries of the last days, out of every shipment ever made.
        Index("ix_shipments_direction_delivered", "direction", "delivered_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    direction: Mapped[str] = mapped_column(String(10))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    po_id: Mapped[int | None] = mapped_column(ForeignKey("purchase_orders.id"), index=True)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("carriers.id"))
    tracking: Mapped[str | None] = mapped_column(String(40))
    region: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12), default="planned")
    shipped_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    promised_date: Mapped[dt.date | None] = mapped_column(Date)
    estimated_arrival: Mapped[dt.date | None] = mapped_column(Date)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class ShipmentLine(Base):
    __tablename__ = "shipment_lines"
    __table_args__ = (CheckConstraint("qty > 0", name="qty_positive"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), index=True)
    qty: Mapped[int] = mapped_column(Integer)


class ShipmentEvent(Base):
    __tablename__ = "shipment_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(30))  # picked_up, in_transit, delayed, delivered
    note: Mapped[str] = mapped_column(String(300), default="")


class PickTask(Base):
    __tablename__ = "pick_tasks"
    __table_args__ = (
        CheckConstraint(_in("status", PICK_STATUSES), name="status"),
        CheckConstraint("qty > 0 AND qty_picked >= 0 AND qty_picked <= qty", name="qty"),
        Index("ix_pick_tasks_status", "status"),
        # The picking figures read a window of recent picks and packs out of years of them.
        Index("ix_pick_tasks_picked_at", "picked_at"),
        Index("ix_pick_tasks_packed_at", "packed_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    bin_id: Mapped[int | None] = mapped_column(ForeignKey("bins.id"))
    qty: Mapped[int] = mapped_column(Integer)
    qty_picked: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(10), default="open")
    fills_backorder: Mapped[bool] = mapped_column(Boolean, default=False)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    picked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    packed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    actor: Mapped[str | None] = mapped_column(String(60))


# --- Messages and feedback -----------------------------------------------------------------


class Notification(Base):
    """An in-app message for a user or a role, and optionally mail to send from the outbox."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user", "user_id", "read_at"),
        Index("ix_notifications_role", "role", "read_at"),
        Index("ix_notifications_status", "status"),
        Index("ix_notifications_dedup", "dedup_key", "kind", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(30))  # low_stock, promise_slipped, po_late…
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str | None] = mapped_column(String(30))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    email_to: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(
        String(10), default="in_app"
    )  # in_app, pending, sent, failed
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    ref_type: Mapped[str | None] = mapped_column(String(20))
    ref_id: Mapped[int | None] = mapped_column(Integer)
    # What the notice is about ("product:12"): a rule tells about one subject once per window.
    dedup_key: Mapped[str | None] = mapped_column(String(120))
    # The date the notice announced (a new expected date), so a later re-estimate is compared
    # with what people were told, not only with the first promise.
    about_date: Mapped[dt.date | None] = mapped_column(Date)


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str] = mapped_column(String(300), default="")


class OutboxMessage(Base):
    """One outgoing mail or webhook delivery, written in the transaction that caused it.

    A dispatcher claims due rows (``status='sending'`` with ``claimed_by``/``claimed_until``), sends
    them, and marks each sent, back to queued with a later ``next_attempt_at``, or failed. A
    claim whose lease ran out (its dispatcher died) can be claimed again.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint(_in("kind", OUTBOX_KINDS), name="kind"),
        CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index("ix_outbox_messages_due", "status", "next_attempt_at"),
        Index("ix_outbox_messages_ref", "ref_type", "ref_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(120), unique=True)  # the Message-ID header
    kind: Mapped[str] = mapped_column(String(10))
    recipients: Mapped[str] = mapped_column(Text)  # mail: comma-separated addresses; webhook: URL
    webhook_id: Mapped[int | None] = mapped_column(ForeignKey("webhooks.id"), index=True)
    event: Mapped[str | None] = mapped_column(String(40))  # the webhook's event kind
    subject: Mapped[str] = mapped_column(String(200))
    text_body: Mapped[str] = mapped_column(Text, default="")  # webhook: the JSON body
    html_body: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    ref_type: Mapped[str | None] = mapped_column(String(20))
    ref_id: Mapped[int | None] = mapped_column(Integer)


class OutboxAttachment(Base):
    """A file sent with a mail; bytes in their own table so listing the outbox stays light."""

    __tablename__ = "outbox_attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_messages.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    mime_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class OutboxAttempt(Base):
    """Every try to hand one outbox message over: when, by whom, what came back, how long."""

    __tablename__ = "outbox_attempts"
    __table_args__ = (CheckConstraint(_in("outcome", OUTBOX_OUTCOMES), name="outcome"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_messages.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    worker: Mapped[str] = mapped_column(String(80))
    outcome: Mapped[str] = mapped_column(String(10))
    reply: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


class Webhook(Base):
    """An administrator's subscription: POST signed JSON to ``url`` when ``event`` happens."""

    __tablename__ = "webhooks"
    __table_args__ = (Index("ix_webhooks_event", "event", "active"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(String(40))
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(100))  # signs every delivery (HMAC-SHA256)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(60))
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Communication(Base):
    """A recorded call, mail or message with a customer, carrier or supplier."""

    __tablename__ = "communications"
    __table_args__ = (
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        Index("ix_communications_customer", "customer_id", "created_at"),
        Index("ix_communications_supplier", "supplier_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    carrier_id: Mapped[int | None] = mapped_column(ForeignKey("carriers.id"))
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("suppliers.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    po_id: Mapped[int | None] = mapped_column(ForeignKey("purchase_orders.id"))
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"))
    actor: Mapped[str] = mapped_column(String(60))
    channel: Mapped[str] = mapped_column(String(10))
    direction: Mapped[str] = mapped_column(String(10), default="outbound")  # inbound, outbound
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Feedback(Base):
    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint("csat IS NULL OR (csat >= 1 AND csat <= 5)", name="csat"),
        CheckConstraint("nps IS NULL OR (nps >= 0 AND nps <= 10)", name="nps"),
        # With the scores, so the Loyalty page's per-customer sums read the index alone.
        Index("ix_feedback_customer", "customer_id", "created_at", "csat", "nps", "sentiment"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    csat: Mapped[int | None] = mapped_column(Integer)
    nps: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    sentiment: Mapped[float | None] = mapped_column(Float)  # -1..1, filled by models/


# --- Models, settings, audit ---------------------------------------------------------------


class ModelRun(Base):
    __tablename__ = "model_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)  # demand, lead_time, transit…
    version: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(12), default="running")
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)
    artifact: Mapped[str | None] = mapped_column(String(300))


class ModelArtifact(Base):
    """The fitted object of a successful model run, so every app server can load it."""

    __tablename__ = "model_artifacts"
    __table_args__ = (CheckConstraint("size_bytes >= 0", name="size"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    model_run_id: Mapped[int] = mapped_column(ForeignKey("model_runs.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)  # joblib, compressed
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Forecast(Base):
    __tablename__ = "forecasts"
    __table_args__ = (
        Index("ix_forecasts_run_product", "model_run_id", "product_id"),
        # The forecast per period (the Overview's chart) read from the index alone.
        Index(
            "ix_forecasts_run_period", "model_run_id", "period_start", "product_id", "p50", "p90"
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    model_run_id: Mapped[int] = mapped_column(ForeignKey("model_runs.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    period_start: Mapped[dt.date] = mapped_column(Date)
    p50: Mapped[float] = mapped_column(Float)
    p90: Mapped[float] = mapped_column(Float)
    mean: Mapped[float] = mapped_column(Float)
    # The demand method that serves the product (models.demand.DemandForecaster): "model"
    # for the global model, else a simple method such as "ses" or "tsb".
    method: Mapped[str | None] = mapped_column(String(40), nullable=True)


# --- Scheduled jobs ------------------------------------------------------------------------


class JobRun(Base):
    """One run of a scheduled job: when, how it ended, what it changed, where it ran."""

    __tablename__ = "job_runs"
    __table_args__ = (
        CheckConstraint(_in("outcome", JOB_OUTCOMES), name="outcome"),
        Index("ix_job_runs_job_started", "job", "started_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime] = mapped_column(DateTime)
    outcome: Mapped[str] = mapped_column(String(12))
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str] = mapped_column(String(100))
    pid: Mapped[int] = mapped_column(Integer)


class JobLock(Base):
    """A job's lease: held by one process until ``locked_until``; an expired lease is free."""

    __tablename__ = "job_locks"
    job: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(120))
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    acquired_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Setting(Base):
    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON)  # {"v": value} so any JSON type fits
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(60), default="system")


IMPORT_KINDS = ("suppliers", "products", "customers", "stock", "purchase_orders", "orders")


class ImportMapping(Base):
    """A saved column mapping for one kind of import file: file column per Larder field."""

    __tablename__ = "import_mappings"
    __table_args__ = (
        CheckConstraint(_in("kind", IMPORT_KINDS), name="kind"),
        UniqueConstraint("kind", "name"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(60))
    columns: Mapped[dict] = mapped_column(JSON, default=dict)  # {field: file column}
    options: Mapped[dict] = mapped_column(JSON, default=dict)  # header, date order, decimal mark
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(60))


class ImportBatch(Base):
    """One applied import file: its name and checksum (a file is applied once per kind)."""

    __tablename__ = "import_batches"
    __table_args__ = (
        CheckConstraint(_in("kind", IMPORT_KINDS), name="kind"),
        UniqueConstraint("kind", "sha256"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    actor: Mapped[str] = mapped_column(String(60))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str | None] = mapped_column(String(40))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(String(300), default="")


# Change counters: one row per shard, one column per subject (data/changes.py says how they move).
change_counters = Table(
    COUNTER_TABLE,
    Base.metadata,
    Column("shard", Integer, primary_key=True, autoincrement=False),
    *(Column(subject, BigInteger, nullable=False, server_default="0") for subject in SUBJECTS),
)

# Mappers are configured here, once per process when the schema is imported (at server start),
# not lazily by the first ORM expression of the first page run.
configure_mappers()
