"""The Overview page's parts that need no run of their own: its cached reads, chart selections
and chart specs, defined once per process here rather than again in every run of the page.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import altair as alt
import pandas as pd
import streamlit as st

import ui.theme
from queries import overview as ov
from ui.charts import conditional
from ui.components import table_rows
from ui.db import live_read
from ui.filters import PERIOD_LABELS
from ui.theme import ChartRows, chart_rows
from ui.week_split import split, split_days, this_week

CATEGORY_CHART = "overview_category_chart"
SEGMENT_CHART = "overview_segment_chart"
PERIOD_CHART = "overview_period_chart"
CAUSE_CHART = "overview_cause_chart"

# --- Cached reads (each keyed by the versions of the subjects it reads) -------------------


# Every figure from the backorder rollup is the sum of the finished weeks (cached until the
# past changes) and this week's rows (read again after each order); ui/week_split.py says why.


@live_read("past_weeks")
def _past_sums(
    engine, f: ov.Filters, group: tuple[str, ...], shorts_only: bool, causes: tuple[str, ...]
) -> ov.Sums:
    return ov.rollup_sum_records(engine, f, group, shorts_only=shorts_only, causes=causes)


@live_read("orders")
def _rows_since(engine, week: dt.date) -> tuple[tuple, ...]:
    return ov.rollup_rows_since(engine, week)


def rollup_sums(
    engine,
    f: ov.Filters,
    group: tuple[str, ...] = (),
    shorts_only: bool = False,
    causes: tuple[str, ...] = (),
) -> ov.Sums:
    """:func:`queries.overview.rollup_sum_records`, the past weeks and this one read apart."""
    week = this_week()
    past, current = split(f, week)
    parts = []
    if past is not None:
        parts.append(_past_sums(engine, past, group, shorts_only, causes))
    if current is not None:
        rows = _rows_since(engine, week)
        parts.append(ov.sum_rows(rows, current, group, shorts_only=shorts_only, causes=causes))
    return ov.added(parts)


@live_read("orders", "past_weeks")
def rates_by(engine, dimension: str, f: ov.Filters) -> ChartRows:
    return chart_rows(ov.rates_from(rollup_sums(engine, f, (dimension,)), dimension))


# The trend chart's fields (its frame also holds each period's first day, for a picked bar).
TREND_FIELDS = ("period", "line_rate", "unit_rate", "bo_lines", "lines")


@live_read("orders", "past_weeks")
def rates_by_period(engine, period: str, f: ov.Filters) -> ChartRows:
    weekly = rollup_sums(engine, f, ("week",))
    return chart_rows(ov.rates_by_period_from(weekly, period), TREND_FIELDS)


@live_read("orders", "past_weeks")
def rate_kpis(engine, f: ov.Filters) -> ov.RateKpis:
    return ov.rate_kpis_from(rollup_sums(engine, f), rollup_sums(engine, ov.weeks_before(f)))


@live_read("shipments")
def on_time(engine, f: ov.Filters) -> tuple[float | None, int]:
    return ov.on_time_delivery(engine, f)


@live_read("catalogue", "past_weeks")
def _past_demand(engine, f: ov.Filters, start: dt.date, end: dt.date, week: dt.date):
    return ov.demand_totals(engine, f, start, end)


@live_read("catalogue", "orders")
def _current_demand(engine, f: ov.Filters, start: dt.date, end: dt.date):
    return ov.demand_totals(engine, f, start, end)


@live_read("catalogue", "orders", "past_weeks")
def month(engine, f: ov.Filters, today: dt.date) -> pd.DataFrame:
    week = this_week()
    totals = []
    for _, start, end in ov.month_windows(today):
        before, after = split_days(start, end, week)
        parts = [(0, 0, 0, 0)]
        if before is not None:
            parts.append(_past_demand(engine, f, *before, week))
        if after is not None:
            parts.append(_current_demand(engine, f, *after))
        totals.append(tuple(sum(x) for x in zip(*parts, strict=True)))
    return ov.month_table(ov.month_windows(today), totals)


@live_read("catalogue", "models")
def _forecast_weeks(engine, categories: tuple[str, ...]) -> pd.DataFrame:
    return ov.forecast_weeks(engine, categories)


@live_read("catalogue", "models", "orders", "past_weeks")
def forecast(engine, f: ov.Filters) -> ChartRows:
    weekly = rollup_sums(engine, f, ("week",))
    return chart_rows(ov.forecast_beside(weekly, _forecast_weeks(engine, f.categories), f))


@live_read("orders", "past_weeks")
def causes(engine, f: ov.Filters, by: str, period: str) -> ChartRows:
    sums = rollup_sums(engine, f, ov.cause_group(by), shorts_only=True)
    return chart_rows(ov.cause_shares_from(sums, by, period))


def lines_page(
    engine, f: ov.Filters, causes: tuple[str, ...], offset: int, columns: tuple[str, ...]
) -> ov.LinesPage:
    """A page of the lines behind the selection, its ``columns`` as the table shows them."""
    weeks = tuple(ov.drill_weeks(rollup_sums(engine, f, ("week",), True, causes)))
    return _lines_page(engine, f, causes, offset, columns, weeks)


# Keyed by the backorders and by the short lines per week (``weeks``, from the rollup), not by
# every order: the lines are read from their backorders, and of an order only what was fixed
# when it was placed, so an order that goes through in full leaves the page as it was.
@live_read("backorders", "catalogue", "customers", fixed=("orders",))
def _lines_page(
    engine,
    f: ov.Filters,
    causes: tuple[str, ...],
    offset: int,
    columns: tuple[str, ...],
    weeks: tuple[tuple[dt.date, int], ...],
) -> ov.LinesPage:
    page = ov.backorder_lines_page(engine, f, causes=causes, offset=offset, weeks=list(weeks))
    return dataclasses.replace(page, rows=table_rows(page.rows, columns))


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
            color=conditional(alt.ColorValue, pick, ui.theme.PALETTE[0], "#c7d2cc"),
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
            color=conditional(alt.ColorValue, period_pick, ui.theme.PALETTE[2], "#c9d6e3"),
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
                alt.Tooltip("series:N"),
                alt.Tooltip("value:Q", title="Units", format=",.0f"),
            ],
        )
        .properties(height=240)
    )


# One colour per cause (the order of ov.CAUSE_LABELS); "Unknown", the last, in grey rather
# than a seventh colour, which would be a second green beside "Late supplier".
CAUSE_COLOURS = [*ui.theme.PALETTE[:6], "#9ca3af"]


def cause_colour() -> alt.Color:
    return alt.Color(
        "cause:N",
        title="Cause",
        scale=alt.Scale(domain=list(ov.CAUSE_LABELS.values()), range=CAUSE_COLOURS),
        legend=alt.Legend(orient="bottom", columns=3, labelLimit=160),
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
            opacity=conditional(alt.OpacityValue, cause_pick, 1.0, 0.35),
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
