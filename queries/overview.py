"""The owner's overview: backorder rates, root causes, trends and KPIs from the backorder rollup.

Everything here except the drill-down and the open-backorder figures reads ``backorder_rollup``
(a few thousand rows whatever the history's size), never the order lines; the chance that an
open backorder ends cancelled reads ``backorder_closures`` (a few rows per segment), on-time
delivery ``delivery_weekly`` (a row per week). The drill-down reads only the newest backorders
it can show: the rollup tells from which week on the window holds enough of them. The rollup
counts a line in the week (Monday) its order was placed, so a date range is taken in whole
weeks and a week belongs to the month and quarter its Monday falls in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, Float, Select, and_, case, cast, func, select

from data.plans import unindexed
from data.schema import (
    NO_BACKORDER,
    Backorder,
    BackorderClosure,
    BackorderRollup,
    Customer,
    DeliveryWeekly,
    DemandDaily,
    Forecast,
    ModelRun,
    Order,
    OrderLine,
    Product,
    utcnow,
)
from data.summaries import WAIT_BUCKETS, week_of
from queries import as_stored, read_frame, reading
from queries.demand import FIGURES, demand_rows

PERIODS = ("week", "month", "quarter")
DIMENSIONS = ("category", "segment", "root_cause")
DRILL_ROWS = 50  # backorder lines to a page of the drill-down (newest first)
MIN_CLOSED_FOR_RATE = 20  # fewer closed backorders in a cell: use the segment's, then overall
DEMAND_MODEL_KIND = "demand"
ALL_SEGMENTS = "(all segments)"  # the overall row of the cancellation chances

CAUSE_LABELS = {
    "late_supplier": "Late supplier",
    "demand_spike": "Demand spike",
    "allocation": "Allocation",
    "forecast_miss": "Forecast miss",
    "threshold_too_low": "Threshold too low",
    "short_pick": "Short pick",
    "unknown": "Unknown",
}

RATE_HELP = (
    "Backorder rate: order lines (or units) that went short, on backorder or cancelled for lack "
    "of stock, over all lines (units) ordered in the weeks shown. Weeks start on Monday; a week "
    "counts in the month and quarter its Monday falls in."
)
FILL_RATE_HELP = (
    "Units served from stock when ordered over units ordered (1 - units short / units)."
)
ON_TIME_HELP = (
    "Outbound shipments delivered on or before their promised date, over those delivered in "
    "the weeks shown (all categories and segments: a shipment carries a whole order)."
)
AT_RISK_HELP = (
    "Open backorders' value (open units x line price) x the chance they end cancelled. The chance "
    "comes from closed backorders of the same customer segment that had waited as long: of those "
    "still open at 0-7, 8-14, 15-30 or 31+ days, the share that ended cancelled (not counting "
    f"cancel-short lines, which never waited). Cells with fewer than {MIN_CLOSED_FOR_RATE} closed backorders use "
    "the segment's figure, then the overall one."
)


@dataclass(frozen=True)
class Filters:
    """The page's filters: whole weeks from ``start`` to ``end`` and optional category/segment."""

    start: dt.date
    end: dt.date
    categories: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()

    @property
    def first_week(self) -> dt.date:
        return week_of(self.start)

    @property
    def last_week(self) -> dt.date:
        return week_of(self.end)


def _where(statement: Select, f: Filters, *, causes: Sequence[str] = ()) -> Select:
    r = BackorderRollup
    statement = statement.where(r.week >= f.first_week, r.week <= f.last_week)
    if f.categories:
        statement = statement.where(r.category.in_(f.categories))
    if f.segments:
        statement = statement.where(r.segment.in_(f.segments))
    if causes:
        statement = statement.where(r.root_cause.in_(causes))
    return statement


def _sums():
    r = BackorderRollup
    return (
        func.sum(r.lines).label("lines"),
        func.sum(r.units).label("units"),
        func.sum(r.bo_lines).label("bo_lines"),
        func.sum(r.bo_units).label("bo_units"),
        cast(func.sum(r.value), Float).label("value"),
        cast(func.sum(r.bo_value), Float).label("bo_value"),
    )


SUM_COLUMNS = ("lines", "units", "bo_lines", "bo_units", "value", "bo_value")
ROLLUP_GROUPS = ("week", "category", "segment", "root_cause")


