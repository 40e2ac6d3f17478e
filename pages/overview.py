"""Overview (business owner): backorder rates by category, segment and period; root causes."""

from __future__ import annotations

import datetime as dt

import altair as alt
import pandas as pd
import streamlit as st

import ui.theme  # noqa: F401  registers and enables the Larder chart theme
from data.schema import utcnow
from operations.root_cause import RULE_HELP
from queries import overview as ov
from ui.auth import require_role
from ui.components import empty_state, kpi_tile, money, page_offset, paged_table, pct, qty
from ui.db import engine, live_read
from ui.filters import PERIOD_LABELS, history_filters
from ui.weekly_report import weekly_report_download

user = require_role("owner")
db = engine()

CATEGORY_CHART = "overview_category_chart"
SEGMENT_CHART = "overview_segment_chart"
PERIOD_CHART = "overview_period_chart"
CAUSE_CHART = "overview_cause_chart"
BASIS_LABELS = {"line_rate": "Lines", "unit_rate": "Units"}


# --- Cached reads (each keyed by the versions of the subjects it reads) -------------------


@live_read("orders")
def _rates_by(engine, dimension: str, f: ov.Filters) -> pd.DataFrame:
    return ov.rates_by(engine, dimension, f)


@live_read("orders")
def _rates_by_period(engine, period: str, f: ov.Filters) -> pd.DataFrame:
    return ov.rates_by_period(engine, period, f)


@live_read("orders")
def _rate_kpis(engine, f: ov.Filters) -> ov.RateKpis:
    return ov.rate_kpis(engine, f)


@live_read("shipments")
def _on_time(engine, f: ov.Filters) -> tuple[float | None, int]:
    return ov.on_time_delivery(engine, f)


@live_read("backorders", "catalogue", "customers", "orders")
def _at_risk(engine, f: ov.Filters) -> ov.RiskTotals:
    return ov.revenue_at_risk(engine, f)


@live_read("catalogue", "orders")
def _month(engine, f: ov.Filters, today: dt.date) -> pd.DataFrame:
    return ov.month_against_last_year(engine, f, today)


@live_read("catalogue", "models", "orders")
def _forecast(engine, f: ov.Filters) -> pd.DataFrame:
    return ov.demand_against_forecast(engine, f)


@live_read("orders")
def _causes(engine, f: ov.Filters, by: str, period: str) -> pd.DataFrame:
    return ov.cause_shares(engine, f, by=by, period=period)


@live_read("backorders", "catalogue", "customers", "orders")
def _lines_page(engine, f: ov.Filters, causes: tuple[str, ...], offset: int) -> ov.LinesPage:
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


# --- Page ----------------------------------------------------------------------------------

today = utcnow().date()

st.title("Overview")
st.caption(
    "Backorder rates by category, segment and period, their root causes and what they put at "
    "risk. Click a bar to filter the other charts and the table of lines below; click it again "
    "(or an empty spot) to clear."
)
with st.sidebar:
    weekly_report_download(db, key="overview_weekly_report")

with st.sidebar:
    st.subheader("Overview filters")
    chosen_range, f_categories, f_segments, period = history_filters(
        "overview", range_label="Orders placed between", today=today
    )
    basis = st.radio(
        "Rate of",
        list(BASIS_LABELS),
        format_func=BASIS_LABELS.get,
        horizontal=True,
        key="overview_basis",
        help="Lines: share of order lines that went short. Units: share of units.",
    )

if not isinstance(chosen_range, tuple) or len(chosen_range) != 2:
    st.info("Choose the last day of the date range in the sidebar.", icon=":material/date_range:")
    st.stop()
base = ov.Filters(chosen_range[0], chosen_range[1], tuple(f_categories), tuple(f_segments))

# What the charts have selected (from the previous interaction).
pick_category = picked(CATEGORY_CHART, "category_pick", "category")
pick_segment = picked(SEGMENT_CHART, "segment_pick", "segment")
pick_period = picked(PERIOD_CHART, "period_pick", "period")
pick_cause = picked(CAUSE_CHART, "cause_pick", "root_cause")
pick_cause_category = picked(CAUSE_CHART, "cause_pick", "group")

