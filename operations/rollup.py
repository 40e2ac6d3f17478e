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

The weekly demand: :func:`add_weekly_demand` adds an order's ``demand_daily`` rows to their
(week, product) rows of ``demand_weekly`` in the same transaction, so reads over months or a year
(inventory turnover, trends) read one row per product and week instead of one per day and segment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from data.schema import (
    NO_BACKORDER,
    Backorder,
    BackorderRollup,
    Customer,
    DemandWeekly,
    Order,
    OrderLine,
    Product,
)
from data.summaries import (
    FIGURE_COLUMNS,
    KEY_COLUMNS,
    UNRECORDED_CAUSE,
    WEEKLY_FIGURE_COLUMNS,
    WEEKLY_KEY_COLUMNS,
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


def _upsert(dialect: str):
    insert_ = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert_(BackorderRollup.__table__)
    table = BackorderRollup.__table__.c
    return statement.on_conflict_do_update(
        index_elements=[table[c] for c in KEY_COLUMNS],
        set_={c: table[c] + statement.excluded[c] for c in FIGURE_COLUMNS},
    )


_UPSERT = {dialect: _upsert(dialect) for dialect in ("sqlite", "postgresql")}


def add_to_rollup(session: Session, deltas: dict[tuple, dict]) -> None:
    """Add figure differences to their rows (rows are created as needed)."""
    rows = [
        {**dict(zip(KEY_COLUMNS, key, strict=True)), **figures}
        for key, figures in sorted(deltas.items())
        if any(figures.values())
    ]
    if rows:
        conn = session.connection()
        conn.execute(_UPSERT[conn.dialect.name], rows)


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
                self._before[line.id] = line_figures(self._context[line.id], line, backorder)
        self._now[line.id] = (line, backorder)

    def save(self) -> None:
        """Add (after - before) of every watched line to the rollup."""
        deltas: dict[tuple, dict] = {}
        for line_id, (line, backorder) in self._now.items():
            key, after = line_figures(self._context[line_id], line, backorder)
            into = deltas.setdefault(key, dict.fromkeys(FIGURE_COLUMNS, 0))
            for column, amount in after.items():
                into[column] += amount
            if line_id in self._before:
                old_key, before = self._before[line_id]
                into = deltas.setdefault(old_key, dict.fromkeys(FIGURE_COLUMNS, 0))
                for column, amount in before.items():
                    into[column] -= amount
        add_to_rollup(self.session, deltas)
        self._before.clear()
        self._now.clear()


__all__ = [
    "LineContext",
    "RollupChange",
    "add_to_rollup",
    "add_weekly_demand",
    "line_figures",
    "week_of",
]