def _group_columns(group: Sequence[str]):
    unknown = set(group) - set(ROLLUP_GROUPS)
    if unknown:
        raise ValueError(f"unknown rollup columns {sorted(unknown)}")
    return [getattr(BackorderRollup, g) for g in group]


Sums = dict[tuple, tuple]  # group values -> the SUM_COLUMNS figures


def _figures(row: Sequence) -> tuple:
    """Four counts and two amounts as Python numbers (a NULL sum is 0)."""
    return (*(int(x or 0) for x in row[:4]), *(float(x or 0.0) for x in row[4:6]))


def as_day(value) -> dt.date:
    """A day as the drivers return it (date, datetime or ISO text) as a date."""
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _key(row: Sequence, group: Sequence[str]) -> tuple:
    return tuple(as_day(v) if g == "week" else v for g, v in zip(group, row, strict=True))


def rollup_sum_records(
    engine: Engine | Connection,
    f: Filters,
    group: Sequence[str] = (),
    *,
    shorts_only: bool = False,
    causes: Sequence[str] = (),
) -> Sums:
    """The rollup's figures summed over the weeks of ``f`` per ``group`` columns, by the
    database (no group: one entry, keyed ()). ``shorts_only`` keeps the lines that went short,
    ``causes`` those of these root causes."""
    columns = _group_columns(group)
    statement = _where(select(*columns, *_sums()), f, causes=causes)
    if shorts_only:
        statement = statement.where(BackorderRollup.root_cause != NO_BACKORDER)
    if columns:
        statement = statement.group_by(*columns)
    with reading(engine) as conn:
        rows = conn.execute(statement).all()
    n = len(group)
    return {_key(row[:n], group): _figures(row[n:]) for row in rows}


def rollup_rows_since(engine: Engine | Connection, week: dt.date) -> tuple[tuple, ...]:
    """Every rollup row of ``week`` and later (this week's few hundred rows), unsummed:
    (week, category, segment, root cause, *SUM_COLUMNS)."""
    r = BackorderRollup
    columns = [*_group_columns(ROLLUP_GROUPS), *(r.__table__.c[c] for c in SUM_COLUMNS)]
    # As stored: the row is converted below once, not by SQLAlchemy value by value first.
    statement = select(*(as_stored(c) for c in columns)).where(r.week >= week)
    with reading(engine) as conn:
        rows = conn.execute(statement).all()
    return tuple((as_day(row[0]), *row[1:4], *_figures(row[4:])) for row in rows)


def sum_rows(
    rows: Sequence[tuple],
    f: Filters,
    group: Sequence[str] = (),
    *,
    shorts_only: bool = False,
    causes: Sequence[str] = (),
) -> Sums:
    """What :func:`rollup_sum_records` gives for ``f``, summed from :func:`rollup_rows_since`."""
    _group_columns(group)
    at = [ROLLUP_GROUPS.index(g) for g in group]
    categories, segments, chosen = set(f.categories), set(f.segments), set(causes)
    first, last = f.first_week, f.last_week  # once, not per row
    out: dict[tuple, list] = {}
    for row in rows:
        if not first <= row[0] <= last:
            continue
        if categories and row[1] not in categories or segments and row[2] not in segments:
            continue
        if shorts_only and row[3] == NO_BACKORDER or chosen and row[3] not in chosen:
            continue
        key = tuple([row[i] for i in at])
        into = out.get(key)
        if into is None:
            out[key] = list(row[4:])
        else:
            out[key] = [a + b for a, b in zip(into, row[4:], strict=True)]
    if not group and not out:
        out[()] = [0, 0, 0, 0, 0.0, 0.0]
    return {key: tuple(figures) for key, figures in out.items()}


def added(parts: Sequence[Sums]) -> Sums:
    """Sums of separate weeks (say the past weeks and this one) added key by key."""
    if len(parts) == 1:
        return parts[0]
    out: dict[tuple, list] = {}
    for part in parts:
        for key, figures in part.items():
            into = out.setdefault(key, [0, 0, 0, 0, 0.0, 0.0])
            for i, x in enumerate(figures):
                into[i] += x
    return {key: tuple(figures) for key, figures in out.items()}


def _with_rates(df: pd.DataFrame) -> pd.DataFrame:
    for column in ("lines", "units", "bo_lines", "bo_units"):
        df[column] = df[column].fillna(0).astype("int64")
    df["line_rate"] = (df["bo_lines"] / df["lines"].where(df["lines"] > 0)).astype(float)
    df["unit_rate"] = (df["bo_units"] / df["units"].where(df["units"] > 0)).astype(float)
    return df


