"""ANALYZE must not change the plans of the main history and summary reads (SQLite).

Larder never runs ``ANALYZE``, but a person or a tool may; with statistics SQLite once drove
the order-line history from the customers through two indexes, several times slower. The main
reads (tests/query_plans.py) are planned on a seeded database without statistics, then again
after ``ANALYZE``: in every statement each table must be reached the same way (scanned or
searched, through the same index). Only the order of lookups by primary key may change; a
change of driving table shows as a SCAN turned SEARCH and fails.
"""

from __future__ import annotations

from sqlalchemy import text

from data import demo
from data.schema import Base, utcnow
from tests.query_plans import MAIN_READS, plans, statements_of


def test_analyze_leaves_the_main_reads_plans_unchanged(sqlite_engine):
    Base.metadata.drop_all(sqlite_engine)
    Base.metadata.create_all(sqlite_engine)
    demo.generate(sqlite_engine, scale="tiny")
    today = utcnow().date()
    statements = statements_of(sqlite_engine, today)
    assert set(statements) == set(MAIN_READS)
    assert all(statements.values()), "a read ran no statement"
    before = plans(sqlite_engine, statements)
    with sqlite_engine.begin() as conn:
        conn.execute(text("ANALYZE"))
        assert conn.execute(text("SELECT count(*) FROM sqlite_stat1")).scalar_one() > 0
    after = plans(sqlite_engine, statements)
    for name in MAIN_READS:
        assert [sorted(steps) for steps in after[name]] == [
            sorted(steps) for steps in before[name]
        ], name
    # The history aggregate reads the order lines once, everything else by key.
    assert before["order-line history (rollup rebuild)"][0][0] == "SCAN order_lines"
    # The forecast per period reads the newest run's rows from one index, not the table.
    (forecast,) = before["forecast per period"]
    assert any(
        step.startswith("SEARCH forecasts USING COVERING INDEX ix_forecasts_run_period")
        for step in forecast
    ), forecast
