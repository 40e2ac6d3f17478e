"""Service and stock KPIs from the demand summaries (never by scanning order lines).

Windows of days read whole weeks from ``demand_weekly`` and the days around them from
``demand_daily`` (queries/demand.py): the same sums as the daily summary alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, Engine, Float, cast, func, select

from data.schema import Backorder, DemandDaily, Product, Stock, utcnow
from queries import reading
from queries.demand import demand_rows

RATE_WINDOW_DAYS = 28
TURNOVER_WINDOW_DAYS = 365

BACKORDER_RATE_HELP = (
    "Share of order lines that could not be served in full from stock when ordered, "
    "over the last {days} days (DemandDaily: lines short / lines ordered)."
)
FILL_RATE_HELP = (
    "Share of units ordered that were served from stock at order time, over the last "
    "{days} days (DemandDaily: 1 - units short / units ordered)."
)
TURNOVER_HELP = (
    "Cost of goods served from stock over the last {days} days / average inventory value at "
    "cost. Approximation: no stock history is kept yet, so the average inventory is today's "
    "on-hand x cost."
)
OPEN_BACKORDERS_HELP = "Backorder lines still waiting (open), and the units they wait for."


@dataclass(frozen=True)
class Kpi:
    label: str
    value: float | None  # None when there is nothing to measure (no orders in the window)
    help: str


def _window(today: dt.date | None, days: int) -> tuple[dt.date, dt.date]:
    today = today or utcnow().date()
    return today - dt.timedelta(days=days), today


def backorder_rate(
    engine: Engine | Connection, *, days: int = RATE_WINDOW_DAYS, today: dt.date | None = None
) -> Kpi:
    """Lines short / lines ordered over the last ``days`` days."""
    start, end = _window(today, days)
    rows = demand_rows(start, end, ("lines", "lines_short")).subquery("demand")
    with reading(engine) as conn:
        lines, short = conn.execute(
            select(
                func.coalesce(func.sum(rows.c.lines), 0),
                func.coalesce(func.sum(rows.c.lines_short), 0),
            )
        ).one()
    value = short / lines if lines else None
    return Kpi("Backorder rate", value, BACKORDER_RATE_HELP.format(days=days))


def fill_rate(
    engine: Engine | Connection, *, days: int = RATE_WINDOW_DAYS, today: dt.date | None = None
) -> Kpi:
    """1 - units short / units ordered over the last ``days`` days."""
    start, end = _window(today, days)
    rows = demand_rows(start, end, ("qty_ordered", "qty_short")).subquery("demand")
    with reading(engine) as conn:
        ordered, short = conn.execute(
            select(
                func.coalesce(func.sum(rows.c.qty_ordered), 0),
                func.coalesce(func.sum(rows.c.qty_short), 0),
            )
        ).one()
    value = 1 - short / ordered if ordered else None
    return Kpi("Fill rate", value, FILL_RATE_HELP.format(days=days))


def inventory_turnover(
    engine: Engine | Connection,
    *,
    days: int = TURNOVER_WINDOW_DAYS,
    today: dt.date | None = None,
) -> Kpi:
    """COGS over the last ``days`` days / inventory value at cost (today's on hand)."""
    start, end = _window(today, days)
    rows = demand_rows(start, end, ("qty_ordered", "qty_short")).subquery("demand")
    with reading(engine) as conn:
        cogs = conn.execute(
            select(
                func.coalesce(
                    func.sum(cast((rows.c.qty_ordered - rows.c.qty_short) * Product.cost, Float)),
                    0.0,
                )
            )
            .select_from(rows)
            .join(Product, Product.id == rows.c.product_id)
        ).scalar_one()
        inventory = conn.execute(
            select(func.coalesce(func.sum(cast(Stock.on_hand * Product.cost, Float)), 0.0))
            .select_from(Stock)
            .join(Product, Product.id == Stock.product_id)
        ).scalar_one()
    value = float(cogs) / float(inventory) if inventory else None
    return Kpi("Inventory turnover", value, TURNOVER_HELP.format(days=days))


@dataclass(frozen=True)
class OpenBackorders:
    lines: int
    units: int
    help: str = OPEN_BACKORDERS_HELP


def open_backorders(engine: Engine | Connection) -> OpenBackorders:
    """How many backorders are open and how many units they wait for."""
    with reading(engine) as conn:
        lines, units = conn.execute(
            select(
                func.count(),
                func.coalesce(func.sum(Backorder.qty_open), 0),
            ).where(Backorder.status == "open")
        ).one()
    return OpenBackorders(int(lines), int(units))


def backorder_rate_by_category_week(
    engine: Engine | Connection, *, weeks: int = 12, today: dt.date | None = None
) -> pd.DataFrame:
    """Backorder rate per category and week (weeks ending today) for the last ``weeks`` weeks.

    The database sums per category and day (at most weeks x 7 x categories rows); the days are
    then bucketed into weeks here, because week arithmetic differs between SQLite and PostgreSQL.
    """
    start, end = _window(today, weeks * 7)
    statement = (
        select(
            DemandDaily.day,
            Product.category,
            func.sum(DemandDaily.lines).label("lines"),
            func.sum(DemandDaily.lines_short).label("lines_short"),
        )
        .join(Product, Product.id == DemandDaily.product_id)
        .where(DemandDaily.day > start, DemandDaily.day <= end)
        .group_by(DemandDaily.day, Product.category)
    )
    with reading(engine) as conn:
        daily = pd.read_sql(statement, conn, parse_dates=["day"])
    if daily.empty:
        return pd.DataFrame(columns=["week_ending", "category", "lines", "lines_short", "rate"])
    end_ts = pd.Timestamp(end)
    weeks_back = ((end_ts - daily["day"]).dt.days // 7).astype(int)
    daily["week_ending"] = end_ts - pd.to_timedelta(weeks_back * 7, unit="D")
    weekly = daily.groupby(["week_ending", "category"], as_index=False)[
        ["lines", "lines_short"]
    ].sum()
    weekly["rate"] = weekly["lines_short"] / weekly["lines"]
    return weekly
