"""The Overview's reads on the backorder rollup against the same figures from the order lines.

Each figure is read twice, side by side in one process: from ``backorder_rollup`` (what the page
does) and as the straight aggregate over order lines joined to orders, products, customers and
backorders (what the page would do without the summary). Both give the same numbers (checked
here); the times are the median of ``--runs`` runs.

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
from data.schema import Backorder, Customer, Order, OrderLine, Product, utcnow  # noqa: E402
from data.summaries import week_start  # noqa: E402
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


def timed(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


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
    cases = [
        ("rate by category, 52 weeks", lambda: ov.rates_by(engine, "category", f), "category", f),
        ("rate by segment, 52 weeks", lambda: ov.rates_by(engine, "segment", f), "segment", f),
        ("rate per week, 52 weeks", lambda: ov.rates_by_period(engine, "week", f), "week", f),
        ("cause shares by category", lambda: ov.cause_shares(engine, f), "cause", f),
        ("KPI totals, 52 weeks", lambda: ov.rate_kpis(engine, f), "total", f),
        (
            "rate by category, 3 years",
            lambda: ov.rates_by(engine, "category", whole),
            "category",
            whole,
        ),
    ]
    print(f"\n{'figure':30} {'rollup ms':>10} {'order lines ms':>15} {'ratio':>7}  same")
    total_rollup = total_straight = 0.0
    for name, on_rollup, group_by, filters in cases:
        t_rollup, got = timed(on_rollup, args.runs)

        def on_lines(group_by=group_by, filters=filters):
            with read_connection(engine) as conn:
                return straight(conn, filters, group_by)

        t_straight, reference = timed(on_lines, args.runs)
        same = _same(got, reference)
        total_rollup += t_rollup
        total_straight += t_straight
        print(
            f"{name:30} {t_rollup * 1000:10.1f} {t_straight * 1000:15.1f} "
            f"{t_straight / t_rollup:6.1f}x  {same}"
        )
    print(
        f"{'all of the above':30} {total_rollup * 1000:10.1f} {total_straight * 1000:15.1f} "
        f"{total_straight / total_rollup:6.1f}x"
    )


def _same(got, reference: pd.DataFrame) -> str:
    """Whether the rollup and the order lines agree on lines and short lines."""
    if isinstance(got, ov.RateKpis):
        lines, short = int(reference["lines"].iloc[0]), int(reference["bo_lines"].iloc[0])
        return "yes" if got.line_rate == (short / lines if lines else None) else "NO"
    agree = int(got["bo_lines"].sum()) == int(reference["bo_lines"].sum())
    if "lines" in got:
        agree = agree and int(got["lines"].sum()) == int(reference["lines"].sum())
    return "yes" if agree else "NO"


if __name__ == "__main__":
    main()
