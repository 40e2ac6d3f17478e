"""Loyalty impact (marketing manager): backorder exposure against retention, NPS and sentiment."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from data.schema import SEGMENTS, utcnow
from queries import loyalty as lo
from ui import loyalty_parts as parts
from ui.auth import require_role
from ui.components import empty_state, kpi_tile, pct, qty, standard_table
from ui.db import engine
from ui.format import count_column, date_column, decimal_column, money_column, points
from ui.theme import draw  # importing it enables the Larder chart theme

user = require_role("marketing_manager")
db = engine()

DEFAULT_DAYS = 365
COMPARE_BY = {"All customers": None, "Segment": "segment", "Cohort month": "cohort"}


today = utcnow().date()
retention_days = parts.retention_setting(db)

st.title("Loyalty impact")
st.caption(
    "Customers who met backorders against those who did not: retention, repeat orders, CSAT, "
    "NPS and sentiment. Figures are refreshed every "
    f"{parts.SLOW_TTL_S // 60} minutes."
)
st.warning(lo.ASSOCIATION_NOTE, icon=":material/info:")

with st.sidebar:
    st.subheader("Loyalty filters")
    chosen_range = st.date_input(
        "Orders between",
        value=(today - dt.timedelta(days=DEFAULT_DAYS), today),
        max_value=today,
        key="loyalty_range",
    )
    f_segments = st.multiselect(
        "Customer segments", SEGMENTS, key="loyalty_segments", placeholder="All segments"
    )
    compare_by = st.radio("Compare", list(COMPARE_BY), key="loyalty_compare_by")

if not isinstance(chosen_range, tuple) or len(chosen_range) != 2:
    st.info("Choose the last day of the date range in the sidebar.", icon=":material/date_range:")
    st.stop()
start, end = chosen_range
segments = tuple(sorted(f_segments))
by = COMPARE_BY[compare_by]
compared = parts.compared(db, start, end, retention_days, today, segments, by)
if compared is None:
    empty_state("No customer ordered in this window.", "Widen the date range or clear a filter.")
    st.stop()

overall, table = compared
exposed = overall.loc["Met backorders"] if "Met backorders" in overall.index else None
clear = overall.loc["No backorders"] if "No backorders" in overall.index else None


def value(row, column):
    return None if row is None else row[column]


def gap(column):
    a, b = value(exposed, column), value(clear, column)
    return None if a is None or b is None or pd.isna(a) or pd.isna(b) else a - b


retention_help = lo.RETENTION_HELP.format(days=retention_days)
tiles = st.columns(4)
with tiles[0]:
    kpi_tile(
        "Met backorders",
        value(exposed, "customers"),
        f"{lo.EXPOSURE_HELP} Without backorders: {qty(value(clear, 'customers'))} customers.",
    )
with tiles[1]:
    kpi_tile(
        "Retention, met backorders",
        value(exposed, "retention"),
        f"{retention_help} The change is against customers without backorders "
        f"({pct(value(clear, 'retention'))}).",
        delta=gap("retention"),
        fmt=pct,
        delta_fmt=points,
    )
with tiles[2]:
    kpi_tile(
        "NPS, met backorders",
        value(exposed, "nps"),
        f"{lo.NPS_HELP} Without backorders: {qty(value(clear, 'nps'))}.",
        delta=gap("nps"),
        fmt=lambda x: "—" if x is None or pd.isna(x) else f"{x:+.0f}",
    )
with tiles[3]:
    kpi_tile(
        "CSAT, met backorders",
        value(exposed, "csat"),
        f"Average CSAT (1-5). Without backorders: {qty(value(clear, 'csat'))}.",
        delta=gap("csat"),
        fmt=lambda x: "—" if x is None or pd.isna(x) else f"{x:.2f}",
    )

# Only the open section is drawn: the first screen is the comparison, and the monthly scores,
# comments and win-back list are read when their tab is chosen (and kept cached after).
SECTIONS = ["Comparison", "Over time", "Win-back list"]
comparison_tab, over_time_tab, win_back_tab = st.tabs(
    SECTIONS, key="loyalty_section", on_change="rerun"
)

with comparison_tab:
    if comparison_tab.open:
        st.subheader("Exposed against not exposed" + (f", by {compare_by.lower()}" if by else ""))
        COMPARE_COLUMNS = {
            **({by: st.column_config.TextColumn(compare_by)} if by else {}),
            "group": st.column_config.TextColumn("Group"),
            "customers": count_column("Customers", help="Group size"),
            "judged": count_column(
                "Judged for retention",
                help="Customers whose reference day is old enough",
            ),
            "retention": st.column_config.NumberColumn(
                "Retention", format="percent", help=retention_help
            ),
            "repeat_interval_days": decimal_column(
                "Repeat interval (days)",
                help="Median of customers' mean days between orders",
            ),
            "csat": decimal_column("CSAT", 2),
            "nps": decimal_column("NPS", 0, help=lo.NPS_HELP),
            "sentiment": decimal_column("Sentiment", 2, help="-1 to 1"),
            "lines_backordered": count_column("Lines backordered"),
            "days_waited": decimal_column("Days waited (mean)", help=lo.EXPOSURE_HELP),
            "promises_broken": count_column("Promises broken"),
        }
        standard_table(
            table[list(COMPARE_COLUMNS)],
            key="loyalty_compare",
            column_config=COMPARE_COLUMNS,
            file_name="loyalty_comparison",
            height=360 if len(table) > 10 else "auto",
        )
        parts.sentiment_note(db, table["sentiment"])

# --- Over time -----------------------------------------------------------------------------

with over_time_tab:
    if over_time_tab.open:
        st.subheader("NPS, sentiment and reputation over time", help=lo.REPUTATION_HELP)
        monthly = parts.monthly(db, start, end, today)
        if monthly.empty:
            empty_state("No feedback in this window.")
        else:
            latest = monthly.iloc[-1]
            tiles = st.columns(3)
            with tiles[0]:
                kpi_tile(
                    f"Reputation index, {latest['month']}",
                    latest["reputation"],
                    lo.REPUTATION_HELP,
                    fmt=lambda x: "—" if x is None or pd.isna(x) else f"{x:.0f} / 100",
                )
            with tiles[1]:
                kpi_tile(f"NPS, {latest['month']}", latest["nps"], lo.NPS_HELP, fmt=lambda x: "—"
                         if x is None or pd.isna(x) else f"{x:+.0f}")  # fmt: skip
            with tiles[2]:
                kpi_tile(
                    f"Negative comments about late or missing goods, {latest['month']}",
                    latest["late_share"],
                    "Of the comments with negative sentiment, the share that mention late or missing "
                    f"goods (words: {', '.join(lo.LATE_OR_MISSING_WORDS)}). Blank until comments are "
                    "scored by the sentiment model.",
                    fmt=pct,
                )
            draw(parts.score_lines(), parts.monthly_scores(db, start, end, today), width="stretch")
            parts.sentiment_note(db, monthly["sentiment"])

        st.markdown("**The most negative comments of the last 90 days**")
        standard_table(
            parts.worst(db, today),
            key="loyalty_comments",
            column_config={
                "date": date_column("Date"),
                "order_number": st.column_config.TextColumn("Order"),
                "sentiment": decimal_column("Sentiment", 2),
                "comment": st.column_config.TextColumn("Comment", width="large"),
            },
            file_name="negative_comments",
            empty_message="No scored comment in the last 90 days.",
            empty_hint="Comments are scored when the models are trained (python -m models.train).",
        )

# --- Win-back ------------------------------------------------------------------------------

with win_back_tab:
    if win_back_tab.open:
        st.subheader("Win-back list")
        st.caption(
            f"Customers who met backorders in the window and have not ordered for {retention_days} days "
            f"(the retention setting). Value: what they ordered in the last {lo.WIN_BACK_VALUE_DAYS} days."
        )
        win_back = parts.win_back(db, start, end, retention_days, today, segments)
        standard_table(
            win_back,
            key="loyalty_win_back",
            column_config={
                "last_order": date_column("Last order"),
                "value": money_column("Value"),
                "days_waited": decimal_column("Days waited"),
            },
            file_name="win_back",
            empty_message="No customer who met backorders has stopped ordering.",
        )
