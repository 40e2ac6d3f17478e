"""The Overview page's parts that need no run of their own: its cached reads, chart selections
and chart specs, defined once per process here rather than again in every run of the page.
"""

from __future__ import annotations

import datetime as dt

import altair as alt
import pandas as pd
import streamlit as st

import ui.theme
from queries import overview as ov
from ui.db import live_read
from ui.filters import PERIOD_LABELS

CATEGORY_CHART = "overview_category_chart"
SEGMENT_CHART = "overview_segment_chart"
PERIOD_CHART = "overview_period_chart"
CAUSE_CHART = "overview_cause_chart"

# --- Cached reads (each keyed by the versions of the subjects it reads) -------------------


@live_read("orders")
def rates_by(engine, dimension: str, f: ov.Filters) -> pd.DataFrame:
    return ov.rates_by(engine, dimension, f)


@live_read("orders")
def rates_by_period(engine, period: str, f: ov.Filters) -> pd.DataFrame:
    return ov.rates_by_period(engine, period, f)


@live_read("orders")
def rate_kpis(engine, f: ov.Filters) -> ov.RateKpis:
    return ov.rate_kpis(engine, f)


@live_read("shipments")
def on_time(engine, f: ov.Filters) -> tuple[float | None, int]:
    return ov.on_time_delivery(engine, f)


@live_read("backorders", "catalogue", "customers", "orders")
def at_risk(engine, f: ov.Filters) -> ov.RiskTotals:
    return ov.revenue_at_risk(engine, f)


@live_read("catalogue", "orders")
def month(engine, f: ov.Filters, today: dt.date) -> pd.DataFrame:
    return ov.month_against_last_year(engine, f, today)


@live_read("catalogue", "models", "orders")
def forecast(engine, f: ov.Filters) -> pd.DataFrame:
    return ov.demand_against_forecast(engine, f)


@live_read("orders")
def causes(engine, f: ov.Filters, by: str, period: str) -> pd.DataFrame:
    return ov.cause_shares(engine, f, by=by, period=period)


@live_read("backorders", "catalogue", "customers", "orders")
def lines_page(engine, f: ov.Filters, causes: tuple[str, ...], offset: int) -> ov.LinesPage:
    return ov.backorder_lines_page(engine, f, causes=causes, offset=offset)


# --- Chart selections (Streamlit keeps them in session state under the chart's key) --------


def picked(key: str, param: str, field: str) -> tuple[str, ...]:
    """The values of ``field`` selected in chart ``key`` (a seeded state is a plain dict)."""
    state = st.session_state.get(key)
    if not state:
        return ()
    selection = state.get("selection") or {}
    points = selection.get(param) or []
    return tuple(sorted({str(point[field]) for point in points if field in point}))


def narrowed(f: ov.Filters, categories=(), segments=(), start=None, end=None) -> ov.Filters:
    return ov.Filters(
        start or f.start,
        end or f.end,
        tuple(categories) or f.categories,
        tuple(segments) or f.segments,
    )


def period_window(label: str, period: str, table: pd.DataFrame) -> tuple[dt.date, dt.date]:
    """First and last day of a period picked on the trend chart."""
    start = pd.Timestamp(table.loc[table["period"] == label, "period_start"].iloc[0]).date()
    if period == "week":
        return start, start + dt.timedelta(days=6)
    months = 1 if period == "month" else 3
    end = (pd.Timestamp(start) + pd.DateOffset(months=months) - pd.Timedelta(days=1)).date()
    return start, end


# --- Chart specs (made once per choice of labels and fields) --------------------------------


@ui.theme.chart_spec
def rate_bars(field: str, param: str, basis: str, rate_title: str) -> alt.Chart:
    pick = alt.selection_point(name=param, fields=[field])
    return (
        alt.Chart()
        .mark_bar()
        .encode(
            x=alt.X(f"{basis}:Q", title=rate_title, axis=alt.Axis(format="%")),
            y=alt.Y(f"{field}:N", title=None, sort="-x", axis=alt.Axis(labelLimit=220)),
            color=alt.condition(pick, alt.value(ui.theme.PALETTE[0]), alt.value("#c7d2cc")),
            tooltip=[
                alt.Tooltip(f"{field}:N", title=field.title()),
                alt.Tooltip("line_rate:Q", title="Rate (lines)", format=".1%"),
                alt.Tooltip("unit_rate:Q", title="Rate (units)", format=".1%"),
                alt.Tooltip("bo_lines:Q", title="Short lines", format=","),
                alt.Tooltip("lines:Q", title="Lines", format=","),
            ],
        )
        .add_params(pick)
        .properties(height=alt.Step(28))
    )


