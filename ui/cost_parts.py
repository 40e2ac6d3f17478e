"""The Backorder cost page's cached reads and chart spec, defined once per process here rather
than again in every run of the page.

Sales per period come from the backorder rollup, costs from the ledger's weekly summary: both
have a row per week, so each is read in two parts (ui/week_split.py says why). The finished
weeks are read once and kept while orders flow; this week's rows are read again after an order
(sales) or a booked cost, and :func:`queries.finance.cost_summary_from` adds up both parts'
rows as it adds up the weeks of one read.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

import ui.theme
from queries import finance as fin
from queries import overview as ov
from ui.db import live_read
from ui.filters import PERIOD_LABELS
from ui.week_split import split, this_week

# --- Cost per period and category: the finished weeks and this week read apart -------------


@live_read("past_weeks")
def _past_weeks(engine, f: ov.Filters) -> tuple[fin.SalesRows, fin.CostRows]:
    return fin.sales_rows(engine, f), fin.cost_rows(engine, f)


@live_read("backorders", "orders")
def _this_week(engine, f: ov.Filters) -> tuple[fin.SalesRows, fin.CostRows]:
    return fin.sales_rows(engine, f), fin.cost_rows(engine, f)


def cost_by_kind(table: pd.DataFrame) -> pd.DataFrame:
    """Cost per period and kind (one row each, kind by kind), for the stacked bars."""
    kinds = list(fin.COST_KIND_LABELS)
    per_period = table.groupby("period")[kinds].sum()
    periods = per_period.index.tolist()
    return pd.DataFrame(
        {
            "period": periods * len(kinds),
            "kind": [fin.COST_KIND_LABELS[kind] for kind in kinds for _ in periods],
            "amount": np.concatenate([per_period[kind].to_numpy() for kind in kinds]),
        }
    )


@live_read("backorders", "orders", "past_weeks")
def summary(engine, f: ov.Filters, period: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`queries.finance.cost_summary`, the past weeks and this one read apart, and
    :func:`cost_by_kind` of it (empty when the summary is)."""
    past, current = split(f, this_week())
    sales: fin.SalesRows = ()
    costs: fin.CostRows = ()
    # The older weeks first: each part's rows are in week order.
    for part, read in ((past, _past_weeks), (current, _this_week)):
        if part is not None:
            more_sales, more_costs = read(engine, part)
            sales += more_sales
            costs += more_costs
    table = fin.cost_summary_from(sales, costs, period)
    by_kind = cost_by_kind(table) if not table.empty else pd.DataFrame()
    return table, by_kind


# --- The other figures ----------------------------------------------------------------------


@live_read("backorders", "catalogue", "customers", "orders")
def ledger_page(engine, f: ov.Filters, offset: int) -> fin.LedgerPage:
    return fin.cost_ledger_page(engine, f, limit=fin.LEDGER_ROWS, offset=offset)


@live_read("backorders", "catalogue", "orders", "purchasing")
def cash(engine) -> dict[str, float]:
    return fin.cash_tied(engine)


@live_read("backorders", "catalogue", "customers", "orders")
def at_risk(engine, f: ov.Filters) -> ov.RiskTotals:
    return ov.revenue_at_risk(engine, f)


# --- Chart spec -------------------------------------------------------------------------------


@ui.theme.chart_spec
def cost_bars(period: str) -> alt.Chart:
    return (
        alt.Chart()
        .mark_bar()
        .encode(
            x=alt.X("period:O", title=PERIOD_LABELS[period], axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("amount:Q", title="Cost (€)", stack=True),
            color=alt.Color("kind:N", title="Kind", legend=alt.Legend(orient="top")),
            tooltip=[
                alt.Tooltip("period:N", title=PERIOD_LABELS[period]),
                alt.Tooltip("kind:N", title="Kind"),
                alt.Tooltip("amount:Q", title="Cost (€)", format=",.2f"),
            ],
        )
        .properties(height=280)
    )
