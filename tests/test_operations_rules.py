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
from tests import operations_world

# Shared fixtures, assigned so pytest finds them by name in this module.
sworld = operations_world.sworld

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


# --- the backorder estimate (available-to-promise, no model trained) ----------------------
# TODAY is Tuesday 10 Mar 2026. With no lead-time or transit model trained the walk uses the
# quoted figures: Northern Mill's 7-day lead (late case 7 x 1.5 = 10.5 -> 11 days), a PO's late
# case is its expected date + 7 x 0.5 = 3.5 -> 4 days, 1 pick day (working days) and the only
# carrier's 2 quoted transit days (calendar days).


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


def test_estimate_in_stock_is_delivered_after_picking_and_transit(sqlite_engine, sworld):
    with write_session(sqlite_engine) as session:
        estimate = expected_date(session, sworld.products["OIL-5L"], 40, TODAY)
    # in stock Tue 10 Mar + 1 pick day = Wed 11 Mar + 2 transit days = Fri 13 Mar (no late case)
    assert (estimate.likely, estimate.late, estimate.reason, estimate.po_id) == (
        dt.date(2026, 3, 13),
        dt.date(2026, 3, 13),
        "in stock now; then 1 pick day and 2 days quoted transit",
        None,
    )
    assert (estimate.restock_likely, estimate.restock_late) == (TODAY, TODAY)


def test_estimate_without_a_po_uses_the_supplier_lead_time(sqlite_engine, sworld):
    with write_session(sqlite_engine) as session:
        estimate = expected_date(session, sworld.products["NAPKIN-500"], 5, TODAY)
    # likely: 10 Mar + 2 days to reorder + 7-day lead = Thu 19 Mar restock;
    #         + 1 pick day = Fri 20 Mar + 2 transit days = Sun 22 Mar
    # late:   10 Mar + 2 + 11 (7 x 1.5 rounded up) = Mon 23 Mar; + 1 pick day = Tue 24 + 2 = 26 Mar
    assert (estimate.restock_likely, estimate.restock_late) == (
        dt.date(2026, 3, 19),
        dt.date(2026, 3, 23),
    )
    assert (estimate.likely, estimate.late, estimate.po_id) == (
        dt.date(2026, 3, 22),
        dt.date(2026, 3, 26),
        None,
    )
    assert estimate.reason == (
        "no open purchase order covers it: next reorder plus Northern Mill's quoted 7-day lead"
        " time (no history yet), 1st in queue; then 1 pick day and 2 days quoted transit"
    )


def test_estimate_waits_on_the_first_po_that_covers_the_queue(sqlite_engine, sworld):
    napkin = sworld.products["NAPKIN-500"]
    with write_session(sqlite_engine) as session:
        first = _po(session, sworld, napkin, 10, dt.date(2026, 3, 12), number="PO-A")
        second = _po(session, sworld, napkin, 50, dt.date(2026, 3, 20), number="PO-B")
        _po(session, sworld, napkin, 500, dt.date(2026, 3, 11), status="draft", number="PO-C")
        alone = expected_date(session, napkin, 8, TODAY)
        behind_queue = expected_date(session, napkin, 8, TODAY, ahead=6)
    # PO-A Thu 12 Mar + 1 pick day = Fri 13 + 2 transit = Sun 15 Mar;
    # late: 12 Mar + 4 days = Mon 16 Mar + 1 pick day = Tue 17 + 2 = Thu 19 Mar
    assert (alone.likely, alone.late, alone.po_id) == (
        dt.date(2026, 3, 15),
        dt.date(2026, 3, 19),
        first,
    )
    assert alone.reason == (
        "waits on PO-A, 1st in queue; then 1 pick day and 2 days quoted transit"
    )
    # 6 units ahead + 8 needed = 14 > the 10 on PO-A: it waits for PO-B (the draft never counts).
    # PO-B Fri 20 Mar + 1 pick day = Mon 23 + 2 = Wed 25 Mar;
    # late: 20 Mar + 4 = Tue 24 Mar + 1 pick day = Wed 25 + 2 = Fri 27 Mar
    assert (behind_queue.likely, behind_queue.late, behind_queue.po_id) == (
        dt.date(2026, 3, 25),
        dt.date(2026, 3, 27),
        second,
    )
    assert behind_queue.reason.startswith("waits on PO-B, 6 units queued ahead;")