# --- KPIs ----------------------------------------------------------------------------------

rates = _rate_kpis(db, base)
on_time, delivered = _on_time(db, base)
at_risk = _at_risk(db, base)
tiles = st.columns(4)
with tiles[0]:
    kpi_tile(
        "Backorder rate",
        rates.line_rate,
        f"{ov.RATE_HELP} The change compares the same number of weeks just before.",
        delta=rates.rate_change,
        fmt=pct,
        delta_color="inverse",
    )
with tiles[1]:
    kpi_tile("Fill rate", rates.fill_rate, ov.FILL_RATE_HELP, fmt=pct)
with tiles[2]:
    kpi_tile(
        "On-time delivery",
        on_time,
        f"{ov.ON_TIME_HELP} {qty(delivered)} shipments delivered.",
        fmt=pct,
    )
with tiles[3]:
    kpi_tile(
        "Revenue at risk",
        at_risk.at_risk,
        f"{ov.AT_RISK_HELP} Open backorders now: {money(at_risk.open_value)} of orders waiting.",
        fmt=money,
    )

# --- Cross-filtering charts ----------------------------------------------------------------

rate_title = "Backorder rate (lines)" if basis == "line_rate" else "Backorder rate (units)"


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


left, right = st.columns(2)
with left:
    by_category = _rates_by(db, "category", narrowed(base, segments=pick_segment))
    st.markdown(
        "**By category**" + (f" — segment {', '.join(pick_segment)}" if pick_segment else "")
    )
    if by_category.empty:
        empty_state("No orders in these weeks.", "Widen the date range or clear a filter.")
    else:
        st.vega_lite_chart(
            by_category,
            rate_bars("category", "category_pick", basis, rate_title),
            key=CATEGORY_CHART,
            on_select="rerun",
            selection_mode="category_pick",
            width="stretch",
        )
with right:
    by_segment = _rates_by(db, "segment", narrowed(base, categories=pick_category))
    st.markdown(
        "**By customer segment**"
        + (f" — category {', '.join(pick_category)}" if pick_category else "")
    )
    if by_segment.empty:
        empty_state("No orders in these weeks.", "Widen the date range or clear a filter.")
    else:
        st.vega_lite_chart(
            by_segment,
            rate_bars("segment", "segment_pick", basis, rate_title),
            key=SEGMENT_CHART,
            on_select="rerun",
            selection_mode="segment_pick",
            width="stretch",
        )

picked_filters = narrowed(base, categories=pick_category, segments=pick_segment)
trend = _rates_by_period(db, period, picked_filters)
st.markdown(
    f"**{rate_title} per {period}**"
    + (f" — {', '.join(pick_category + pick_segment)}" if pick_category or pick_segment else "")
)
if trend.empty:
    empty_state("No orders in these weeks.")
else:
    st.vega_lite_chart(
        trend[["period", "line_rate", "unit_rate", "bo_lines", "lines"]],
        trend_bars(period, basis, rate_title),
        key=PERIOD_CHART,
        on_select="rerun",
        selection_mode="period_pick",
        width="stretch",
    )

trend_left, trend_right = st.columns([3, 2])
with trend_left:
    st.markdown("**Units ordered per week, with the demand forecast**")
    demand = _forecast(db, picked_filters)
    if demand.empty:
        empty_state("No orders in these weeks.")
    else:
        st.vega_lite_chart(demand, demand_lines(), width="stretch")
        st.caption(
            "Forecast: the newest demand model run, summed over the products of the chosen "
            "categories (segments do not apply to it)."
        )
with trend_right:
    month = _month(db, picked_filters, today)
    this, last = month.iloc[0], month.iloc[1]
    st.markdown(f"**This month against {last['from']:%B %Y}**")
    change = (
        None
        if pd.isna(this["line_rate"]) or pd.isna(last["line_rate"])
        else this["line_rate"] - last["line_rate"]
    )
    kpi_tile(
        f"Backorder rate, {this['from']:%d %b}-{this['to']:%d %b %Y}",
        this["line_rate"],
        ov.MONTH_HELP,
        delta=change,
        fmt=pct,
        delta_color="inverse",
    )
    kpi_tile(
        f"Same days of {last['from']:%B %Y}",
        last["line_rate"],
        f"{ov.MONTH_HELP} Lines then: {qty(last['lines'])}; now: {qty(this['lines'])}.",
        fmt=pct,
    )

