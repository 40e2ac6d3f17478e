"""The Loyalty impact page's parts that need no run of their own: its cached reads and chart
spec, defined once per process here rather than again in every run of the page.
"""

from __future__ import annotations

import datetime as dt

import altair as alt
import pandas as pd
import streamlit as st

import ui.theme
from queries import loyalty as lo
from ui.db import live_read
from ui.format import qty
from ui.theme import ChartRows, chart_rows

# A year of customers, orders and feedback moves slowly: these reads are cached for this long
# (and per day), not re-read after every order.
SLOW_TTL_S = 900


# The customers of the chosen segments (all when none is chosen), read once and shared by the
# comparisons and the win-back list.
@st.cache_data(ttl=SLOW_TTL_S, show_spinner=False)
def segment_customers(
    _engine,
    start: dt.date,
    end: dt.date,
    retention_days: int,
    day: dt.date,
    segments: tuple[str, ...],
) -> pd.DataFrame:
    return lo.customer_exposure(
        _engine, start, end, retention_days=retention_days, segments=segments
    )


# The comparisons and the win-back list are cached on what they are made of (the window, the
# setting, the day, the segments), so a rerun neither hashes nor regroups the customer table.
@st.cache_data(ttl=SLOW_TTL_S, show_spinner=False)
def compared(
    _engine,
    start: dt.date,
    end: dt.date,
    retention_days: int,
    day: dt.date,
    segments: tuple[str, ...],
    by: str | None,
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """(exposed against not exposed overall, and by ``by``), or None when nobody ordered."""
    customers = segment_customers(_engine, start, end, retention_days, day, segments)
    if customers.empty:
        return None
    overall = lo.compare_groups(customers)
    return overall.set_index("group"), overall if by is None else lo.compare_groups(customers, by)


@st.cache_data(ttl=SLOW_TTL_S, show_spinner=False)
def monthly(_engine, start: dt.date, end: dt.date, day: dt.date) -> pd.DataFrame:
    return lo.feedback_by_month(_engine, start, end)


@st.cache_data(ttl=SLOW_TTL_S, show_spinner=False)
def worst(_engine, day: dt.date) -> pd.DataFrame:
    return lo.worst_recent_comments(_engine)


@st.cache_data(ttl=SLOW_TTL_S, show_spinner=False)
def win_back(
    _engine,
    start: dt.date,
    end: dt.date,
    retention_days: int,
    day: dt.date,
    segments: tuple[str, ...],
):
    customers = segment_customers(_engine, start, end, retention_days, day, segments)
    return lo.win_back_list(_engine, customers, retention_days=retention_days)


@live_read("settings")
def retention_setting(engine) -> int:
    return lo.retention_days(engine)


@live_read("customers")
def unscored_comments(engine) -> int:
    return lo.unscored_comments(engine)


def sentiment_note(engine, sentiment: pd.Series) -> None:
    """Why sentiment is blank, when no comment shown has a score and some wait for the model."""
    if not sentiment.isna().all():
        return
    waiting = unscored_comments(engine)
    if waiting:
        st.caption(lo.SENTIMENT_UNSCORED.format(comments=qty(waiting)))


def scores(monthly: pd.DataFrame) -> pd.DataFrame:
    """NPS and the reputation index per month (one row each), for the lines."""
    long = monthly.melt(
        id_vars="month", value_vars=["nps", "reputation"], var_name="measure", value_name="score"
    ).dropna()
    long["measure"] = long["measure"].map({"nps": "NPS", "reputation": "Reputation index"})
    return long


@ui.theme.chart_spec
def score_lines() -> alt.Chart:
    return (
        alt.Chart()
        .mark_line(point=True)
        .encode(
            x=alt.X("month:O", title="Month", axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("score:Q", title="Score"),
            color=alt.Color("measure:N", title=None, legend=alt.Legend(orient="top")),
            tooltip=[
                alt.Tooltip("month:N"),
                alt.Tooltip("measure:N"),
                alt.Tooltip("score:Q", format=".1f"),
            ],
        )
        .properties(height=260)
    )


@st.cache_data(ttl=SLOW_TTL_S, show_spinner=False)
def monthly_scores(_engine, start: dt.date, end: dt.date, day: dt.date) -> ChartRows:
    """The chart's rows, :func:`scores` of the months of the window, kept as long as the months
    themselves."""
    return chart_rows(scores(monthly(_engine, start, end, day)))
