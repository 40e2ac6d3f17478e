"""The backorder-risk list: products most likely to go on backorder soon, with their drivers.

A compact section for Stock control. Each row shows the model's probability of a backorder
within the risk horizon, what pushes it up, and beside it the simple rule's verdict (available
below the reorder point), so the two can be compared product by product.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from queries import risk
from ui.components import ShownTable, shown_table, standard_table
from ui.db import live_read
from ui.format import count_column, decimal_column, qty

SHOWN = 15  # the riskiest products, shown and exported
SECTION_KEY = "stock_risk"  # the section's open state
RULE_LABELS = {1: "Below reorder point", 0: "Not triggered"}

COLUMNS = {
    "sku": st.column_config.TextColumn("SKU", pinned=True),
    "name": st.column_config.TextColumn("Product", width="medium"),
    "risk": st.column_config.ProgressColumn(
        "Risk",
        help="Probability of a backorder within the horizon, from the risk model",
        format="percent",
        min_value=0.0,
        max_value=1.0,
    ),
    "drivers": st.column_config.TextColumn(
        "Drivers", width="large", help="What raises this product's risk most"
    ),
    "rule": st.column_config.TextColumn(
        "Rule", help="The simple rule: available stock below the reorder point"
    ),
    "available": count_column("Available"),
    "reorder_point": count_column("Reorder point"),
    "on_order": count_column("On order"),
    "cover_days": decimal_column("Days of cover"),
    "supplier": st.column_config.TextColumn("Supplier"),
}


# Scores move with every order, but one more order hardly reorders the list: re-read at most once
# a minute while orders flow.
# Only the rows shown are kept (with the count of all): every run reads the cached list back,
# and every product's scores would cost more to copy than the rest of the live summary.
@live_read(
    "stock", "orders", "backorders", "purchasing", "catalogue", "models", "settings", settle_s=60
)
def _risk_list(engine: Engine) -> tuple[risk.RiskList, int, ShownTable]:
    """The riskiest products, how many were scored, and the table as the section shows it."""
    found = risk.backorder_risk(engine)
    top = risk.RiskList(
        table=found.table.head(SHOWN).reset_index(drop=True),
        horizon_weeks=found.horizon_weeks,
        source=found.source,
    )
    shown = top.table.assign(rule=top.table["rule"].map(RULE_LABELS))
    columns = [c for c in COLUMNS if c in shown.columns]
    table = shown_table(shown[columns] if not shown.empty else pd.DataFrame())
    return top, len(found.table), table


@live_read("models")
def _horizon(engine: Engine) -> int | None:
    return risk.risk_horizon(engine)


def risk_section(engine: Engine) -> None:
    """The risk list as an expander: riskiest products first, the rule's verdict beside.

    Scoring every product takes a good part of a second on a large catalogue, so the list is
    read only while the section is open (opening it reruns the page); closed, only the title's
    horizon is read, once per model run.
    """
    horizon = _horizon(engine)
    if horizon is None:
        title = "Backorder risk: no risk model yet"
    else:
        title = f"Backorder risk, next {horizon} weeks"
    section = st.expander(
        title, expanded=False, icon=":material/trending_up:", key=SECTION_KEY, on_change="rerun"
    )
    if not section.open:
        return
    found, scored, table = _risk_list(engine)
    top = found.table
    with section:
        if found.horizon_weeks is not None and not top.empty:
            flagged = int(top["rule"].sum())
            st.caption(
                f"The {qty(len(top))} riskiest of {qty(scored)} products; the reorder rule "
                f"flags {qty(flagged)} of them. Scored by {found.source}."
            )
        elif horizon is None:
            st.caption(
                "No risk model is trained yet, so the reorder rule alone orders this list "
                "(products below their reorder point first); the retrain-models job trains it."
            )
        standard_table(
            table,
            key="risk_table",
            column_config={c: COLUMNS[c] for c in table.frame.columns},
            file_name="backorder_risk",
            empty_message="No active product to score.",
        )
