"""The closed-backorder, weekly cost and delivery summaries kept by the write side equal straight
aggregates.

``backorder_closures`` (closed backorders per segment and days-waiting bucket),
``backorder_cost_weekly`` (the cost ledger per week, kind, category and segment) and
``delivery_weekly`` (outbound deliveries per week, on time or not) are kept in the same
transaction as each change. Here they are computed again in plain Python from the raw rows
after the hand-made analytics history, after more orders, cancellations, fills, short picks and
costs on chosen days (so every days-waiting bucket is reached), after random sequences of every
operation, and after a rebuild; the pages' reads on them are checked against the same rows.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import text

from data.db import read_connection
from data.summaries import WAIT_BUCKETS, rebuild
from operations import cancel_line, place_order, record_backorder_cost
from queries import finance as fin
from queries import overview as ov
from tests.analytics_world import NOW, TODAY, at, build_analytics_world
from tests.operations_world import build_world
from tests.test_invariants_property import run_step
from tests.test_rollup import random_steps

RAW_BACKORDERS = text(
    """
    SELECT c.segment, b.status, b.created_at, b.closed_at, b.cancel_reason
    FROM backorders b JOIN customers c ON c.id = b.customer_id
    """
)
RAW_COSTS = text(
    """
    SELECT k.at, k.kind, p.category, c.segment, k.amount
    FROM backorder_costs k
    JOIN backorders b ON b.id = k.backorder_id
    JOIN products p ON p.id = b.product_id
    JOIN customers c ON c.id = b.customer_id
    """
)


def _moment(value) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def expected_closures(engine) -> dict[tuple, tuple[int, int]]:
    """(segment, bucket) -> (closed, cancelled), counted backorder by backorder."""
    out: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    with read_connection(engine) as conn:
        rows = conn.execute(RAW_BACKORDERS).all()
    for segment, status, created, closed, reason in rows:
        created, closed = _moment(created), _moment(closed)
        if status not in ("filled", "cancelled") or closed is None:
            continue
        if (reason or "").startswith("cancel_short"):
            continue
        waited = closed - created
        bucket = max(i for i, days in enumerate(WAIT_BUCKETS) if waited >= dt.timedelta(days))
        out[(segment, bucket)][0] += 1
        out[(segment, bucket)][1] += status == "cancelled"
    return {key: tuple(v) for key, v in out.items()}


def stored_closures(engine) -> dict[tuple, tuple[int, int]]:
    with read_connection(engine) as conn:
        rows = conn.execute(
            text("SELECT segment, bucket, closed, cancelled FROM backorder_closures")
        ).all()
    return {(s, int(b)): (int(c), int(x)) for s, b, c, x in rows if c or x}


def expected_costs(engine) -> dict[tuple, tuple[Decimal, int]]:
    """(week, kind, category, segment) -> (amount, entries), entry by entry."""
    out: dict[tuple, list] = defaultdict(lambda: [Decimal(0), 0])
    with read_connection(engine) as conn:
        rows = conn.execute(RAW_COSTS).all()
    for moment, kind, category, segment, amount in rows:
        day = _moment(moment).date()
        key = (day - dt.timedelta(days=day.weekday()), kind, category, segment)
        out[key][0] += Decimal(str(amount))
        out[key][1] += 1
    return {key: (round(a, 2), n) for key, (a, n) in out.items()}


def stored_costs(engine) -> dict[tuple, tuple[Decimal, int]]:
    with read_connection(engine) as conn:
        rows = conn.execute(
            text("SELECT week, kind, category, segment, amount, entries FROM backorder_cost_weekly")
        ).all()
    out = {}
    for week, kind, category, segment, amount, entries in rows:
        week = week if isinstance(week, dt.date) else dt.date.fromisoformat(week)
        if entries:
            out[(week, kind, category, segment)] = (round(Decimal(str(amount)), 2), int(entries))
    return out


def expected_deliveries(engine) -> dict[dt.date, tuple[int, int]]:
    """Week -> (delivered, on time), shipment by shipment."""
    out: dict[dt.date, list[int]] = defaultdict(lambda: [0, 0])
    with read_connection(engine) as conn:
        rows = conn.execute(
            text(
                "SELECT delivered_at, promised_date FROM shipments WHERE direction = 'outbound' "
                "AND delivered_at IS NOT NULL AND promised_date IS NOT NULL"
            )
        ).all()
    for delivered, promised in rows:
        day = _moment(delivered).date()
        promised = promised if isinstance(promised, dt.date) else dt.date.fromisoformat(promised)
        week = day - dt.timedelta(days=day.weekday())
        out[week][0] += 1
        out[week][1] += day <= promised
    return {week: tuple(v) for week, v in out.items()}


def stored_deliveries(engine) -> dict[dt.date, tuple[int, int]]:
    with read_connection(engine) as conn:
        rows = conn.execute(text("SELECT week, delivered, on_time FROM delivery_weekly")).all()
    return {
        (w if isinstance(w, dt.date) else dt.date.fromisoformat(w)): (int(d), int(o))
        for w, d, o in rows
        if d
    }


def _assert_summaries_match(engine) -> None:
    assert stored_closures(engine) == expected_closures(engine)
    assert stored_costs(engine) == expected_costs(engine)
    assert stored_deliveries(engine) == expected_deliveries(engine)


def _closings_on_chosen_days(engine, world) -> None:
    """Backorders given up after 9, 20 and 40 days, and costs booked on them."""
    for days_open, placed in ((9, 70), (20, 60), (40, 55)):
        order = place_order(
            engine,
            customer_id=world.customers["hotel"],
            lines=[("APPLE-5KG", 2)],
            actor="t",
            now=at(placed),
        )
        line_id = order.lines[0].line_id
        cancel_line(
            engine,
            order_line_id=line_id,
            actor="t",
            reason="waited too long",
            now=at(placed - days_open),
        )
        with read_connection(engine) as conn:
            backorder_id = conn.execute(
                text("SELECT id FROM backorders WHERE order_line_id = :line"), {"line": line_id}
            ).scalar_one()
        record_backorder_cost(
            engine,
            backorder_id=backorder_id,
            kind="credit",
            amount="2.50",
            actor="t",
            now=at(placed - days_open, 11),
        )


def test_the_summaries_equal_the_straight_aggregates_through_the_history(engine):
    world = build_analytics_world(engine)
    _assert_summaries_match(engine)
    assert stored_costs(engine), "the world booked no cost"
    assert sum(d for d, _ in stored_deliveries(engine).values()) == 4
    _closings_on_chosen_days(engine, world)
    closures = stored_closures(engine)
    assert {bucket for _, bucket in closures} == {0, 1, 2, 3}
    assert closures[("Hotel", 3)] == (1, 1)
    _assert_summaries_match(engine)
    before = (stored_closures(engine), stored_costs(engine), stored_deliveries(engine))
    with engine.begin() as conn:
        rebuild(conn)
    assert (stored_closures(engine), stored_costs(engine), stored_deliveries(engine)) == before


@pytest.mark.parametrize("seed", [4, 5])
def test_the_summaries_equal_the_straight_aggregates_after_random_operations(engine, seed):
    world = build_world(engine)
    for step in random_steps(random.Random(seed), 40):
        run_step(engine, world, step)
    assert expected_closures(engine), "no backorder closed"
    assert expected_costs(engine), "no cost was booked"
    _assert_summaries_match(engine)
    with engine.begin() as conn:
        rebuild(conn)
    _assert_summaries_match(engine)


def test_revenue_at_risk_equals_the_backorder_by_backorder_figures(engine):
    world = build_analytics_world(engine)
    _closings_on_chosen_days(engine, world)
    place_order(  # one more open backorder, waiting 20 days
        engine, customer_id=world.customers["school"], lines=[("APPLE-5KG", 1)], actor="t",
        now=at(20),
    )  # fmt: skip
    for f in (
        None,
        ov.Filters(TODAY - dt.timedelta(days=60), TODAY, ("Produce",), ()),
        ov.Filters(TODAY - dt.timedelta(days=60), TODAY, (), ("Hotel", "School")),
    ):
        rows = ov.open_backorders_at_risk(engine, f, now=NOW)
        totals = ov.revenue_at_risk(engine, f, now=NOW)
        assert totals.open_backorders == len(rows) > 0
        assert totals.open_value == pytest.approx(rows["open_value"].sum())
        assert totals.at_risk == pytest.approx(rows["at_risk"].sum())
    assert ov.revenue_at_risk(engine, now=NOW).at_risk > 0


def test_the_ledger_page_and_the_weekly_costs_equal_the_ledger(engine):
    world = build_analytics_world(engine)
    _closings_on_chosen_days(engine, world)
    for f in (
        ov.Filters(TODAY - dt.timedelta(days=80), TODAY),
        ov.Filters(TODAY - dt.timedelta(days=80), TODAY, ("Produce",), ()),
        ov.Filters(TODAY - dt.timedelta(days=80), TODAY, (), ("Hotel",)),
    ):
        ledger = fin.cost_ledger(engine, f)
        assert len(ledger) > 2
        pages = [
            fin.cost_ledger_page(engine, f, limit=2, offset=o) for o in range(0, len(ledger), 2)
        ]
        assert {p.total for p in pages} == {len(ledger)}
        # The pages in order are the whole ledger; an offset past the end gives the last page.
        assert pd.concat([p.rows for p in pages], ignore_index=True).equals(ledger)
        past = fin.cost_ledger_page(engine, f, limit=2, offset=len(ledger) + 10)
        assert past.offset == pages[-1].offset and past.rows.equals(pages[-1].rows)
        weekly = fin.costs_by_week(engine, f)
        assert weekly["entries"].sum() == len(ledger)
        assert weekly["amount"].sum() == pytest.approx(ledger["amount"].sum())
        by_kind = weekly.groupby("kind")["amount"].sum()
        labels = ledger.groupby("kind")["amount"].sum()
        for kind, amount in by_kind.items():
            assert labels[fin.COST_KIND_LABELS[kind]] == pytest.approx(amount)
