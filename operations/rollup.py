"""The summaries kept by the write side in the same transaction as each change.

The backorder rollup:

Every operation that changes an order line or its backorder (placing, cancelling, filling, a
short pick) takes a :class:`RollupChange`, ``watch``-es each line before changing it and
``save``-s at the end: the difference between the line's figures after and before is added to
its (week, category, segment, root cause) row with one INSERT ... ON CONFLICT DO UPDATE, the
same way ``demand_daily`` is kept. A line whose root cause changes (a short pick gives an
unshort line a backorder) moves from one row to the other.

Why a rollup kept by the writer rather than an aggregate per view: the analytics pages read a
few thousand rows whatever the history's size, a write adds one or two small upserts, and a
rebuild (:func:`rebuild`, ``python -m data rebuild-summaries``) recomputes it from the order
lines when in doubt (it is idempotent; data/summaries.py).

The closed backorders: the same ``watch``/``save`` also adds each watched backorder's
difference to ``backorder_closures`` (segment, days-waiting bucket): a backorder that closes
adds one to its bucket (and one cancelled if it was cancelled), one that opens again (a short
pick on a filled line) takes it back. The chance that an open backorder ends cancelled is read
from those few rows instead of every closed backorder.

The cost ledger: :func:`add_costs` adds entries just booked to their (week, kind, category,
segment) rows of ``backorder_cost_weekly`` in the same transaction.

The deliveries: :func:`add_delivery` counts an outbound shipment delivered (and whether on
time) in its week of ``delivery_weekly``.

The weekly demand: :func:`add_weekly_demand` adds an order's ``demand_daily`` rows to their
(week, product) rows of ``demand_weekly`` in the same transaction, so reads over months or a year
(inventory turnover, trends) read one row per product and week instead of one per day and segment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from data.schema import (
    NO_BACKORDER,
    Backorder,
    BackorderClosure,
    BackorderCostWeekly,
    BackorderRollup,
    Customer,
    DeliveryWeekly,
    DemandWeekly,
    Order,
    OrderLine,
    Product,
)
from data.summaries import (
    CLOSURE_FIGURE_COLUMNS,
    CLOSURE_KEY_COLUMNS,
    COST_FIGURE_COLUMNS,
    COST_KEY_COLUMNS,
    FIGURE_COLUMNS,
    KEY_COLUMNS,
    UNRECORDED_CAUSE,
    WEEKLY_FIGURE_COLUMNS,
    WEEKLY_KEY_COLUMNS,
    counts_as_closed,
    delivered_on_time,
    wait_bucket,
    week_of,
)


@dataclass(frozen=True)
class LineContext:
    """What places a line in the rollup besides its own quantities."""

    week: dt.date
    category: str
    segment: str
    unit_cost: Decimal


def line_figures(
    context: LineContext, line: OrderLine, backorder: Backorder | None
) -> tuple[tuple, dict]:
    """The line's rollup key and its figures as they stand now."""
    price = Decimal(line.unit_price)
    cost = Decimal(context.unit_cost)
    figures = {
        "lines": 1,
        "units": line.qty_ordered,
        "value": line.qty_ordered * price,
        "cost": line.qty_ordered * cost,
        "bo_lines": 0,
        "bo_units": 0,
        "bo_value": Decimal(0),
        "bo_filled_units": 0,
        "lost_units": 0,
        "lost_value": Decimal(0),
        "lost_cost": Decimal(0),
        "cancelled_units": line.qty_cancelled,
        "cancelled_value": line.qty_cancelled * price,
        "cancelled_cost": line.qty_cancelled * cost,
    }
    cause = NO_BACKORDER
    if backorder is not None and backorder.qty:
        cause = backorder.root_cause or UNRECORDED_CAUSE
        figures.update(
            bo_lines=1,
            bo_units=backorder.qty,
            bo_value=backorder.qty * price,
            bo_filled_units=backorder.qty_filled,
            lost_units=backorder.qty_cancelled,
            lost_value=backorder.qty_cancelled * price,
            lost_cost=backorder.qty_cancelled * cost,
        )
    return (context.week, context.category, context.segment, cause), figures


def closure_figures(context: LineContext, backorder: Backorder | None) -> tuple[tuple, dict] | None:
    """The backorder's ``backorder_closures`` key and figures, or None while it is not closed."""
    # A backorder placed just now (orders.py inserts it as a plain row) is open, or cancelled
    # at once for cancel_short: never one that closed after waiting.
    if not isinstance(backorder, Backorder) or not counts_as_closed(backorder):
        return None
    # A backorder created and closed in one change has no creation time before the flush.
    created = backorder.created_at or backorder.closed_at
    key = (context.segment, wait_bucket(created, backorder.closed_at))
    return key, {"closed": 1, "cancelled": int(backorder.status == "cancelled")}