@ui.theme.chart_spec
def trend_bars(period: str, basis: str, rate_title: str) -> alt.Chart:
    period_pick = alt.selection_point(name="period_pick", fields=["period"])
    return (
        alt.Chart()
        .mark_bar()
        .encode(
            x=alt.X("period:O", title=PERIOD_LABELS[period], axis=alt.Axis(labelAngle=-45)),
            y=alt.Y(f"{basis}:Q", title=rate_title, axis=alt.Axis(format="%")),
            color=alt.condition(period_pick, alt.value(ui.theme.PALETTE[2]), alt.value("#c9d6e3")),
            tooltip=[
                alt.Tooltip("period:N", title=PERIOD_LABELS[period]),
                alt.Tooltip("line_rate:Q", title="Rate (lines)", format=".1%"),
                alt.Tooltip("unit_rate:Q", title="Rate (units)", format=".1%"),
                alt.Tooltip("bo_lines:Q", title="Short lines", format=","),
                alt.Tooltip("lines:Q", title="Lines", format=","),
            ],
        )
        .add_params(period_pick)
        .properties(height=260)
    )


@ui.theme.chart_spec
def demand_lines() -> alt.Chart:
    return (
        alt.Chart()
        .mark_line(point=False)
        .encode(
            x=alt.X("week:T", title="Week"),
            y=alt.Y("value:Q", title="Units"),
            color=alt.Color("series:N", title=None, legend=alt.Legend(orient="top")),
            strokeDash=alt.StrokeDash(
                "series:N",
                legend=None,
                scale=alt.Scale(
                    domain=["Ordered", "Forecast P50", "Forecast P90"],
                    range=[[1, 0], [6, 3], [2, 2]],
                ),
            ),
            tooltip=[
                alt.Tooltip("week:T", title="Week of"),
                "series:N",
                alt.Tooltip("value:Q", title="Units", format=",.0f"),
            ],
        )
        .properties(height=240)
    )


def cause_colour() -> alt.Color:
    return alt.Color(
        "cause:N",
        title="Cause",
        scale=alt.Scale(domain=list(ov.CAUSE_LABELS.values()), range=ui.theme.PALETTE[:7]),
        legend=alt.Legend(orient="bottom", columns=4),
    )


@ui.theme.chart_spec
def cause_bars() -> alt.Chart:
    cause_pick = alt.selection_point(name="cause_pick", fields=["group", "root_cause"])
    return (
        alt.Chart()
        .mark_bar()
        .encode(
            x=alt.X("share:Q", title="Share of short lines", axis=alt.Axis(format="%")),
            y=alt.Y("group:N", title=None, axis=alt.Axis(labelLimit=220)),
            color=cause_colour(),
            opacity=alt.condition(cause_pick, alt.value(1.0), alt.value(0.35)),
            tooltip=[
                alt.Tooltip("group:N", title="Category"),
                alt.Tooltip("cause:N", title="Cause"),
                alt.Tooltip("share:Q", title="Share", format=".1%"),
                alt.Tooltip("bo_lines:Q", title="Short lines", format=","),
            ],
        )
        .add_params(cause_pick)
        .properties(height=alt.Step(28))
    )


@ui.theme.chart_spec
def cause_columns(period: str) -> alt.Chart:
    return (
        alt.Chart()
        .mark_bar()
        .encode(
            x=alt.X("group:O", title=PERIOD_LABELS[period], axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("share:Q", title="Share of short lines", axis=alt.Axis(format="%")),
            color=cause_colour(),
            tooltip=[
                alt.Tooltip("group:N", title=PERIOD_LABELS[period]),
                alt.Tooltip("cause:N", title="Cause"),
                alt.Tooltip("share:Q", title="Share", format=".1%"),
                alt.Tooltip("bo_lines:Q", title="Short lines", format=","),
            ],
        )
        .properties(height=300)
    )
