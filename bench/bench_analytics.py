"""The analytics pages' reads on their summaries against the same figures from the raw rows.

Each figure is read twice, side by side in one process: from the summary the page reads
(``backorder_rollup``, ``backorder_closures``, ``backorder_cost_weekly``, ``delivery_weekly``) and
as the straight aggregate over the rows it summarises (order lines joined to orders, products,
customers and backorders; every closed backorder; every ledger entry; every delivered shipment),
what the page would do without the summary. "same" compares every group's figures exactly
(counts) or to the cent (money), not just totals; the times are the median of ``--runs`` runs,
the two reads alternating.

    DATABASE_URL=sqlite:////tmp/larder.db .venv/bin/python bench/bench_analytics.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import pandas as pd  # noqa: E402
from sqlalchemy import Float, case, cast, func, select  # noqa: E402

from data.db import database_url, make_engine, read_connection  # noqa: E402
from data.schema import (  # noqa: E402
    Backorder,
    BackorderCost,
    Customer,
    Order,
    OrderLine,
    Product,
    Shipment,
    utcnow,
)
from data.summaries import closure_aggregate, week_start  # noqa: E402
from queries import finance as fin  # noqa: E402
from queries import overview as ov  # noqa: E402


def straight(conn, f: ov.Filters, group_by: str) -> pd.DataFrame:
    """Lines, units, short lines and units per group, aggregated over the order lines."""
    start = dt.datetime.combine(f.first_week, dt.time())
    end = dt.datetime.combine(f.last_week + dt.timedelta(days=7), dt.time())
    has_bo = Backorder.id.is_not(None) & (Backorder.qty > 0)
    cause = func.coalesce(Backorder.root_cause, "unknown")
    groups = {
        "category": [Product.category],
        "segment": [Customer.segment],
        "week": [week_start(conn, Order.placed_at)],
        "cause": [Product.category, cause],
        "total": [],
    }[group_by]
    statement = (
        select(
            *[g.label(f"g{i}") for i, g in enumerate(groups)],
            func.count().label("lines"),
            func.sum(OrderLine.qty_ordered).label("units"),
            func.sum(case((has_bo, 1), else_=0)).label("bo_lines"),
            func.sum(func.coalesce(Backorder.qty, 0)).label("bo_units"),
            cast(func.sum(OrderLine.qty_ordered * OrderLine.unit_price), Float).label("value"),
        )
        .select_from(OrderLine)
        .join(Order, Order.id == OrderLine.order_id)
        .join(Customer, Customer.id == Order.customer_id)
        .join(Product, Product.id == OrderLine.product_id)
        .outerjoin(Backorder, Backorder.order_line_id == OrderLine.id)
        .where(Order.placed_at >= start, Order.placed_at < end)
    )
    if group_by == "cause":
        statement = statement.where(has_bo)
    if groups:
        statement = statement.group_by(*groups)
    return pd.read_sql(statement, conn)


def straight_costs(conn, f: ov.Filters) -> pd.DataFrame:
    """Ledger amounts and entries per week, kind and category, over every entry of the weeks."""
    start = dt.datetime.combine(f.first_week, dt.time())
    end = dt.datetime.combine(f.last_week + dt.timedelta(days=7), dt.time())
    week = week_start(conn, BackorderCost.at)
    statement = (
        select(
            week.label("week"),
            BackorderCost.kind,
            Product.category,
            cast(func.sum(BackorderCost.amount), Float).label("amount"),
            func.count().label("entries"),
        )
        .join(Backorder, Backorder.id == BackorderCost.backorder_id)
        .join(Product, Product.id == Backorder.product_id)
        .where(BackorderCost.at >= start, BackorderCost.at < end)
        .group_by(week, BackorderCost.kind, Product.category)
    )
    return pd.read_sql(statement, conn)


def straight_on_time(conn, f: ov.Filters) -> tuple[int, int]:
    """(delivered, on time) over every outbound shipment delivered in the weeks."""
    start = dt.datetime.combine(f.first_week, dt.time())
    end = dt.datetime.combine(f.last_week + dt.timedelta(days=7), dt.time())
    on_time = case((func.date(Shipment.delivered_at) <= Shipment.promised_date, 1), else_=0)
    total, punctual = conn.execute(
        select(func.count(), func.coalesce(func.sum(on_time), 0)).where(
            Shipment.direction == "outbound",
            Shipment.delivered_at >= start,
            Shipment.delivered_at < end,
            Shipment.promised_date.is_not(None),
        )
    ).one()
    return int(total), int(punctual)


def timed_pair(first, second, runs: int) -> tuple[float, float, object, object]:
    """Median times of two reads run alternately (so neither always finds the cache warm)."""
    times: tuple[list[float], list[float]] = ([], [])
    results: list[object] = [None, None]
    for _ in range(runs):
        for i, fn in enumerate((first, second)):
            started = time.perf_counter()
            results[i] = fn()
            times[i].append(time.perf_counter() - started)
    return statistics.median(times[0]), statistics.median(times[1]), results[0], results[1]


def _key(value) -> str:
    return str(value)[:10]


def _groups(df: pd.DataFrame, keys: list[str], counts: list[str], money: list[str]) -> dict:
    """Each group's figures: counts as integers, money to the cent; empty groups left out."""
    out = {}
    for row in df.to_dict("records"):
        figures = tuple(int(row[c] or 0) for c in counts) + tuple(
            round(float(row[c] or 0.0), 2) for c in money
        )
        if any(figures):
            out[tuple(_key(row[k]) for k in keys)] = figures
    return out