def _rate(part: int, whole: int) -> float:
    return part / whole if whole > 0 else float("nan")


def _rated(keys: list[tuple], figures: list[tuple], key_columns: list[str]) -> pd.DataFrame:
    """A table of keys, SUM_COLUMNS and both rates, built in one go (the rows are few)."""
    records = [
        (*key, *fig, _rate(fig[2], fig[0]), _rate(fig[3], fig[1]))
        for key, fig in zip(keys, figures, strict=True)
    ]
    df = pd.DataFrame.from_records(
        records, columns=[*key_columns, *SUM_COLUMNS, "line_rate", "unit_rate"]
    )
    if records:  # ints and floats already: only an empty table needs its types
        return df
    return df.astype(
        {**dict.fromkeys(SUM_COLUMNS[:4], "int64"), **dict.fromkeys(SUM_COLUMNS[4:], float),
         "line_rate": float, "unit_rate": float}
    )  # fmt: skip


def rates_from(sums: Sums, dimension: str) -> pd.DataFrame:
    """Rates per category or segment from :func:`rollup_sum_records` grouped by it."""
    if dimension not in ("category", "segment"):
        raise ValueError(f"unknown dimension {dimension!r}")
    keys = sorted(sums)
    return _rated(keys, [sums[k] for k in keys], [dimension])


def rates_by(engine: Engine | Connection, dimension: str, f: Filters) -> pd.DataFrame:
    """Lines, units, short lines and units, and both backorder rates per category or segment."""
    if dimension not in ("category", "segment"):
        raise ValueError(f"unknown dimension {dimension!r}")
    return rates_from(rollup_sum_records(engine, f, (dimension,)), dimension)


def period_start(weeks: pd.Series, period: str) -> pd.Series:
    """The first day of the week, month or quarter each week (a Monday) belongs to."""
    weeks = pd.to_datetime(weeks)
    if period == "week":
        return weeks
    if period == "month":
        return weeks.dt.to_period("M").dt.start_time
    if period == "quarter":
        return weeks.dt.to_period("Q").dt.start_time
    raise ValueError(f"unknown period {period!r}")


def period_label(starts: pd.Series, period: str) -> pd.Series:
    if period == "week":
        return starts.dt.strftime("%Y-%m-%d")
    if period == "month":
        return starts.dt.strftime("%Y-%m")
    return starts.dt.year.astype(str) + "-Q" + starts.dt.quarter.astype(str)


