"""Reads of the customer desks against direct SQL on a hand-made world (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from sqlalchemy import func, select, update

from data.db import write_session
from data.schema import Backorder, Customer, Order, OrderLine, Product, SalesRep, Substitute
from operations import (
    cancel_line,
    mark_answered,
    place_order,
    record_communication,
    swap_to_substitute,
)
from queries import customer_desks as desks
from tests import operations_world
from tests.operations_world import fetch_rows

world = operations_world.world


@pytest.fixture
def two_reps(engine, world):
    """The world's three customers belong to rep R1; one more customer belongs to rep R2."""
    with write_session(engine) as s:
        other = SalesRep(code="R2", name="Otto Rep", region="South")
        s.add(other)
        s.flush()
        stranger = Customer(
            code="C-OTHER", name="Other Diner", segment="Hotel", region="South", tier="gold",
            sales_rep_id=other.id, email="other@example.com", phone="0161 496 0000",
        )  # fmt: skip
        s.add(stranger)
        s.execute(update(Customer).where(Customer.code == "C-gold").values(phone="01632 960 123"))
        s.flush()
        ids = {"other_rep": other.id, "stranger": stranger.id}
    # Backorders for a customer of each rep: BUTTER has 3 on hand.
    mine = place_order(
        engine, customer_id=world.customers["gold"], lines=[("BUTTER-10", 8)], actor="t"
    )
    theirs = place_order(engine, customer_id=ids["stranger"], lines=[("BUTTER-10", 4)], actor="t")
    ids["mine"], ids["theirs"] = mine, theirs
    return ids


def test_miss_probability_reads_the_late_case_as_the_90th_percentile():
    day = dt.date(2026, 5, 1)
    assert desks.miss_probability(day, day, day + dt.timedelta(days=4)) == pytest.approx(0.5)
    # Promised on the late-case date: one chance in ten of being later.
    late = day + dt.timedelta(days=4)
    assert desks.miss_probability(late, day, late) == pytest.approx(0.1, abs=1e-4)
    assert (
        desks.miss_probability(day, day + dt.timedelta(days=1), day + dt.timedelta(days=1)) == 1.0
    )
    assert desks.miss_probability(day + dt.timedelta(days=1), day, day) == 0.0
    assert math.isnan(desks.miss_probability(None, day, day))
    assert desks.risk_band(0.7) == "high" and desks.risk_band(0.3) == "medium"
    assert desks.risk_band(0.1) == "low" and desks.risk_band(math.nan) == "unknown"


def test_open_backorders_are_only_the_representatives_and_match_the_database(
    engine, world, two_reps
):
    mine = desks.open_backorders(engine, sales_rep_id=world.sales_rep)
    assert set(mine["customer_id"]) == {world.customers["gold"]}
    (row,) = fetch_rows(
        engine,
        select(Backorder.qty - Backorder.qty_filled - Backorder.qty_cancelled, OrderLine.unit_price)
        .join(OrderLine, OrderLine.id == Backorder.order_line_id)
        .join(Customer, Customer.id == Backorder.customer_id)
        .where(Customer.sales_rep_id == world.sales_rep, Backorder.status == "open"),
    )
    assert mine["qty_open"].tolist() == [row[0]] == [5]
    assert mine["value"].tolist() == [pytest.approx(float(row[0] * row[1]))]
    every = desks.open_backorders(engine, sales_rep_id=None)
    assert set(every["customer_id"]) == {world.customers["gold"], two_reps["stranger"]}
    assert desks.open_backorders(engine, sales_rep_id=two_reps["other_rep"])[
        "customer_id"
    ].tolist() == [two_reps["stranger"]]


