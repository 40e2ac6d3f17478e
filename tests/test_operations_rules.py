"""The pure rules behind the write side: priority score, estimates, order sizes, quantities."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from data.db import write_session
from data.schema import Backorder, PurchaseOrder, PurchaseOrderLine
from data.settings import SETTINGS
from operations import ValidationError, expected_date, place_order, priority_score
from operations.purchasing import order_quantity
from operations.validation import quantity
from tests.operations_world import build_world

WEIGHTS = {key: SETTINGS[key].default for key in SETTINGS if key.startswith("weight_")}
TODAY = dt.date(2026, 3, 10)


@pytest.mark.parametrize(
    ("tier", "priority", "waiting", "to_promise", "score", "parts"),
    [
        (
            "gold",
            "normal",
            0,
            None,
            3.0,
            {"tier": 3.0, "urgent": 0.0, "waiting": 0.0, "slack": 0.0},
        ),
        (
            "silver",
            "normal",
            0,
            None,
            1.5,
            {"tier": 1.5, "urgent": 0.0, "waiting": 0.0, "slack": 0.0},
        ),
        (
            "bronze",
            "urgent",
            0,
            None,
            2.0,
            {"tier": 0.0, "urgent": 2.0, "waiting": 0.0, "slack": 0.0},
        ),
        (
            "bronze",
            "normal",
            10,
            None,
            2.0,
            {"tier": 0.0, "urgent": 0.0, "waiting": 2.0, "slack": 0.0},
        ),
        # promise 5 days away: no slack points yet; due today: 2 days' worth; 3 days late: 5
        ("bronze", "normal", 0, 5, 0.0, {"tier": 0.0, "urgent": 0.0, "waiting": 0.0, "slack": 0.0}),
        ("bronze", "normal", 0, 0, 1.0, {"tier": 0.0, "urgent": 0.0, "waiting": 0.0, "slack": 1.0}),
        (
            "bronze",
            "normal",
            0,
            -3,
            2.5,
            {"tier": 0.0, "urgent": 0.0, "waiting": 0.0, "slack": 2.5},
        ),
        ("gold", "urgent", 5, -1, 7.5, {"tier": 3.0, "urgent": 2.0, "waiting": 1.0, "slack": 1.5}),
    ],
)
def test_priority_score_adds_up_its_parts(tier, priority, waiting, to_promise, score, parts):
    got_score, got_parts = priority_score(
        tier=tier,
        priority=priority,
        days_waiting=waiting,
        days_to_promise=to_promise,
        weights=WEIGHTS,
    )
    assert (got_score, got_parts) == (score, parts)


def test_priority_score_follows_the_weights():
    weights = WEIGHTS | {"weight_tier": 10.0}
    assert (
        priority_score(
            tier="silver", priority="normal", days_waiting=0, days_to_promise=None, weights=weights
        )[0]
        == 5.0
    )


@pytest.mark.parametrize(
    ("need", "pack", "minimum", "expected"),
    [(50, 5, 10, 50), (7, 10, 20, 20), (12, 1, 1, 12), (21, 10, 1, 30), (3, 4, 6, 8)],
)
def test_order_quantity_rounds_up_to_packs_and_minimum(need, pack, minimum, expected):
    assert order_quantity(need=need, pack_size=pack, min_order_qty=minimum) == expected


@pytest.mark.parametrize(("value", "expected"), [(3, 3), (3.0, 3), (Decimal("4"), 4)])
def test_whole_quantities_are_accepted(value, expected):
    assert quantity(value) == expected


# --- the placeholder estimate --------------------------------------------------------------


def _po(session: Session, world, product_id, qty, expected, status="sent", number="PO-1"):
    po = PurchaseOrder(
        number=number,
        supplier_id=world.suppliers["MILL"],
        warehouse_id=world.warehouse,
        status=status,
        expected_date=expected,
    )
    session.add(po)
    session.flush()
    session.add(
        PurchaseOrderLine(
            po_id=po.id, product_id=product_id, qty_ordered=qty, unit_cost=Decimal("1")
        )
    )
    session.flush()
    return po.id


@pytest.fixture
def sworld(sqlite_engine):
    return build_world(sqlite_engine)


def test_estimate_in_stock_is_today(sqlite_engine, sworld):
    with write_session(sqlite_engine) as session:
        estimate = expected_date(session, sworld.products["OIL-5L"], 40, TODAY)
    assert (estimate.likely, estimate.late, estimate.reason, estimate.po_id) == (
        TODAY,
        TODAY + dt.timedelta(days=1),
        "in stock now",
        None,
    )


def test_estimate_without_a_po_uses_the_supplier_lead_time(sqlite_engine, sworld):
    with write_session(sqlite_engine) as session:
        estimate = expected_date(session, sworld.products["NAPKIN-500"], 5, TODAY)
    assert estimate.likely == TODAY + dt.timedelta(days=7)
    assert estimate.late == TODAY + dt.timedelta(days=11)  # + half of 7, rounded up
    assert estimate.reason == (
        "no open purchase order covers it: reorder plus Northern Mill's 7-day lead time"
    )


def test_estimate_waits_on_the_first_po_that_covers_the_queue(sqlite_engine, sworld):
    napkin = sworld.products["NAPKIN-500"]
    with write_session(sqlite_engine) as session:
        first = _po(session, sworld, napkin, 10, dt.date(2026, 3, 12), number="PO-A")
        second = _po(session, sworld, napkin, 50, dt.date(2026, 3, 20), number="PO-B")
        _po(session, sworld, napkin, 500, dt.date(2026, 3, 11), status="draft", number="PO-C")
        alone = expected_date(session, napkin, 8, TODAY)
        behind_queue = expected_date(session, napkin, 8, TODAY, ahead=6)
    assert (alone.likely, alone.po_id) == (dt.date(2026, 3, 12), first)
    assert alone.reason == "waits on PO-A, expected 2026-03-12; first in the queue"
    # 6 units ahead + 8 needed = 14 > the 10 on PO-A: it waits for PO-B
    assert (behind_queue.likely, behind_queue.po_id) == (dt.date(2026, 3, 20), second)
    assert "6 units queued ahead" in behind_queue.reason


def test_open_backorders_count_as_the_queue_by_default(sqlite_engine, sworld):
    napkin = sworld.products["NAPKIN-500"]
    place_order(
        sqlite_engine, customer_id=sworld.customers["gold"], lines=[("NAPKIN-500", 9)], actor="a"
    )
    with write_session(sqlite_engine) as session:
        _po(session, sworld, napkin, 10, dt.date(2026, 3, 12))
        assert session.query(Backorder).count() == 1
        estimate = expected_date(session, napkin, 2, TODAY)
    assert estimate.po_id is None
    assert estimate.likely == TODAY + dt.timedelta(days=7)


def test_an_overdue_po_is_expected_today_and_says_so(sqlite_engine, sworld):
    napkin = sworld.products["NAPKIN-500"]
    with write_session(sqlite_engine) as session:
        _po(session, sworld, napkin, 10, dt.date(2026, 3, 1))
        estimate = expected_date(session, napkin, 2, TODAY)
    assert estimate.likely == TODAY
    assert "(already overdue)" in estimate.reason


def test_an_approved_po_without_a_date_assumes_the_lead_time(sqlite_engine, sworld):
    napkin = sworld.products["NAPKIN-500"]
    with write_session(sqlite_engine) as session:
        po_id = _po(session, sworld, napkin, 10, None, status="approved")
        estimate = expected_date(session, napkin, 2, TODAY)
    assert (estimate.likely, estimate.po_id) == (TODAY + dt.timedelta(days=7), po_id)


def test_validation_error_keeps_its_message():
    with pytest.raises(ValidationError) as caught:
        quantity(0, "Cases")
    assert caught.value.message == str(caught.value) == "Cases must be at least 1, not 0."
