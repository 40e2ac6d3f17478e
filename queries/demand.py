"""Demand over a window of days, read from the weekly summary wherever whole weeks fit.

``demand_daily`` has a row per day, product and segment; a year of it is over half a million
rows at ten thousand products. ``demand_weekly`` holds the same figures per week (Monday to
Sunday) and product. :func:`demand_rows` covers a window of days with the whole weeks inside it
from the weekly summary and only the days at either end from the daily one, so sums over it
equal sums over ``demand_daily`` alone, day for day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import CompoundSelect, Select, select

from data.schema import DemandDaily, DemandWeekly

FIGURES = ("lines", "lines_short", "qty_ordered", "qty_short", "revenue")


@dataclass(frozen=True)
class Split:
    """The window (``after``, ``until``] cut into whole weeks and the days around them."""

    after: dt.date
    until: dt.date
    first_week: dt.date | None  # Monday of the first whole week inside, None when none fits
    last_week: dt.date | None  # Monday of the last whole week inside


def split_window(after: dt.date, until: dt.date) -> Split:
    """Whole Monday-to-Sunday weeks within the days after ``after`` up to ``until``."""
    first_day = after + dt.timedelta(days=1)
    first_week = first_day + dt.timedelta(days=(7 - first_day.weekday()) % 7)
    last_week = until - dt.timedelta(days=until.weekday())
    if until.weekday() != 6:  # the week of ``until`` is not over: the one before is the last
        last_week -= dt.timedelta(days=7)
    if first_week > last_week:
        return Split(after, until, None, None)
    return Split(after, until, first_week, last_week)


def demand_rows(
    after: dt.date, until: dt.date, columns: tuple[str, ...] = FIGURES
) -> Select | CompoundSelect:
    """Rows of ``product_id`` and ``columns`` whose sums are ``demand_daily``'s over the days
    after ``after`` up to ``until`` (use as a subquery; not for a segment filter)."""
    split = split_window(after, until)

    def daily(*conditions) -> Select:
        table = DemandDaily.__table__.c
        return select(table.product_id, *(table[c] for c in columns)).where(*conditions)

    day = DemandDaily.day
    if split.first_week is None:
        return daily(day > after, day <= until)
    table = DemandWeekly.__table__.c
    weekly = select(table.product_id, *(table[c] for c in columns)).where(
        table.week >= split.first_week, table.week <= split.last_week
    )
    parts = [weekly]
    if split.first_week > after + dt.timedelta(days=1):  # days before the first whole week
        parts.append(daily(day > after, day < split.first_week))
    after_weeks = split.last_week + dt.timedelta(days=6)
    if until > after_weeks:  # days after the last whole week
        parts.append(daily(day > after_weeks, day <= until))
    # Separate ranges rather than one OR: each stays a range search on the day index.
    return parts[0] if len(parts) == 1 else parts[0].union_all(*parts[1:])
