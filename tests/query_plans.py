"""The main history and summary reads, and the plan SQLite chooses for each statement they run.

Shared by the plan test and by anyone checking a real database by hand:

    .venv/bin/python -m tests.query_plans sqlite:///data/larder.db [DAY [READ ...]]
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable

from sqlalchemy import Connection, Engine, event

from data.summaries import (
    closure_aggregate,
    cost_aggregate,
    straight_aggregate,
    weekly_demand_aggregate,
)
from queries import finance, kpis, loyalty, overview, shipments

# The reads whose plan must not change when statistics appear (name -> call on a connection).
MAIN_READS: dict[str, Callable[[Connection, dt.date], object]] = {
    "order-line history (rollup rebuild)": lambda c, d: c.execute(straight_aggregate(c)).all(),
    "weekly demand from daily": lambda c, d: c.execute(weekly_demand_aggregate(c)).all(),
    "closed backorders (closures rebuild)": lambda c, d: c.execute(closure_aggregate(c)).all(),
    "ledger per week (cost rebuild)": lambda c, d: c.execute(cost_aggregate(c)).all(),
    "inventory turnover": lambda c, d: kpis.inventory_turnover(c, today=d),
    "backorder and fill rate": lambda c, d: (
        kpis.backorder_rate(c, today=d),
        kpis.fill_rate(c, today=d),
    ),
    "rate by category and week": lambda c, d: kpis.backorder_rate_by_category_week(c, today=d),
    "rate by category and month": lambda c, d: (
        overview.rates_by(c, "category", _year(d)),
        overview.rates_by_period(c, "month", _year(d)),
    ),
    "month against last year": lambda c, d: overview.month_against_last_year(c, _year(d), d),
    "cost ledger": lambda c, d: (
        finance.cost_ledger(c, _year(d)),
        finance.cost_ledger_page(c, _year(d)),
        finance.costs_by_week(c, _year(d)),
        finance.cost_summary(c, _year(d)),
    ),
    "customer exposure": lambda c, d: loyalty.customer_exposure(
        c, d - dt.timedelta(days=365), d, retention_days=90
    ),
    "carriers' record": lambda c, d: (
        shipments.on_time_by_carrier_region(c, today=d),
        overview.on_time_delivery(c, _year(d)),
    ),
    "forecast per period": lambda c, d: overview.forecast_weeks(c),
    "shipments on the way": lambda c, d: (
        shipments.outbound_in_transit(c, today=d),
        shipments.inbound_in_transit(c, today=d),
    ),
}


def _year(today: dt.date) -> overview.Filters:
    return overview.Filters(start=today - dt.timedelta(days=364), end=today)


def statements_of(
    engine: Engine, today: dt.date, names: list[str] | None = None
) -> dict[str, list[tuple[str, tuple]]]:
    """Every SELECT each main read (or those named) runs, with its parameters."""
    seen: list[tuple[str, tuple]] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, tuple(parameters or ())))

    out = {}
    event.listen(engine, "before_cursor_execute", note)
    try:
        for name, read in MAIN_READS.items():
            if names and name not in names:
                continue
            seen.clear()
            with engine.connect() as conn:
                read(conn, today)
            out[name] = list(seen)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return out


def plans(engine: Engine, statements: dict[str, list[tuple[str, tuple]]]) -> dict[str, list]:
    """SQLite's EXPLAIN QUERY PLAN of each statement (the steps' texts, in order)."""
    out = {}
    raw = engine.raw_connection()  # a new connection: it reads the statistics as they are now
    try:
        for name, runs in statements.items():
            out[name] = [
                [row[3] for row in raw.cursor().execute(f"EXPLAIN QUERY PLAN {sql}", params)]
                for sql, params in runs
            ]
    finally:
        raw.close()
    return out


def main() -> None:
    from data.db import make_engine

    engine = make_engine(sys.argv[1])
    today = dt.date.fromisoformat(sys.argv[2]) if len(sys.argv) > 2 else dt.date.today()
    names = sys.argv[3:]
    for name, steps in plans(engine, statements_of(engine, today, names)).items():
        print(f"== {name}")
        for number, statement in enumerate(steps, start=1):
            print(f"  statement {number}:")
            for step in statement:
                print(f"    {step}")


if __name__ == "__main__":
    main()