# --- Root causes ---------------------------------------------------------------------------

st.subheader("Root causes", help=RULE_HELP)
st.caption(
    "Every backorder has one cause, decided when it went short (hover over the question mark "
    "for the rule). Click a part of a bar to list the lines behind it."
)
cause_left, cause_right = st.columns(2)
with cause_left:
    st.markdown("**Share by category**")
    by_cat = _causes(db, narrowed(base, segments=pick_segment), "category", period)
    if by_cat.empty:
        empty_state("No backorders in these weeks.")
    else:
        st.vega_lite_chart(
            by_cat,
            cause_bars(),
            key=CAUSE_CHART,
            on_select="rerun",
            selection_mode="cause_pick",
            width="stretch",
        )
with cause_right:
    st.markdown(f"**Share by {period}**")
    by_period = _causes(db, picked_filters, "period", period)
    if by_period.empty:
        empty_state("No backorders in these weeks.")
    else:
        st.vega_lite_chart(by_period, cause_columns(period), width="stretch")

# --- The lines behind the selection --------------------------------------------------------

drill = picked_filters
if pick_period and not trend.empty and pick_period[0] in set(trend["period"]):
    start, end = period_window(pick_period[0], period, trend)
    drill = narrowed(drill, start=max(start, base.first_week), end=min(end, base.end))
if pick_cause_category:
    drill = narrowed(drill, categories=pick_cause_category)
described = [
    *(f"category {c}" for c in drill.categories),
    *(f"segment {s}" for s in drill.segments),
    *(f"cause {ov.CAUSE_LABELS.get(c, c)}" for c in pick_cause),
]
st.subheader("Backorder lines behind the selection")
st.caption(
    f"Orders placed in the weeks from {drill.first_week:%d %b %Y} to "
    f"{drill.last_week + dt.timedelta(days=6):%d %b %Y}"
    + (f"; {', '.join(described)}" if described else "; all categories and segments")
    + f". Newest first, {ov.DRILL_ROWS} to a page; CSV and Excel hold every line of the selection."
)
lines = _lines_page(
    db, drill, pick_cause, page_offset("overview_lines", (drill, pick_cause), rows=ov.DRILL_ROWS)
)
LINE_COLUMNS = {
    "order_number": st.column_config.TextColumn("Order"),
    "placed": st.column_config.DatetimeColumn("Placed", format="YYYY-MM-DD HH:mm"),
    "category": st.column_config.TextColumn("Category"),
    "segment": st.column_config.TextColumn("Segment"),
    "cause": st.column_config.TextColumn("Root cause"),
    "customer": st.column_config.TextColumn("Customer"),
    "sku": st.column_config.TextColumn("SKU"),
    "product": st.column_config.TextColumn("Product", width="medium"),
    "qty_ordered": st.column_config.NumberColumn("Ordered", format="%d"),
    "qty_short": st.column_config.NumberColumn("Short", format="%d"),
    "qty_filled": st.column_config.NumberColumn("Filled", format="%d"),
    "qty_cancelled": st.column_config.NumberColumn("Cancelled", format="%d"),
    "status": st.column_config.TextColumn("Status"),
    "value_short": st.column_config.NumberColumn("Value short (€)", format="%.2f"),
}
paged_table(
    lines.rows[list(LINE_COLUMNS)] if not lines.rows.empty else lines.rows,
    key="overview_lines",
    total=lines.total,
    offset=lines.offset,
    export=lambda: ov.backorder_lines(db, drill, causes=pick_cause)[list(LINE_COLUMNS)],
    column_config=LINE_COLUMNS,
    file_name="backorder_lines",
    empty_message="No backordered line matches this selection.",
    empty_hint="Clear a chart selection or widen the date range.",
    rows=ov.DRILL_ROWS,
    height=380 if len(lines.rows) > 10 else "auto",
)