def test_reads_by_id_refuse_another_representatives_customer_and_order(engine, world, two_reps):
    stranger, order = two_reps["stranger"], two_reps["theirs"].order_id
    rep = world.sales_rep
    assert desks.customer_in_scope(engine, stranger, sales_rep_id=rep) is None
    assert desks.customer_in_scope(engine, stranger, sales_rep_id=None)["code"] == "C-OTHER"
    assert desks.order_in_scope(engine, order, sales_rep_id=rep) is None
    assert desks.open_order_lines(engine, customer_id=stranger, sales_rep_id=rep).empty
    assert desks.open_order_lines(engine, order_id=order, sales_rep_id=rep).empty
    assert desks.order_timeline(engine, order, sales_rep_id=rep).empty
    assert desks.customer_messages(engine, stranger, sales_rep_id=rep).empty
    assert desks.open_backorders(engine, sales_rep_id=rep, customer_id=stranger).empty
    assert stranger not in set(desks.customers_in_scope(engine, sales_rep_id=rep)["customer_id"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gold bistro", {"C-gold"}),
        ("GOLD@EXAMPLE", {"C-gold"}),
        ("c-oth", {"C-OTHER"}),
        ("01632960123", {"C-gold"}),
        ("960 1", {"C-gold"}),
        ("butter-1", {"C-gold", "C-OTHER"}),
        ("%", set()),
        ("_", set()),
        ("", set()),
    ],
)
def test_find_orders_is_partial_case_blind_and_escapes_wildcards(
    engine, world, two_reps, text, expected
):
    found = desks.find_orders(engine, text, sales_rep_id=None)
    assert set(found["customer_code"]) == expected


def test_find_orders_by_number_and_for_a_representative(engine, world, two_reps):
    number = two_reps["theirs"].number
    assert desks.find_orders(engine, number.lower(), sales_rep_id=None)[
        "order_number"
    ].tolist() == [number]
    assert desks.find_orders(engine, number, sales_rep_id=world.sales_rep).empty
    assert desks.find_orders(engine, "other", sales_rep_id=world.sales_rep).empty


def test_timeline_lists_every_event_of_the_order_in_time_order(engine, world, two_reps):
    placed = two_reps["mine"]
    with write_session(engine) as s:
        s.add(
            Substitute(
                product_id=world.products["BUTTER-10"], substitute_id=world.products["OIL-5L"]
            )
        )
        # A listed substitute serves the same use as the product it stands in for.
        s.execute(
            update(Product).where(Product.id == world.products["OIL-5L"]).values(use="butter")
        )
    (backorder_id,) = fetch_rows(
        engine, select(Backorder.id).where(Backorder.order_line_id == placed.lines[0].line_id)
    )[0]
    swap_to_substitute(
        engine, backorder_id=backorder_id, substitute_product_id=world.products["OIL-5L"],
        quantity=2, accepted=True, actor="rita",
    )  # fmt: skip
    record_communication(
        engine, actor="sam", channel="phone", direction="inbound", subject="When?",
        customer_id=world.customers["gold"], order_id=placed.order_id,
    )  # fmt: skip
    cancel_line(
        engine, order_line_id=placed.lines[0].line_id, actor="sam", reason="no longer needed"
    )
    timeline = desks.order_timeline(engine, placed.order_id, sales_rep_id=None)
    events = timeline["event"].tolist()
    assert events[0] == "placed"
    for event in ("reserved", "backordered", "substitute offered", "message inbound", "cancelled"):
        assert event in events, events
    assert timeline["at"].is_monotonic_increasing
    cancelled = timeline[timeline["event"] == "cancelled"]["detail"].iloc[0]
    assert "no longer needed" in cancelled