def _upsert(dialect: str, table, keys: tuple[str, ...], figures: tuple[str, ...]):
    insert_ = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert_(table)
    return statement.on_conflict_do_update(
        index_elements=[table.c[c] for c in keys],
        set_={c: table.c[c] + statement.excluded[c] for c in figures},
    )


_UPSERT = {
    dialect: _upsert(dialect, BackorderRollup.__table__, KEY_COLUMNS, FIGURE_COLUMNS)
    for dialect in ("sqlite", "postgresql")
}
_CLOSURE_UPSERT = {
    dialect: _upsert(
        dialect, BackorderClosure.__table__, CLOSURE_KEY_COLUMNS, CLOSURE_FIGURE_COLUMNS
    )
    for dialect in ("sqlite", "postgresql")
}


def _add(session: Session, upserts: dict, keys: tuple[str, ...], deltas: dict[tuple, dict]):
    rows = [
        {**dict(zip(keys, key, strict=True)), **figures}
        for key, figures in sorted(deltas.items())
        if any(figures.values())
    ]
    if rows:
        conn = session.connection()
        conn.execute(upserts[conn.dialect.name], rows)


_COST_UPSERT = {
    dialect: _upsert(dialect, BackorderCostWeekly.__table__, COST_KEY_COLUMNS, COST_FIGURE_COLUMNS)
    for dialect in ("sqlite", "postgresql")
}


def add_costs(
    session: Session,
    entries: list[Mapping[str, Any]],
    places: dict[int, tuple[str, str]] | None = None,
) -> None:
    """Add ledger entries just booked to their weeks of ``backorder_cost_weekly``.

    ``entries``: the rows of ``backorder_costs`` as inserted (``at``, ``backorder_id``, ``kind``
    and ``amount`` are read). ``places``: the (category, segment) of backorders the caller knows
    already (an order just placed knows its products and customer); the others are read in one
    query.
    """
    if not entries:
        return
    ids = sorted({entry["backorder_id"] for entry in entries})
    unknown = [backorder_id for backorder_id in ids if backorder_id not in (places or {})]
    places = dict(places or {})
    if unknown:
        places.update(
            (row[0], (row[1], row[2]))
            for row in session.execute(
                select(Backorder.id, Product.category, Customer.segment)
                .join(Product, Product.id == Backorder.product_id)
                .join(Customer, Customer.id == Backorder.customer_id)
                .where(Backorder.id.in_(unknown))
            )
        )
    deltas: dict[tuple, dict] = {}
    for entry in entries:
        category, segment = places[entry["backorder_id"]]
        key = (week_of(entry["at"]), entry["kind"], category, segment)
        into = deltas.setdefault(key, {"amount": Decimal(0), "entries": 0})
        into["amount"] += Decimal(entry["amount"])
        into["entries"] += 1
    _add(session, _COST_UPSERT, COST_KEY_COLUMNS, deltas)


_DELIVERY_UPSERT = {
    dialect: _upsert(dialect, DeliveryWeekly.__table__, ("week",), ("delivered", "on_time"))
    for dialect in ("sqlite", "postgresql")
}


def add_delivery(session: Session, delivered_at: dt.datetime, promised: dt.date | None) -> None:
    """Count an outbound shipment just delivered in its week of ``delivery_weekly``."""
    if promised is None:
        return
    on_time = int(delivered_on_time(delivered_at, promised))
    _add(
        session,
        _DELIVERY_UPSERT,
        ("week",),
        {(week_of(delivered_at),): {"delivered": 1, "on_time": on_time}},
    )


def add_to_rollup(session: Session, deltas: dict[tuple, dict]) -> None:
    """Add figure differences to their rows (rows are created as needed)."""
    _add(session, _UPSERT, KEY_COLUMNS, deltas)


def add_to_closures(session: Session, deltas: dict[tuple, dict]) -> None:
    """Add closed-backorder differences to their (segment, bucket) rows."""
    _add(session, _CLOSURE_UPSERT, CLOSURE_KEY_COLUMNS, deltas)


