"""The history filters the analytics pages share: a date range, categories, segments, a period.

Each page passes its own key prefix, so its widgets keep their own state (``overview_range``,
``cost_range`` …) and a test can address them.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import streamlit as st

from data.schema import CATEGORIES, SEGMENTS

DEFAULT_WEEKS = 52  # the range a page opens with
PERIOD_LABELS = {"week": "Week", "month": "Month", "quarter": "Quarter"}


class HistoryFilters(NamedTuple):
    chosen_range: object  # what the date input gave: a (start, end) pair once both are chosen
    categories: list[str]
    segments: list[str]
    period: str


def history_filters(prefix: str, *, range_label: str, today: dt.date) -> HistoryFilters:
    """Draw the shared filters (call inside ``st.sidebar``) and return what was chosen."""
    chosen_range = st.date_input(
        range_label,
        value=(today - dt.timedelta(weeks=DEFAULT_WEEKS), today),
        max_value=today,
        key=f"{prefix}_range",
        help="Taken in whole weeks (Monday to Sunday) that touch the range.",
    )
    categories = st.multiselect(
        "Categories", CATEGORIES, key=f"{prefix}_categories", placeholder="All categories"
    )
    segments = st.multiselect(
        "Customer segments", SEGMENTS, key=f"{prefix}_segments", placeholder="All segments"
    )
    period = st.radio(
        "Period",
        list(PERIOD_LABELS),
        format_func=PERIOD_LABELS.get,
        index=1,
        horizontal=True,
        key=f"{prefix}_period",
    )
    return HistoryFilters(chosen_range, categories, segments, period)
