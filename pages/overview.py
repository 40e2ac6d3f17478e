"""Overview (business owner): backorder rates by category, segment and period; root causes."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from data.schema import utcnow
from operations.root_cause import RULE_HELP
from queries import overview as ov
from ui import overview_parts as parts
from ui.at_risk import at_risk as revenue_at_risk
from ui.auth import require_role
from ui.components import empty_state, kpi_tile, money, page_offset, paged_table, pct, qty
from ui.db import engine
from ui.filters import history_filters
from ui.format import count_column, datetime_column, money_column, points
from ui.theme import draw  # importing it enables the Larder chart theme
from ui.weekly_report import weekly_report_download

user = require_role("owner")
db = engine()

BASIS_LABELS = {"line_rate": "Lines", "unit_rate": "Units"}


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
pick_category = parts.picked(parts.CATEGORY_CHART, "category_pick", "category")
pick_segment = parts.picked(parts.SEGMENT_CHART, "segment_pick", "segment")
pick_period = parts.picked(parts.PERIOD_CHART, "period_pick", "period")
pick_cause = parts.picked(parts.CAUSE_CHART, "cause_pick", "root_cause")
pick_cause_category = parts.picked(parts.CAUSE_CHART, "cause_pick", "group")

# --- KPIs ----------------------------------------------------------------------------------

rates = parts.rate_kpis(db, base)
on_time, delivered = parts.on_time(db, base)
at_risk = revenue_at_risk(db, base)
tiles = st.columns(4)
with tiles[0]:
    kpi_tile(
        "Backorder rate",
        rates.line_rate,
        f"{ov.RATE_HELP} The change compares the same number of weeks just before.",
        delta=rates.rate_change,
        fmt=pct,
        delta_fmt=points,
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


left, right = st.columns(2)
with left:
    by_category = parts.rates_by(db, "category", parts.narrowed(base, segments=pick_segment))
    st.markdown(
        "**By category**" + (f" — segment {', '.join(pick_segment)}" if pick_segment else "")
    )
    if by_category.empty:
        empty_state("No orders in these weeks.", "Widen the date range or clear a filter.")
    else:
        draw(
            parts.rate_bars("category", "category_pick", basis, rate_title),
            by_category,
            key=parts.CATEGORY_CHART,
            on_select="rerun",
            selection_mode="category_pick",
            width="stretch",
        )
with right:
    by_segment = parts.rates_by(db, "segment", parts.narrowed(base, categories=pick_category))
    st.markdown(
        "**By customer segment**"
        + (f" — category {', '.join(pick_category)}" if pick_category else "")
    )
    if by_segment.empty:
        empty_state("No orders in these weeks.", "Widen the date range or clear a filter.")
    else:
        draw(
            parts.rate_bars("segment", "segment_pick", basis, rate_title),
            by_segment,
            key=parts.SEGMENT_CHART,
            on_select="rerun",
            selection_mode="segment_pick",
            width="stretch",
        )

picked_filters = parts.narrowed(base, categories=pick_category, segments=pick_segment)
trend = parts.rates_by_period(db, period, picked_filters)
st.markdown(
    f"**{rate_title} per {period}**"
    + (f" — {', '.join(pick_category + pick_segment)}" if pick_category or pick_segment else "")
)
if trend.empty:
    empty_state("No orders in these weeks.")
else:
    draw(
        parts.trend_bars(period, basis, rate_title),
        trend,
        key=parts.PERIOD_CHART,
        on_select="rerun",
        selection_mode="period_pick",
        width="stretch",
    )

trend_left, trend_right = st.columns([3, 2])
with trend_left:
    st.markdown("**Units ordered per week, with the demand forecast**")
    demand = parts.forecast(db, picked_filters)
    if demand.empty:
        empty_state("No orders in these weeks.")
    else:
        draw(parts.demand_lines(), demand, width="stretch")
        st.caption(
            "Forecast: the newest demand model run, summed over the products of the chosen "
            "categories (segments do not apply to it)."
        )
with trend_right:
    month = parts.month(db, picked_filters, today)
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
        delta_fmt=points,
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
    by_cat = parts.causes(db, parts.narrowed(base, segments=pick_segment), "category", period)
    if by_cat.empty:
        empty_state("No backorders in these weeks.")
    else:
        draw(
            parts.cause_bars(),
            by_cat,
            key=parts.CAUSE_CHART,
            on_select="rerun",
            selection_mode="cause_pick",
            width="stretch",
        )
with cause_right:
    st.markdown(f"**Share by {period}**")
    by_period = parts.causes(db, picked_filters, "period", period)
    if by_period.empty:
        empty_state("No backorders in these weeks.")
    else:
        draw(parts.cause_columns(period), by_period, width="stretch")

# --- The lines behind the selection --------------------------------------------------------

drill = picked_filters
if pick_period and not trend.empty and pick_period[0] in set(trend.frame["period"]):
    start, end = parts.period_window(pick_period[0], period, trend.frame)
    drill = parts.narrowed(drill, start=max(start, base.first_week), end=min(end, base.end))
if pick_cause_category:
    drill = parts.narrowed(drill, categories=pick_cause_category)
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
LINE_COLUMNS = {
    "order_number": st.column_config.TextColumn("Order"),
    "placed": datetime_column("Placed"),
    "category": st.column_config.TextColumn("Category"),
    "segment": st.column_config.TextColumn("Segment"),
    "cause": st.column_config.TextColumn("Root cause"),
    "customer": st.column_config.TextColumn("Customer"),
    "sku": st.column_config.TextColumn("SKU"),
    "product": st.column_config.TextColumn("Product", width="medium"),
    "qty_ordered": count_column("Ordered"),
    "qty_short": count_column("Short"),
    "qty_filled": count_column("Filled"),
    "qty_cancelled": count_column("Cancelled"),
    "status": st.column_config.TextColumn("Status"),
    "value_short": money_column("Value short"),
}
lines = parts.lines_page(
    db,
    drill,
    pick_cause,
    page_offset("overview_lines", (drill, pick_cause), rows=ov.DRILL_ROWS),
    tuple(LINE_COLUMNS),
)
paged_table(
    lines.rows,
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
