"""Reads of history split at the current week: finished weeks cached until the past changes,
this week's few rows read again while orders flow.

Orders placed now only add to this week's summary rows, so the ``past_weeks`` subject
(data/changes.py, "The past weeks") does not move with them. A figure over a year of weeks is
then the sum of two parts: the weeks before this one, a read keyed by ``past_weeks`` that stays
cached while orders flow, and this week, summed from a read keyed by ``orders`` that holds only
this week's rows. The week the split falls on is an argument of the past read, so the week's
turn starts a new entry rather than keep the old one.
"""

from __future__ import annotations

import datetime as dt

from data.schema import utcnow
from data.summaries import week_of
from queries.overview import Filters


def this_week() -> dt.date:
    """The Monday of the current week, by this server's clock."""
    return week_of(utcnow())


def split(f: Filters, week: dt.date) -> tuple[Filters | None, Filters | None]:
    """(the weeks of ``f`` before ``week``, those from ``week`` on); None where there are none."""
    past = current = None
    if f.first_week < week:
        past = Filters(f.start, min(f.end, week - dt.timedelta(days=1)), f.categories, f.segments)
    if f.last_week >= week:
        current = Filters(max(f.start, week), f.end, f.categories, f.segments)
    return past, current


def split_days(start: dt.date, end: dt.date, week: dt.date):
    """((first, last) day before ``week``, (first, last) day from it on); None where empty."""
    before = (start, min(end, week - dt.timedelta(days=1))) if start < week else None
    after = (max(start, week), end) if end >= week else None
    return before, after