FIGURES = ["lines", "units", "bo_lines", "bo_units"]


def same(kind: str, got, reference) -> str:
    """Whether the summary's figures equal the straight aggregate's, group by group."""
    if kind == "total":
        lines, short = int(reference["lines"].iloc[0]), int(reference["bo_lines"].iloc[0])
        units, short_units = int(reference["units"].iloc[0]), int(reference["bo_units"].iloc[0])
        agree = got.line_rate == (short / lines if lines else None) and got.unit_rate == (
            short_units / units if units else None
        )
    elif kind in ("category", "segment", "week"):
        key = {"category": "category", "segment": "segment", "week": "period_start"}[kind]
        agree = _groups(got, [key], FIGURES, ["value"]) == _groups(
            reference, ["g0"], FIGURES, ["value"]
        )
    elif kind == "cause":
        agree = _groups(got, ["group", "root_cause"], ["bo_lines", "bo_units"], []) == _groups(
            reference, ["g0", "g1"], ["bo_lines", "bo_units"], []
        )
    elif kind == "chances":
        mine = got[got["segment"] != ov.ALL_SEGMENTS]
        expected = {}
        for (segment, bucket), closed, cancelled in reference:
            for i in range(bucket + 1):  # reached every bucket up to the one it closed in
                c, x = expected.get((segment, i), (0, 0))
                expected[(segment, i)] = (c + closed, x + cancelled)
        agree = {
            (r.segment, int(r.bucket)): (int(r.closed), int(r.cancelled))
            for r in mine.itertuples()
            if int(r.closed)
        } == {k: v for k, v in expected.items() if v[0]}
    elif kind == "costs":
        agree = _groups(got, ["week", "kind", "category"], ["entries"], ["amount"]) == _groups(
            reference, ["week", "kind", "category"], ["entries"], ["amount"]
        )
    elif kind == "on_time":
        share, delivered = got
        total, punctual = reference
        agree = delivered == total and share == (punctual / total if total else None)
    else:
        raise ValueError(kind)
    return "yes" if agree else "NO"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--weeks", type=int, default=52, help="date range of the figures")
    args = parser.parse_args()
    engine = make_engine(database_url())
    today = utcnow().date()
    f = ov.Filters(today - dt.timedelta(weeks=args.weeks), today)
    whole = ov.Filters(today - dt.timedelta(days=3 * 366), today)
    with read_connection(engine) as conn:
        lines = conn.execute(select(func.count()).select_from(OrderLine)).scalar_one()
        rollup_rows = conn.execute(
            select(func.count()).select_from(ov.BackorderRollup)
        ).scalar_one()
    print(f"{engine.dialect.name}: {lines:,} order lines, {rollup_rows:,} rollup rows")

    def on_lines(group_by: str, filters: ov.Filters):
        def read():
            with read_connection(engine) as conn:
                return straight(conn, filters, group_by)

        return read

    def closed_backorders():
        with read_connection(engine) as conn:
            return [((r.segment, int(r.bucket)), int(r.closed), int(r.cancelled))
                    for r in conn.execute(closure_aggregate(conn))]  # fmt: skip

    def ledger():
        with read_connection(engine) as conn:
            return straight_costs(conn, f)

    def shipments():
        with read_connection(engine) as conn:
            return straight_on_time(conn, f)

    cases = [
        ("rate by category, 52 weeks", lambda: ov.rates_by(engine, "category", f),
         on_lines("category", f), "category"),
        ("rate by segment, 52 weeks", lambda: ov.rates_by(engine, "segment", f),
         on_lines("segment", f), "segment"),
        ("rate per week, 52 weeks", lambda: ov.rates_by_period(engine, "week", f),
         on_lines("week", f), "week"),
        ("cause shares by category", lambda: ov.cause_shares(engine, f),
         on_lines("cause", f), "cause"),
        ("KPI totals, 52 weeks", lambda: ov.rate_kpis(engine, f), on_lines("total", f), "total"),
        ("rate by category, 3 years", lambda: ov.rates_by(engine, "category", whole),
         on_lines("category", whole), "category"),
        ("cancellation chances", lambda: ov.cancellation_chances(engine), closed_backorders,
         "chances"),
        ("ledger per week, 52 weeks", lambda: fin.costs_by_week(engine, f), ledger, "costs"),
        ("on-time delivery, 52 weeks", lambda: ov.on_time_delivery(engine, f), shipments,
         "on_time"),
    ]  # fmt: skip
    print(f"\n{'figure':30} {'summary ms':>10} {'raw rows ms':>12} {'ratio':>7}  same")
    total_summary = total_straight = 0.0
    for name, on_summary, on_rows, kind in cases:
        t_summary, t_straight, got, reference = timed_pair(on_summary, on_rows, args.runs)
        total_summary += t_summary
        total_straight += t_straight
        print(
            f"{name:30} {t_summary * 1000:10.1f} {t_straight * 1000:12.1f} "
            f"{t_straight / t_summary:6.1f}x  {same(kind, got, reference)}"
        )
    print(
        f"{'all of the above':30} {total_summary * 1000:10.1f} {total_straight * 1000:12.1f} "
        f"{total_straight / total_summary:6.1f}x"
    )


if __name__ == "__main__":
    main()
