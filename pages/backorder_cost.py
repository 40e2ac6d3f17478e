"""Backorder cost (finance manager): the cost ledger, lost sales and margin, revenue at risk, cash."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from data.schema import utcnow
from queries import finance as fin
from queries import overview as ov
from ui import cost_parts as parts
from ui.at_risk import at_risk as revenue_at_risk
from ui.auth import require_role
from ui.components import (
    empty_state,
    kpi_tile,
    money,
    page_offset,
    paged_table,
    pct,
    qty,
    standard_table,
)
from ui.db import engine
from ui.filters import PERIOD_LABELS, history_filters
from ui.format import datetime_column, money_column, tile_money
from ui.theme import draw  # importing it enables the Larder chart theme

user = require_role("finance_manager")
db = engine()


today = utcnow().date()

st.title("Backorder cost")
st.caption(
    "What backorders cost in money: the cost ledger (handling, split freight, expediting, "
    "credits), the sales lost when backorders were cancelled, and what open backorders put at "
    "risk. Hover over a figure's title for its definition."
)

with st.sidebar:
    st.subheader("Cost filters")
    chosen_range, f_categories, f_segments, period = history_filters(
        "cost", range_label="Between", today=today
    )

if not isinstance(chosen_range, tuple) or len(chosen_range) != 2:
    st.info("Choose the last day of the date range in the sidebar.", icon=":material/date_range:")
    st.stop()
f = ov.Filters(chosen_range[0], chosen_range[1], tuple(f_categories), tuple(f_segments))

summary, by_kind = parts.summary(db, f, period)
totals = summary[
    ["sales", "gross_margin", "backorder_cost", "margin_after_cost", "lost_sales", "lost_margin",
     "potential_revenue"]
].sum() if not summary.empty else pd.Series(dtype=float)  # fmt: skip
at_risk = revenue_at_risk(db, f)
sales = float(totals.get("sales", 0.0))

tiles = st.columns(4)
with tiles[0]:
    kpi_tile(
        "Backorder cost",
        float(totals.get("backorder_cost", 0.0)),
        "Every ledger entry booked in the weeks shown: handling (a setting per backorder), "
        "split freight (a setting per later delivery), expediting and credits booked by hand.",
        fmt=money,
    )
with tiles[1]:
    kpi_tile(
        "Cost as % of sales",
        float(totals["backorder_cost"]) / sales if sales else None,
        f"Backorder cost / sales. {fin.SALES_HELP}",
        fmt=pct,
    )
with tiles[2]:
    kpi_tile(
        "Lost sales",
        float(totals.get("lost_sales", 0.0)),
        f"{fin.LOST_HELP} Lost margin: {money(totals.get('lost_margin', 0.0))}.",
        fmt=money,
    )
with tiles[3]:
    kpi_tile(
        "Revenue at risk",
        at_risk.at_risk,
        ov.AT_RISK_HELP,
        fmt=money,
    )
tiles = st.columns(4)
with tiles[0]:
    kpi_tile("Sales", sales, f"{fin.SALES_HELP} Exactly: {money(sales)}.", fmt=tile_money)
with tiles[1]:
    margin = float(totals.get("gross_margin", 0.0))
    kpi_tile(
        "Gross margin",
        margin / sales if sales else None,
        f"{fin.MARGIN_HELP} In money: {money(margin)}.",
        fmt=pct,
    )
with tiles[2]:
    after = float(totals.get("margin_after_cost", 0.0))
    kpi_tile(
        "Margin after backorder cost",
        after / sales if sales else None,
        f"{fin.MARGIN_HELP} In money: {money(after)}.",
        fmt=pct,
    )
with tiles[3]:
    potential = float(totals.get("potential_revenue", 0.0))
    kpi_tile(
        "Potential revenue",
        potential,
        f"{fin.POTENTIAL_HELP} Exactly: {money(potential)}.",
        fmt=tile_money,
    )

# --- Cost by kind and period ---------------------------------------------------------------

st.subheader(f"Backorder cost per {period}")
if summary.empty:
    empty_state("No sales or costs in these weeks.", "Widen the date range or clear a filter.")
else:
    draw(parts.cost_bars(period), by_kind, width="stretch")

SUMMARY_COLUMNS = {
    "period": st.column_config.TextColumn(PERIOD_LABELS[period]),
    "category": st.column_config.TextColumn("Category"),
    "sales": money_column("Sales", help=fin.SALES_HELP),
    "gross_margin": money_column("Gross margin", help=fin.MARGIN_HELP),
    "backorder_cost": money_column("Backorder cost"),
    "cost_share_of_sales": st.column_config.NumberColumn(
        "Cost % of sales", format="percent", help="Backorder cost / sales"
    ),
    "margin_after_cost": money_column("Margin after backorder cost"),
    "lost_sales": money_column("Lost sales", help=fin.LOST_HELP),
    "lost_margin": money_column("Lost margin"),
    "potential_revenue": money_column("Potential revenue", help=fin.POTENTIAL_HELP),
    **{kind: money_column(label) for kind, label in fin.COST_KIND_LABELS.items()},
}
st.markdown(f"**Per {period} and category**")
standard_table(
    summary[list(SUMMARY_COLUMNS)] if not summary.empty else summary,
    key="cost_summary",
    column_config=SUMMARY_COLUMNS,
    file_name="backorder_cost_by_period",
    empty_message="No sales or costs in these weeks.",
    height=360 if len(summary) > 10 else "auto",
)

# --- Cash ----------------------------------------------------------------------------------

st.subheader("Cash tied up")
cash = parts.cash(db)
left, mid, right = st.columns(3)
with left:
    kpi_tile("In open purchase orders", cash["open_purchase_orders"], fin.CASH_HELP, fmt=money)
with mid:
    kpi_tile(
        "Waiting in open backorders",
        cash["open_backorders"],
        f"{fin.CASH_HELP} At cost: {money(cash['open_backorders_at_cost'])}.",
        fmt=money,
    )
with right:
    kpi_tile(
        "Open backorders",
        at_risk.open_backorders,
        "Backorders still waiting (with the filters' categories and segments).",
        fmt=qty,
    )

# --- The ledger, for accounting ------------------------------------------------------------

st.subheader("Cost ledger")
st.caption(
    "One row per entry, for accounting: date, kind, amount, order, customer, category, oldest "
    f"first, {fin.LEDGER_ROWS} to a page; CSV and Excel hold every entry of the filters."
)
ledger = parts.ledger_page(db, f, page_offset("cost_ledger", f, rows=fin.LEDGER_ROWS))
LEDGER_COLUMNS = {
    "date": datetime_column("Date"),
    "kind": st.column_config.TextColumn("Kind"),
    "amount": money_column("Amount"),
    "order_number": st.column_config.TextColumn("Order"),
    "customer": st.column_config.TextColumn("Customer"),
    "category": st.column_config.TextColumn("Category"),
    "sku": st.column_config.TextColumn("SKU"),
    "backorder_id": st.column_config.NumberColumn("Backorder", format="%d"),
    "note": st.column_config.TextColumn("Note", width="medium"),
}
paged_table(
    ledger.rows,
    key="cost_ledger",
    total=ledger.total,
    offset=ledger.offset,
    export=lambda: fin.cost_ledger(db, f),
    column_config=LEDGER_COLUMNS,
    file_name="backorder_cost_ledger",
    empty_message="No cost was booked in these weeks.",
    rows=fin.LEDGER_ROWS,
    height=380 if len(ledger.rows) > 10 else "auto",
)
