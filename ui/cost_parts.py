"""The Backorder cost page's cached reads and chart spec, defined once per process here rather
than again in every run of the page.

Sales per period come from the backorder rollup, costs from the ledger's weekly summary: both
have a row per week, so each is read in two parts (ui/week_split.py says why). The finished
weeks are read and summed once and kept while orders flow; this week's rows are read again
after an order or a booked cost, and :func:`queries.finance.cost_sums` goes on from the
finished weeks' sums with them, as one pass over every week would.
"""

from __future__ import annotations

import dataclasses

import altair as alt
import numpy as np
import pandas as pd

import ui.theme
from queries import finance as fin
from queries import overview as ov
from ui.components import table_rows
from ui.db import live_read
from ui.filters import PERIOD_LABELS
from ui.theme import ChartRows, chart_rows
from ui.week_split import split, this_week

# --- Cost per period and category: the finished weeks and this week read apart -------------


@live_read("past_weeks")
def _past_weeks(engine, f: ov.Filters, period: str) -> fin.CostSums:
    return fin.cost_sums(fin.sales_rows(engine, f), fin.cost_rows(engine, f), period)


@live_read("backorders", "orders")
def _this_week(engine, f: ov.Filters) -> tuple[fin.SalesRows, fin.CostRows]:
    return fin.sales_rows(engine, f), fin.cost_rows(engine, f)


def cost_by_kind(table: pd.DataFrame) -> pd.DataFrame:
    """Cost per period and kind (one row each, kind by kind), for the stacked bars."""
    kinds = list(fin.COST_KIND_LABELS)
    # Periods in order (as a groupby would sort them), each kind summed over the categories.
    periods = sorted(set(table["period"]))
    at = {period: i for i, period in enumerate(periods)}
    rows = [at[period] for period in table["period"]]
    amounts = []
    for kind in kinds:
        sums = np.zeros(len(periods))
        np.add.at(sums, rows, table[kind].to_numpy(dtype=float))
        amounts.append(sums)
    return pd.DataFrame(
        {
            "period": periods * len(kinds),
            "kind": [fin.COST_KIND_LABELS[kind] for kind in kinds for _ in periods],
            "amount": np.concatenate(amounts),
        }
    )


@live_read("backorders", "orders", "past_weeks")
def summary(engine, f: ov.Filters, period: str) -> tuple[pd.DataFrame, ChartRows]:
    """:func:`queries.finance.cost_summary`, the past weeks and this one read apart, and the
    chart's rows, :func:`cost_by_kind` of it (empty when the summary is)."""
    past, current = split(f, this_week())
    # The finished weeks' sums go on with this week's rows, as one pass over every week would.
    sums = _past_weeks(engine, past, period) if past is not None else {}
    if current is not None:
        sums = fin.cost_sums(*_this_week(engine, current), period, into=sums)
    table = fin.cost_table(sums, period)
    by_kind = cost_by_kind(table) if not table.empty else pd.DataFrame()
    return table, chart_rows(by_kind)


# --- The other figures ----------------------------------------------------------------------


@live_read("backorders", "catalogue", "customers", "orders")
def ledger_page(engine, f: ov.Filters, offset: int) -> fin.LedgerPage:
    """A page of the ledger, its rows as the table shows them (:func:`ui.components.table_rows`)."""
    page = fin.cost_ledger_page(engine, f, limit=fin.LEDGER_ROWS, offset=offset)
    return dataclasses.replace(page, rows=table_rows(page.rows))


# The two sides of the cash tiles apart: an order moves the backorders' side, not the POs'.
@live_read("purchasing")
def _cash_in_purchase_orders(engine) -> float:
    return fin.cash_in_purchase_orders(engine)


@live_read("backorders", "catalogue", "orders")
def _cash_in_backorders(engine) -> dict[str, float]:
    return fin.cash_in_backorders(engine)


def cash(engine) -> dict[str, float]:
    """:func:`queries.finance.cash_tied`, each side read when it changes."""
    return {
        "open_purchase_orders": _cash_in_purchase_orders(engine),
        **_cash_in_backorders(engine),
    }


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