def period_of(week: dt.date, period: str) -> dt.date:
    """The first day of the week, month or quarter a week (its Monday) belongs to."""
    if period == "week":
        return week
    if period == "month":
        return week.replace(day=1)
    if period == "quarter":
        return week.replace(month=(week.month - 1) // 3 * 3 + 1, day=1)
    raise ValueError(f"unknown period {period!r}")


def label_of(start: dt.date, period: str) -> str:
    """How a period starting on ``start`` is written: 2026-11-30, 2026-11 or 2026-Q4."""
    if period == "week":
        return start.isoformat()
    if period == "month":
        return f"{start.year:04d}-{start.month:02d}"
    return f"{start.year:04d}-Q{(start.month - 1) // 3 + 1}"


def rates_by_period_from(weekly: Sums, period: str) -> pd.DataFrame:
    """Rates per week, month or quarter from :func:`rollup_sum_records` grouped by week."""
    per = added([{(period_of(week, period),): figures} for (week,), figures in weekly.items()])
    starts = sorted(start for (start,) in per)
    df = _rated(
        [(start, label_of(start, period)) for start in starts],
        [per[(s,)] for s in starts],
        ["period_start", "period"],
    )
    df["period_start"] = pd.to_datetime(df["period_start"])
    return df


def rates_by_period(engine: Engine | Connection, period: str, f: Filters) -> pd.DataFrame:
    """Backorder rates per week, month or quarter (the database sums per week)."""
    return rates_by_period_from(rollup_sum_records(engine, f, ("week",)), period)


CAUSE_COLUMNS = ["group", "root_cause", "bo_lines", "bo_units", "share", "cause"]


def cause_shares_from(sums: Sums, by: str, period: str = "month") -> pd.DataFrame:
    """Each root cause's share of the short lines per category or period, from
    :func:`rollup_sum_records` of the short lines grouped by (category or week, root_cause)."""
    cells: dict[tuple[str, str], list[int]] = {}
    for (group, cause), figures in sums.items():
        if by != "category":
            group = label_of(period_of(group, period), period)
        into = cells.setdefault((group, cause), [0, 0])
        into[0] += int(figures[2])
        into[1] += int(figures[3])
    cells = {key: counts for key, counts in cells.items() if counts[0] > 0}
    if not cells:
        return pd.DataFrame(
            columns=["group", "root_cause", "cause", "bo_lines", "bo_units", "share"]
        )
    per_group: dict[str, int] = {}
    for (group, _), (lines, _) in cells.items():
        per_group[group] = per_group.get(group, 0) + lines
    records = [
        (group, cause, lines, units, lines / per_group[group], CAUSE_LABELS.get(cause, cause))
        for (group, cause), (lines, units) in sorted(cells.items())
    ]
    return pd.DataFrame.from_records(records, columns=CAUSE_COLUMNS)


def cause_group(by: str) -> tuple[str, str]:
    """The rollup columns :func:`cause_shares_from` needs summed for ``by``."""
    return ("category" if by == "category" else "week", "root_cause")


def cause_shares(
    engine: Engine | Connection, f: Filters, *, by: str = "category", period: str = "month"
) -> pd.DataFrame:
    """Backordered lines per root cause, and each cause's share, per category or per period."""
    sums = rollup_sum_records(engine, f, cause_group(by), shorts_only=True)
    return cause_shares_from(sums, by, period)


# --- KPIs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateKpis:
    line_rate: float | None
    previous_line_rate: float | None  # the same number of weeks just before
    unit_rate: float | None
    fill_rate: float | None

    @property
    def rate_change(self) -> float | None:
        if self.line_rate is None or self.previous_line_rate is None:
            return None
        return self.line_rate - self.previous_line_rate


def weeks_before(f: Filters) -> Filters:
    """As many whole weeks as ``f`` has, just before them (the KPI's change compares them)."""
    weeks = (f.last_week - f.first_week).days // 7 + 1
    return Filters(
        f.first_week - dt.timedelta(weeks=weeks),
        f.first_week - dt.timedelta(days=1),
        f.categories,
        f.segments,
    )


def rate_kpis_from(now: Sums, before: Sums) -> RateKpis:
    """The KPIs from :func:`rollup_sum_records` (no group) of the weeks and of
    :func:`weeks_before`."""
    lines, units, bo_lines, bo_units = now.get((), (0, 0, 0, 0))[:4]
    p_lines, _, p_bo_lines, _ = before.get((), (0, 0, 0, 0))[:4]
    return RateKpis(
        line_rate=bo_lines / lines if lines else None,
        previous_line_rate=p_bo_lines / p_lines if p_lines else None,
        unit_rate=bo_units / units if units else None,
        fill_rate=1 - bo_units / units if units else None,
    )


def rate_kpis(engine: Engine | Connection, f: Filters) -> RateKpis:
    """Backorder rate (lines, units) and the line rate over as many weeks just before; fill rate."""
    return rate_kpis_from(
        rollup_sum_records(engine, f), rollup_sum_records(engine, weeks_before(f))
    )


def on_time_delivery(engine: Engine | Connection, f: Filters) -> tuple[float | None, int]:
    """(share on time, shipments delivered) for outbound shipments delivered in the weeks, from
    the weekly deliveries summary."""
    w = DeliveryWeekly
    with reading(engine) as conn:
        total, punctual = conn.execute(
            select(
                func.coalesce(func.sum(w.delivered), 0), func.coalesce(func.sum(w.on_time), 0)
            ).where(w.week >= f.first_week, w.week <= f.last_week)
        ).one()
    total, punctual = int(total), int(punctual)
    return (punctual / total if total else None), total


MONTH_HELP = (
    "This month from the 1st to today against the same days of the same month a year earlier, "
    "from the daily demand summary (lines short when ordered / lines ordered)."
)


def month_windows(today: dt.date) -> list[tuple[str, dt.date, dt.date]]:
    """(label, first day, last day) of this month to date and of the same days a year earlier."""
    this_start = today.replace(day=1)
    last_start = this_start.replace(year=this_start.year - 1)
    # The same day number a year ago (29 February falls back to the 28th).
    last_end = last_start.replace(day=min(today.day, 28 if last_start.month == 2 else today.day))
    return [("This month", this_start, today), ("Same month last year", last_start, last_end)]


def demand_totals(
    engine: Engine | Connection, f: Filters, start: dt.date, end: dt.date
) -> tuple[int, int, int, int]:
    """(lines, lines short, units, units short) ordered from ``start`` to ``end`` (days), of the
    categories and segments of ``f``, from the demand summaries."""
    if end < start:
        return (0, 0, 0, 0)
    if f.segments:  # the weekly summary has no segments: the daily rows of those
        demand = (
            select(DemandDaily)
            .where(
                DemandDaily.day >= start,
                DemandDaily.day <= end,
                DemandDaily.segment.in_(f.segments),
            )
            .subquery("demand")
        )
    else:  # whole weeks from the weekly summary, the days around them from the daily one
        demand = demand_rows(start - dt.timedelta(days=1), end, FIGURES).subquery("demand")
    statement = select(
        func.coalesce(func.sum(demand.c.lines), 0),
        func.coalesce(func.sum(demand.c.lines_short), 0),
        func.coalesce(func.sum(demand.c.qty_ordered), 0),
        func.coalesce(func.sum(demand.c.qty_short), 0),
    ).select_from(demand)
    if f.categories:  # joined only to filter: every product has one category
        statement = statement.join(Product, Product.id == demand.c.product_id).where(
            Product.category.in_(f.categories)
        )
    with reading(engine) as conn:
        lines, short, units, units_short = (int(x) for x in conn.execute(statement).one())
    return lines, short, units, units_short


def month_table(
    windows: list[tuple[str, dt.date, dt.date]], totals: list[tuple[int, int, int, int]]
) -> pd.DataFrame:
    """The month against last year's, from :func:`month_windows` and their demand totals."""
    rows = []
    for (label, start, end), (lines, short, units, units_short) in zip(
        windows, totals, strict=True
    ):
        rows.append(
            {
                "period": label,
                "from": start,
                "to": end,
                "lines": lines,
                "bo_lines": short,
                "units": units,
                "bo_units": units_short,
                "line_rate": short / lines if lines else None,
                "unit_rate": units_short / units if units else None,
            }
        )
    return pd.DataFrame(rows)


def month_against_last_year(
    engine: Engine | Connection, f: Filters, today: dt.date | None = None
) -> pd.DataFrame:
    """Month to date against the same days a year earlier (categories/segments filtered)."""
    windows = month_windows(today or utcnow().date())
    return month_table(windows, [demand_totals(engine, f, s, e) for _, s, e in windows])


def forecast_weeks(engine: Engine | Connection, categories: Sequence[str] = ()) -> pd.DataFrame:
    """The newest demand forecast (P50, P90) per period, summed over the products of
    ``categories`` (all products when none)."""
    run_id = (
        select(ModelRun.id)
        .where(ModelRun.kind == DEMAND_MODEL_KIND, ModelRun.status == "ok")
        .order_by(ModelRun.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    forecast = (
        select(
            Forecast.period_start.label("week"),
            func.sum(Forecast.p50).label("p50"),
            func.sum(Forecast.p90).label("p90"),
        )
        .join(Product, Product.id == Forecast.product_id)
        .where(Forecast.model_run_id == run_id)
        .group_by(Forecast.period_start)
    )
    if categories:
        forecast = forecast.where(Product.category.in_(categories))
    with reading(engine) as conn:
        return pd.read_sql(forecast, conn, parse_dates=["week"])


def forecast_beside(weekly: Sums, fc: pd.DataFrame, f: Filters, *, weeks_ahead: int = 13):
    """Units ordered per week (:func:`rollup_sum_records` by week) and the forecast's P50 and P90
    (:func:`forecast_weeks`) up to ``weeks_ahead`` after the last week, as one long table."""
    weeks = sorted(weekly)
    if not fc.empty:
        horizon = pd.Timestamp(f.last_week) + pd.Timedelta(weeks=weeks_ahead)
        fc = fc[fc["week"] <= horizon]
    # One frame from plain columns: the ordered weeks, then the forecast's P50 and P90 rows.
    ahead = list(fc["week"])
    return pd.DataFrame(
        {
            "week": pd.to_datetime([w for (w,) in weeks] + ahead + ahead),
            "series": ["Ordered"] * len(weeks)
            + ["Forecast P50"] * len(ahead)
            + ["Forecast P90"] * len(ahead),
            "value": [float(weekly[w][1]) for w in weeks] + list(fc["p50"]) + list(fc["p90"]),
        }
    )


def demand_against_forecast(
    engine: Engine | Connection, f: Filters, *, weeks_ahead: int = 13
) -> pd.DataFrame:
    """Units ordered per week (rollup) beside the newest demand forecast (P50, P90) per week.

    Forecast periods are summed over the products of the chosen categories; a monthly forecast
    is shown at its first week.
    """
    weekly = rollup_sum_records(engine, f, ("week",))
    return forecast_beside(weekly, forecast_weeks(engine, f.categories), f, weeks_ahead=weeks_ahead)


# --- Open backorders and the chance they end cancelled ------------------------------------


def _bucket(age: pd.Series) -> pd.Series:
    """Index of the days-waiting bucket of each age (a negative age counts as 0 days)."""
    found = np.searchsorted(np.array(WAIT_BUCKETS), age.clip(lower=0).to_numpy(), side="right")
    return pd.Series(found - 1, index=age.index)


def cancellation_chances(engine: Engine | Connection) -> pd.DataFrame:
    """Chance a backorder still open after so many days ends cancelled, per segment and bucket.

    Columns: segment, bucket (index into WAIT_BUCKETS), closed, cancelled, chance (with the
    segment-wide then overall fall-back applied where a cell has too few closed backorders);
    rows with segment ``ALL_SEGMENTS`` hold the overall figures.
    """
    statement = select(
        BackorderClosure.segment,
        BackorderClosure.bucket,
        BackorderClosure.closed,
        BackorderClosure.cancelled,
    ).where(BackorderClosure.closed != 0)
    with reading(engine) as conn:
        closed = conn.execute(statement).all()
    buckets = range(len(WAIT_BUCKETS))

    def reached(cells) -> dict[int, tuple[int, int]]:
        """(closed, cancelled) of those that reached each bucket: closed at its age or later."""
        return {
            i: (
                sum(int(c.closed) for c in cells if c.bucket >= i),
                sum(int(c.cancelled) for c in cells if c.bucket >= i),
            )
            for i in buckets
        }

    overall = reached(closed)
    rows = []
    for segment in sorted({c.segment for c in closed}):
        mine = reached([c for c in closed if c.segment == segment])
        for i in buckets:
            cell_closed, cell_cancelled = mine[i]
            if cell_closed >= MIN_CLOSED_FOR_RATE:
                chance = cell_cancelled / cell_closed
            elif mine[0][0] >= MIN_CLOSED_FOR_RATE:  # the segment's, whatever the wait
                chance = mine[0][1] / mine[0][0]
            else:
                chance = overall[i][1] / overall[i][0] if overall[i][0] else 0.0
            rows.append((segment, i, cell_closed, cell_cancelled, chance))
    # The overall figures, for segments without any closed backorder yet.
    for i in buckets:
        total, cancelled = overall[i]
        rows.append((ALL_SEGMENTS, i, total, cancelled, cancelled / total if total else 0.0))
    return pd.DataFrame(rows, columns=["segment", "bucket", "closed", "cancelled", "chance"])


def open_backorders_at_risk(
    engine: Engine | Connection,
    f: Filters | None = None,
    *,
    now: dt.datetime | None = None,
    chances: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Open backorders with their value, days waiting, chance of cancellation and value at risk.

    ``f`` filters by category and segment only (open backorders are open now, whatever week
    they were ordered in).
    """
    now = now or utcnow()
    open_qty = Backorder.qty_open
    statement = (
        select(
            Backorder.id.label("backorder_id"),
            Order.number.label("order_number"),
            Customer.name.label("customer"),
            Customer.segment,
            Product.sku,
            Product.category,
            open_qty.label("qty_open"),
            cast(open_qty * OrderLine.unit_price, Float).label("open_value"),
            Backorder.created_at.label("created"),
        )
        .join(OrderLine, OrderLine.id == Backorder.order_line_id)
        .join(Order, Order.id == OrderLine.order_id)
        .join(Customer, Customer.id == Backorder.customer_id)
        .join(Product, Product.id == Backorder.product_id)
        .where(Backorder.status == "open")
    )
    if f is not None and f.categories:
        statement = statement.where(Product.category.in_(f.categories))
    if f is not None and f.segments:
        statement = statement.where(Customer.segment.in_(f.segments))
    with reading(engine) as conn:
        df = pd.read_sql(statement, conn, parse_dates=["created"])
        if chances is None:
            chances = cancellation_chances(conn)
    if df.empty:
        return df.assign(days_waiting=[], chance=[], at_risk=[])
    df["days_waiting"] = (pd.Timestamp(now) - df["created"]).dt.total_seconds() / 86400
    df["bucket"] = _bucket(df["days_waiting"])
    df = df.merge(chances[["segment", "bucket", "chance"]], on=["segment", "bucket"], how="left")
    overall = chances[chances["segment"] == ALL_SEGMENTS].set_index("bucket")["chance"]
    df["chance"] = df["chance"].fillna(df["bucket"].map(overall)).fillna(0.0)
    df["at_risk"] = df["open_value"] * df["chance"]
    return df


@dataclass(frozen=True)
class RiskTotals:
    """Open backorders now: how many, their value and their value at risk (the KPI tiles)."""

    open_backorders: int
    open_value: float
    at_risk: float


def revenue_at_risk(
    engine: Engine | Connection,
    f: Filters | None = None,
    *,
    now: dt.datetime | None = None,
    chances: pd.DataFrame | None = None,
) -> RiskTotals:
    """The sums of :func:`open_backorders_at_risk`, added up in the database per customer
    segment and days-waiting bucket (one row each) instead of read backorder by backorder."""
    now = now or utcnow()
    bucket = case(
        *[
            (Backorder.created_at <= now - dt.timedelta(days=days), i)
            for i, days in reversed(list(enumerate(WAIT_BUCKETS)))
            if days > 0
        ],
        else_=0,
    )
    statement = (
        select(
            Customer.segment,
            bucket.label("bucket"),
            func.count().label("backorders"),
            cast(func.sum(Backorder.qty_open * OrderLine.unit_price), Float).label("open_value"),
        )
        .select_from(Backorder)
        .join(OrderLine, OrderLine.id == Backorder.order_line_id)
        .join(Customer, Customer.id == Backorder.customer_id)
        .where(Backorder.status == "open")
        .group_by(Customer.segment, bucket)
    )
    if f is not None and f.categories:
        statement = statement.join(Product, Product.id == Backorder.product_id).where(
            Product.category.in_(f.categories)
        )
    if f is not None and f.segments:
        statement = statement.where(Customer.segment.in_(f.segments))
    with reading(engine) as conn:
        groups = conn.execute(statement).all()
        if chances is None:
            chances = cancellation_chances(conn)
    chance = {
        (segment, int(bucket)): float(value)
        for segment, bucket, value in zip(
            chances["segment"], chances["bucket"], chances["chance"], strict=True
        )
    }
    at_risk = 0.0
    for segment, found, _, value in groups:
        cell = chance.get((segment, int(found)), chance.get((ALL_SEGMENTS, int(found)), 0.0))
        at_risk += float(value or 0.0) * cell
    return RiskTotals(
        open_backorders=sum(int(g.backorders) for g in groups),
        open_value=sum(float(g.open_value or 0.0) for g in groups),
        at_risk=at_risk,
    )


# --- Drill-down ----------------------------------------------------------------------------


def drill_weeks(per_week: Sums) -> list[tuple[dt.date, int]]:
    """(week, backordered lines), newest first, from :func:`rollup_sum_records` of the short
    lines per week."""
    return sorted(((week, int(f[2])) for (week,), f in per_week.items()), reverse=True)


def _drill_weeks(conn: Connection, f: Filters, causes: Sequence[str]) -> list[tuple[dt.date, int]]:
    """(week, backordered lines) of the weeks of ``f``, newest first, from the rollup."""
    return drill_weeks(rollup_sum_records(conn, f, ("week",), shorts_only=True, causes=causes))


def _drill_since(weeks: list[tuple[dt.date, int]], f: Filters, rows: int) -> dt.date:
    """The Monday from which on ``weeks`` (newest first) hold ``rows`` backordered lines (or the
    first week of ``f``): the newest ``rows`` lines were all ordered from that week on."""
    found = 0
    for week, lines in weeks:
        found += lines
        if found >= rows:
            return week
    return f.first_week


@dataclass(frozen=True)
class LinesPage:
    rows: pd.DataFrame  # the columns of :func:`backorder_lines`
    total: int  # backordered lines the filters match
    offset: int  # position of the first row among them


def backorder_lines_page(
    engine: Engine | Connection,
    f: Filters,
    *,
    causes: Sequence[str] = (),
    limit: int = DRILL_ROWS,
    offset: int = 0,
    weeks: list[tuple[dt.date, int]] | None = None,
) -> LinesPage:
    """One page of :func:`backorder_lines`, cut in the database; an offset past the end gives
    the last page. The total is summed from the rollup (``weeks``, :func:`drill_weeks`, when
    the caller has them)."""
    limit, offset = max(1, int(limit)), max(0, int(offset))
    with reading(engine) as conn:
        weeks = _drill_weeks(conn, f, causes) if weeks is None else weeks
        total = sum(lines for _, lines in weeks)
        if total and offset >= total:
            offset = (total - 1) // limit * limit
        rows = _lines(conn, f, causes, limit, offset, weeks)
    return LinesPage(rows=rows, total=total, offset=offset)


def backorder_lines(
    engine: Engine | Connection,
    f: Filters,
    *,
    causes: Sequence[str] = (),
    limit: int | None = None,
    offset: int = 0,
) -> pd.DataFrame:
    """The backordered lines behind a figure: ordered in the weeks, of the categories/segments.

    Newest first; every one of them (an export) unless ``limit`` is given. Read from the
    backorders created since the week the rollup says is enough (a backorder is created when
    its order is placed or later, at a short pick), not from every order line of the weeks.
    """
    with reading(engine) as conn:
        weeks = _drill_weeks(conn, f, causes) if limit is not None else []
        return _lines(conn, f, causes, limit, offset, weeks)


def _lines(
    conn: Connection,
    f: Filters,
    causes: Sequence[str],
    limit: int | None,
    offset: int,
    weeks: list[tuple[dt.date, int]],
) -> pd.DataFrame:
    end = dt.datetime.combine(f.last_week + dt.timedelta(days=7), dt.time())
    since = f.first_week if limit is None else _drill_since(weeks, f, offset + limit)
    start = dt.datetime.combine(since, dt.time())
    if limit is not None:
        # A busy day alone often fills the page: the lines of orders placed since the day
        # before the range's last day (or today) come before every older one, so a full page
        # of them is the answer, read from far fewer backorders than the weeks hold.
        last_day = min(f.end, utcnow().date())
        recent = dt.datetime.combine(last_day - dt.timedelta(days=1), dt.time())
        if recent > start:
            page = _read_lines(conn, f, causes, recent, end, limit, offset)
            if len(page) == limit:
                return page
    return _read_lines(conn, f, causes, start, end, limit, offset)


def _read_lines(
    conn: Connection,
    f: Filters,
    causes: Sequence[str],
    start: dt.datetime,
    end: dt.datetime,
    limit: int | None,
    offset: int,
) -> pd.DataFrame:
    """The backordered lines of orders placed from ``start`` to before ``end``, newest first."""
    statement = (
        select(
            Order.number.label("order_number"),
            Order.placed_at.label("placed"),
            Customer.name.label("customer"),
            Customer.segment,
            Product.sku,
            Product.name.label("product"),
            Product.category,
            OrderLine.qty_ordered,
            Backorder.qty.label("qty_short"),
            Backorder.qty_filled,
            Backorder.qty_cancelled,
            Backorder.status,
            func.coalesce(Backorder.root_cause, "unknown").label("root_cause"),
            cast(Backorder.qty * OrderLine.unit_price, Float).label("value_short"),
        )
        .select_from(Backorder)
        .join(OrderLine, OrderLine.id == Backorder.order_line_id)
        .join(Order, Order.id == OrderLine.order_id)
        .join(Customer, Customer.id == Order.customer_id)
        .join(Product, Product.id == OrderLine.product_id)
        .where(
            Backorder.created_at >= start,
            # Driven from the newest backorders, not from every order of the weeks.
            and_(unindexed(Order.placed_at) >= start, unindexed(Order.placed_at) < end),
            Backorder.qty > 0,
        )
        .order_by(Order.placed_at.desc(), Order.id.desc(), OrderLine.line_no)
    )
    if limit is not None:
        statement = statement.limit(limit).offset(offset)
    if f.categories:
        statement = statement.where(Product.category.in_(f.categories))
    if f.segments:
        statement = statement.where(Customer.segment.in_(f.segments))
    if causes:
        statement = statement.where(func.coalesce(Backorder.root_cause, "unknown").in_(causes))
    df = read_frame(conn, statement, dates=["placed"])
    df["cause"] = pd.Series(
        [CAUSE_LABELS.get(cause, cause) for cause in df["root_cause"]], index=df.index, dtype="str"
    )
    return df