def test_open_backorders_count_as_the_queue_by_default(sqlite_engine, sworld):
    napkin = sworld.products["NAPKIN-500"]
    place_order(
        sqlite_engine, customer_id=sworld.customers["gold"], lines=[("NAPKIN-500", 9)], actor="a"
    )
    with write_session(sqlite_engine) as session:
        po_id = _po(session, sworld, napkin, 10, dt.date(2026, 3, 12))
        assert session.query(Backorder).count() == 1
        estimate = expected_date(session, napkin, 2, TODAY)
        first_in_line = expected_date(session, napkin, 2, TODAY, ahead=0)
    # Alone the 2 units would come on the PO: Thu 12 Mar + 1 pick day + 2 transit = Sun 15 Mar.
    assert (first_in_line.likely, first_in_line.po_id) == (dt.date(2026, 3, 15), po_id)
    # Behind the 9 queued, 11 > the PO's 10: next reorder, 10 Mar + 2 + 7 = Thu 19 Mar restock;
    # + 1 pick day = Fri 20 + 2 transit = Sun 22 Mar.
    assert estimate.po_id is None
    assert estimate.likely == dt.date(2026, 3, 22)
    assert estimate.reason.startswith(
        "open purchase orders do not cover it: next reorder plus Northern Mill's quoted"
    )
    assert "2nd in queue" in estimate.reason


def test_an_overdue_po_is_expected_tomorrow_and_says_so(sqlite_engine, sworld):
    napkin = sworld.products["NAPKIN-500"]
    with write_session(sqlite_engine) as session:
        _po(session, sworld, napkin, 10, dt.date(2026, 3, 1))
        estimate = expected_date(session, napkin, 2, TODAY)
    # Due 1 Mar, late case 1 Mar + 4 = 5 Mar: both past, so the earliest is tomorrow, Wed 11 Mar;
    # + 1 pick day = Thu 12 + 2 transit = Sat 14 Mar. The late case keeps the usual 4-day spread:
    # restock Sun 15 Mar, picking starts Mon 16, + 1 pick day = Tue 17 + 2 transit = Thu 19 Mar.
    assert (estimate.restock_likely, estimate.likely, estimate.restock_late, estimate.late) == (
        dt.date(2026, 3, 11),
        dt.date(2026, 3, 14),
        dt.date(2026, 3, 15),
        dt.date(2026, 3, 19),
    )
    assert estimate.reason.startswith("waits on PO-1 (was due 2026-03-01), 1st in queue;")


def test_an_approved_po_without_a_date_assumes_the_lead_time(sqlite_engine, sworld):
    napkin = sworld.products["NAPKIN-500"]
    with write_session(sqlite_engine) as session:
        po_id = _po(session, sworld, napkin, 10, None, status="approved")
        estimate = expected_date(session, napkin, 2, TODAY)
    # Goes out today: 10 Mar + 7-day lead = Tue 17 Mar + 1 pick day = Wed 18 + 2 = Fri 20 Mar.
    # Late: 17 Mar + 4 = Sat 21 Mar; picking starts Mon 23, + 1 pick day = Tue 24 + 2 = 26 Mar.
    assert (estimate.likely, estimate.late, estimate.po_id) == (
        dt.date(2026, 3, 20),
        dt.date(2026, 3, 26),
        po_id,
    )


def test_validation_error_keeps_its_message():
    with pytest.raises(ValidationError) as caught:
        quantity(0, "Cases")
    assert caught.value.message == str(caught.value) == "Cases must be at least 1, not 0."