def test_service_kpis_match_hand_computed_response_times(engine, world, two_reps):
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    gold = world.customers["gold"]
    waits = [1.0, 2.0, 3.0, 10.0]
    for number, hours in enumerate(waits):
        asked = now - dt.timedelta(days=2, hours=number)
        cid = record_communication(
            engine, actor="sam", channel="phone", direction="inbound", subject=f"Q{number}",
            customer_id=gold, now=asked,
        )  # fmt: skip
        mark_answered(
            engine, communication_id=cid, actor="sam", now=asked + dt.timedelta(hours=hours)
        )
    record_communication(
        engine, actor="sam", channel="email", direction="inbound", subject="open", customer_id=gold
    )
    figures = desks.service_kpis(engine, target_hours=4, now=now)
    assert figures["questions"] == 5 and figures["unanswered"] == 1
    assert figures["avg_response_hours"] == pytest.approx(4.0)
    assert figures["within_target"] == pytest.approx(0.75)
    # pandas' linear P90 of 1, 2, 3, 10: 3 + 0.7 * 7
    assert figures["p90_response_hours"] == pytest.approx(7.9)
    cancel_line(engine, order_line_id=two_reps["theirs"].lines[0].line_id, actor="t", reason="x")
    figures = desks.service_kpis(engine, target_hours=4, now=now)
    ((orders,),) = fetch_rows(engine, select(func.count(Order.id)))
    ((cancelled,),) = fetch_rows(
        engine, select(func.count(Order.id)).where(Order.status == "cancelled")
    )
    assert (orders, cancelled) == (2, 1)
    assert figures["cancellation_rate"] == pytest.approx(0.5)
    trend = desks.service_trend(engine, target_hours=4, now=now)
    response = trend[trend["measure"] == "Average response (hours)"]["value"]
    assert response.tolist() == [pytest.approx(4.0)]


def test_rep_kpis_value_risk_and_conversion_match_the_database(engine, world, two_reps):
    cancel_line(
        engine, order_line_id=two_reps["mine"].lines[0].line_id, actor="t", reason="x", qty=2
    )
    figures = desks.rep_kpis(engine, sales_rep_id=world.sales_rep)
    backorders = desks.open_backorders(engine, sales_rep_id=world.sales_rep)
    assert figures["open_backorder_value"] == pytest.approx(backorders["value"].sum())
    assert figures["open_backorder_value"] == pytest.approx(3 * 42.0)
    at_risk = backorders.loc[backorders["miss_risk"] >= desks.AT_RISK, "value"].sum()
    assert figures["share_at_risk"] == pytest.approx(at_risk / backorders["value"].sum())
    ordered, cancelled = fetch_rows(
        engine,
        select(func.sum(OrderLine.qty_ordered), func.sum(OrderLine.qty_cancelled))
        .join(Order, Order.id == OrderLine.order_id)
        .join(Customer, Customer.id == Order.customer_id)
        .where(Customer.sales_rep_id == world.sales_rep),
    )[0]
    assert (
        figures["conversion"]
        == pytest.approx((ordered - cancelled) / ordered)
        == pytest.approx(6 / 8)
    )
    assert figures["csat"] is None and figures["fulfilment_days"] is None


def test_a_customers_open_orders_include_a_closed_order_still_waiting_on_a_backorder(
    engine, world, two_reps
):
    placed = two_reps["mine"]
    with write_session(engine) as s:
        s.execute(update(Order).where(Order.id == placed.order_id).values(status="shipped"))
    lines = desks.open_order_lines(
        engine, customer_id=world.customers["gold"], sales_rep_id=world.sales_rep
    )
    assert lines["order_number"].tolist() == [placed.number]
    assert lines["line_status"].tolist() == ["part backordered"]
    with write_session(engine) as s:
        s.execute(update(Backorder).values(status="filled"))
    lines = desks.open_order_lines(
        engine, customer_id=world.customers["gold"], sales_rep_id=world.sales_rep
    )
    assert lines.empty


def test_find_customers_finds_one_without_orders_and_keeps_to_the_representative(
    engine, world, two_reps
):
    found = desks.find_customers(engine, "BRONZE bis", sales_rep_id=None)
    assert found["code"].tolist() == ["C-bronze"]
    assert desks.find_customers(engine, "0161-496", sales_rep_id=None)["code"].tolist() == [
        "C-OTHER"
    ]
    assert desks.find_customers(engine, "other", sales_rep_id=world.sales_rep).empty
    assert desks.find_customers(engine, "%", sales_rep_id=None).empty