def _weekly_upsert(dialect: str):
    insert_ = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert_(DemandWeekly.__table__)
    table = DemandWeekly.__table__.c
    return statement.on_conflict_do_update(
        index_elements=[table[c] for c in WEEKLY_KEY_COLUMNS],
        set_={c: table[c] + statement.excluded[c] for c in WEEKLY_FIGURE_COLUMNS},
    )


_WEEKLY_UPSERT = {dialect: _weekly_upsert(dialect) for dialect in ("sqlite", "postgresql")}


def add_weekly_demand(session: Session, daily_rows: list[dict]) -> None:
    """Add rows just added to ``demand_daily`` (day, product_id, figures) to their weeks."""
    weeks: dict[tuple, dict] = {}
    for row in daily_rows:
        key = (week_of(row["day"]), row["product_id"])
        into = weeks.setdefault(key, dict.fromkeys(WEEKLY_FIGURE_COLUMNS, 0))
        for column in WEEKLY_FIGURE_COLUMNS:
            into[column] += row[column]
    if weeks:
        conn = session.connection()
        # In key order, so concurrent orders take the rows' locks in the same order.
        rows = [
            {**dict(zip(WEEKLY_KEY_COLUMNS, key, strict=True)), **figures}
            for key, figures in sorted(weeks.items())
        ]
        conn.execute(_WEEKLY_UPSERT[conn.dialect.name], rows)


class RollupChange:
    """Collects lines before a change and writes the difference to the rollup after it."""

    def __init__(self, session: Session):
        self.session = session
        self._context: dict[int, LineContext] = {}
        self._before: dict[int, tuple[tuple, dict]] = {}
        self._closed_before: dict[int, tuple[tuple, dict] | None] = {}
        self._now: dict[int, tuple[OrderLine, Backorder | None]] = {}

    def know(self, line_id: int, context: LineContext) -> None:
        """Give a line's context directly (a new line: nothing to look up)."""
        self._context[line_id] = context

    def _load_context(self, line_ids: list[int]) -> None:
        missing = [i for i in line_ids if i not in self._context]
        if not missing:
            return
        rows = self.session.execute(
            select(OrderLine.id, Order.placed_at, Product.category, Customer.segment, Product.cost)
            .join(Order, Order.id == OrderLine.order_id)
            .join(Customer, Customer.id == Order.customer_id)
            .join(Product, Product.id == OrderLine.product_id)
            .where(OrderLine.id.in_(missing))
        ).all()
        for line_id, placed_at, category, segment, cost in rows:
            self._context[line_id] = LineContext(week_of(placed_at), category, segment, cost)

    def watch(self, line: OrderLine, backorder: Backorder | None, *, new: bool = False) -> None:
        """Note a line (and its backorder) before changing it; ``new``: it had no figures yet.

        Call again with the same line to point at a backorder created during the change.
        """
        if line.id not in self._before and line.id not in self._now:
            self._load_context([line.id])
            if not new:
                context = self._context[line.id]
                self._before[line.id] = line_figures(context, line, backorder)
                self._closed_before[line.id] = closure_figures(context, backorder)
        self._now[line.id] = (line, backorder)

    def save(self) -> None:
        """Add (after - before) of every watched line to the rollup."""
        deltas: dict[tuple, dict] = {}
        closures: dict[tuple, dict] = {}
        for line_id, (line, backorder) in self._now.items():
            context = self._context[line_id]
            _move(deltas, FIGURE_COLUMNS, line_figures(context, line, backorder), 1)
            _move(deltas, FIGURE_COLUMNS, self._before.get(line_id), -1)
            _move(closures, CLOSURE_FIGURE_COLUMNS, closure_figures(context, backorder), 1)
            _move(closures, CLOSURE_FIGURE_COLUMNS, self._closed_before.get(line_id), -1)
        add_to_rollup(self.session, deltas)
        add_to_closures(self.session, closures)
        self._before.clear()
        self._closed_before.clear()
        self._now.clear()


def _move(deltas: dict[tuple, dict], columns, keyed: tuple[tuple, dict] | None, sign: int):
    """Add ``sign`` x the figures of ``keyed`` (key, figures) to their key's row of ``deltas``."""
    if keyed is None:
        return
    key, figures = keyed
    into = deltas.setdefault(key, dict.fromkeys(columns, 0))
    for column, amount in figures.items():
        into[column] += sign * amount


__all__ = [
    "LineContext",
    "RollupChange",
    "add_costs",
    "add_delivery",
    "add_to_closures",
    "add_to_rollup",
    "closure_figures",
    "add_weekly_demand",
    "line_figures",
    "week_of",
]
