"""The figures of the weekly backorder report: one finished week against the week before.

The week is Monday to Sunday, the last one finished before the day the report is made, so a
report made on Monday morning covers the seven days just ended. Rates, lost sales and their
change come from the backorder rollup (orders counted in the week they were placed); the open
backorders and late purchase orders are as they stand when the report is made.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, Engine

from data.schema import utcnow
from data.summaries import report_week
from queries.backorders import open_backorders_ranked
from queries.finance import cash_tied, sales_by_week
from queries.overview import Filters, rate_kpis, rates_by, rates_by_period
from queries.purchasing import late_and_at_risk

TOP_ROWS = 10  # oldest and most valuable open backorders listed
LATE_PO_ROWS = 15
TREND_WEEKS = 12
RATE_COLUMNS = ["lines", "bo_lines", "line_rate", "previous_line_rate", "change"]


@dataclass(frozen=True)
class WeeklyFigures:
    week_start: dt.date  # a Monday
    made_at: dt.datetime
    line_rate: float | None
    previous_line_rate: float | None
    unit_rate: float | None
    fill_rate: float | None
    lines: int
    bo_lines: int
    lost_sales: float
    previous_lost_sales: float
    open_backorders: int
    open_value: float
    by_category: pd.DataFrame  # category + RATE_COLUMNS
    by_segment: pd.DataFrame  # segment + RATE_COLUMNS
    trend: pd.DataFrame  # period_start, line_rate: the weeks up to and including this one
    oldest: pd.DataFrame  # queries.backorders.REPORT_COLUMNS
    most_valuable: pd.DataFrame
    late_pos: pd.DataFrame  # overdue open purchase orders, most overdue first

    @property
    def week_end(self) -> dt.date:
        return self.week_start + dt.timedelta(days=6)

    @property
    def rate_change(self) -> float | None:
        if self.line_rate is None or self.previous_line_rate is None:
            return None
        return self.line_rate - self.previous_line_rate


def _one_week(monday: dt.date) -> Filters:
    return Filters(monday, monday + dt.timedelta(days=6))


def _rates(engine, dimension: str, week: dt.date) -> pd.DataFrame:
    now = rates_by(engine, dimension, _one_week(week))
    before = rates_by(engine, dimension, _one_week(week - dt.timedelta(days=7)))
    merged = now[[dimension, "lines", "bo_lines", "line_rate"]].merge(
        before[[dimension, "line_rate"]].rename(columns={"line_rate": "previous_line_rate"}),
        on=dimension,
        how="left",
    )
    merged["previous_line_rate"] = merged["previous_line_rate"].astype(float)
    merged["change"] = merged["line_rate"] - merged["previous_line_rate"]
    return merged.sort_values([dimension]).reset_index(drop=True)[[dimension, *RATE_COLUMNS]]


def _lost_sales(engine, week: dt.date) -> float:
    sales = sales_by_week(engine, _one_week(week))
    return float(sales["lost_value"].fillna(0).sum()) if not sales.empty else 0.0


def weekly_figures(
    engine: Engine | Connection,
    *,
    week_start: dt.date | None = None,
    now: dt.datetime | None = None,
) -> WeeklyFigures:
    """Everything the weekly report shows, for the week starting ``week_start`` (a Monday)."""
    now = now or utcnow()
    week = week_start or report_week(now.date())
    if week.weekday() != 0:
        raise ValueError(f"a report week starts on a Monday, not on {week:%A} {week}")
    kpis = rate_kpis(engine, _one_week(week))
    trend = rates_by_period(
        engine, "week", Filters(week - dt.timedelta(weeks=TREND_WEEKS - 1), week + dt.timedelta(6))
    )
    cash = cash_tied(engine)
    by_category = _rates(engine, "category", week)
    late = late_and_at_risk(engine, today=now.date())
    if not late.empty:
        late = late[late["overdue"].astype(bool)]
        late = late.sort_values(["days_overdue", "open_value"], ascending=False)
    return WeeklyFigures(
        week_start=week,
        made_at=now,
        line_rate=kpis.line_rate,
        previous_line_rate=kpis.previous_line_rate,
        unit_rate=kpis.unit_rate,
        fill_rate=kpis.fill_rate,
        lines=int(by_category["lines"].sum()),
        bo_lines=int(by_category["bo_lines"].sum()),
        lost_sales=round(_lost_sales(engine, week), 2),
        previous_lost_sales=round(_lost_sales(engine, week - dt.timedelta(days=7)), 2),
        open_backorders=cash["open_backorder_count"],
        open_value=round(cash["open_backorders"], 2),
        by_category=by_category,
        by_segment=_rates(engine, "segment", week),
        trend=trend[["period_start", "line_rate", "lines", "bo_lines"]].reset_index(drop=True),
        oldest=open_backorders_ranked(engine, by="oldest", limit=TOP_ROWS, now=now),
        most_valuable=open_backorders_ranked(engine, by="value", limit=TOP_ROWS, now=now),
        late_pos=late.head(LATE_PO_ROWS).reset_index(drop=True),
    )
