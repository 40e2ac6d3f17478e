"""Placing and cancelling orders: reservations, backorders, preferences, demand, refusals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from data.schema import (
    AuditLog,
    Backorder,
    Customer,
    DemandDaily,
    Notification,
    Order,
    OrderLine,
    PickTask,
    Product,
    StockLedger,
)
from operations import (
    InvalidState,
    NotFound,
    ValidationError,
    cancel_line,
    cancel_order,
    place_order,
)
from tests import operations_world
from tests.invariants import assert_invariants
from tests.operations_world import assert_refused, fetch_rows, stock_of

# Shared fixtures, assigned so pytest finds them by name in this module.
world = operations_world.world
sworld = operations_world.sworld

NOW = dt.datetime(2026, 3, 10, 9, 30)


def _set_preference(engine, customer_id, preference):
    from data.db import write_session

    with write_session(engine) as session:
        session.get(Customer, customer_id).backorder_preference = preference


# --- placing -------------------------------------------------------------------------------


def test_order_in_stock_reserves_and_creates_a_pick_task(engine, world):
    placed = place_order(
        engine, customer_id=world.customers["gold"], lines=[("OIL-5L", 30)], actor="ann", now=NOW
    )
    line = placed.lines[0]
    assert (line.qty_allocated, line.qty_backordered, line.qty_cancelled) == (30, 0, 0)
    assert stock_of(engine, world.products["OIL-5L"]) == (100, 30)
    tasks = fetch_rows(engine, select(PickTask.qty, PickTask.status, PickTask.fills_backorder))
    assert tasks == [(30, "open", False)]
    assert placed.number == f"SO-{placed.order_id:06d}"
    assert_invariants(engine)


def test_short_line_reserves_what_is_there_and_backorders_the_rest(engine, world):
    placed = place_order(
        engine, customer_id=world.customers["gold"], lines=[("FLOUR-25", 14)], actor="ann", now=NOW
    )
    line = placed.lines[0]
    assert (line.qty_allocated, line.qty_backordered) == (10, 4)
    # No PO is open: Tue 10 Mar + 2 days to reorder + the mill's 7-day lead = Thu 19 Mar restock;
    # + 1 pick day = Fri 20 Mar + 2 transit days = Sun 22 Mar.
    assert line.expected_date == dt.date(2026, 3, 22)
    assert "Northern Mill's quoted 7-day lead time" in line.estimate_reason
    assert line.estimate_reason.endswith("then 1 pick day and 2 days quoted transit")
    backorder = fetch_rows(
        engine,
        select(
            Backorder.qty,
            Backorder.status,
            Backorder.promised_date,
            Backorder.estimated_late_date,
            Backorder.customer_id,
        ),
    )
    # late case: 10 Mar + 2 + 11 (7 x 1.5 rounded up) = Mon 23 Mar restock;
    # + 1 pick day = Tue 24 Mar + 2 transit days = Thu 26 Mar
    assert backorder == [
        (4, "open", dt.date(2026, 3, 22), dt.date(2026, 3, 26), world.customers["gold"])
    ]
    assert stock_of(engine, world.products["FLOUR-25"]) == (10, 10)
    assert_invariants(engine)


def test_ledger_records_the_reservation_against_the_line(sqlite_engine, sworld):
    placed = place_order(
        sqlite_engine,
        customer_id=sworld.customers["gold"],
        lines=[("BUTTER-10", 2)],
        actor="ann",
        now=NOW,
    )
    rows = fetch_rows(
        sqlite_engine,
        select(
            StockLedger.reason,
            StockLedger.on_hand_delta,
            StockLedger.reserved_delta,
            StockLedger.ref_id,
            StockLedger.actor,
        ).where(StockLedger.reason == "reserve"),
    )
    assert rows == [("reserve", 0, 2, placed.lines[0].line_id, "ann")]


def test_urgent_order_makes_urgent_pick_tasks_with_the_bin_and_due_date(sqlite_engine, sworld):
    place_order(
        sqlite_engine,
        customer_id=sworld.customers["silver"],
        lines=[("OIL-5L", 4)],
        actor="rita",
        priority="urgent",
        requested_date=dt.date(2026, 3, 12),
        now=NOW,
    )
    task = fetch_rows(sqlite_engine, select(PickTask.urgent, PickTask.due_date, PickTask.bin_id))[0]
    bin_id = fetch_rows(
        sqlite_engine, select(Product.bin_id).where(Product.id == sworld.products["OIL-5L"])
    )[0][0]
    assert task == (True, dt.date(2026, 3, 12), bin_id)


def test_ship_complete_backorders_short_lines_whole_and_holds_picking(engine, world):
    placed = place_order(
        engine,
        customer_id=world.customers["gold"],
        lines=[("FLOUR-25", 14), ("OIL-5L", 8)],
        actor="ann",
        backorder_choice="ship_complete",
        now=NOW,
    )
    flour, oil = placed.lines
    assert (flour.qty_allocated, flour.qty_backordered) == (0, 14)
    assert (oil.qty_allocated, oil.qty_backordered) == (8, 0)
    # The flour on the shelf stays free for others; the oil is held, not picked yet.
    assert stock_of(engine, world.products["FLOUR-25"]) == (10, 0)
    assert stock_of(engine, world.products["OIL-5L"]) == (100, 8)
    assert fetch_rows(engine, select(PickTask.id)) == []
    assert fetch_rows(engine, select(Order.backorder_choice)) == [("ship_complete",)]
    assert_invariants(engine)


def test_ship_complete_order_that_fits_is_picked_at_once(sqlite_engine, sworld):
    place_order(
        sqlite_engine,
        customer_id=sworld.customers["gold"],
        lines=[("FLOUR-25", 10)],
        actor="ann",
        backorder_choice="ship_complete",
        now=NOW,
    )
    assert fetch_rows(sqlite_engine, select(PickTask.qty)) == [(10,)]


def test_cancel_short_cancels_the_missing_part_as_a_lost_sale(engine, world):
    placed = place_order(
        engine,
        customer_id=world.customers["bronze"],
        lines=[("BUTTER-10", 5)],
        actor="ann",
        backorder_choice="cancel_short",
        now=NOW,
    )
    line = placed.lines[0]
    assert (line.qty_allocated, line.qty_backordered, line.qty_cancelled) == (3, 0, 2)
    assert fetch_rows(engine, select(Backorder.qty, Backorder.qty_cancelled, Backorder.status)) == [
        (2, 2, "cancelled")
    ]
    assert_invariants(engine)


def test_customer_preference_applies_when_the_order_does_not_choose(sqlite_engine, sworld):
    _set_preference(sqlite_engine, sworld.customers["bronze"], "cancel_short")
    placed = place_order(
        sqlite_engine,
        customer_id=sworld.customers["bronze"],
        lines=[("BUTTER-10", 5)],
        actor="ann",
        now=NOW,
    )
    assert placed.lines[0].qty_cancelled == 2


def test_order_choice_overrides_the_customer_preference(sqlite_engine, sworld):
    _set_preference(sqlite_engine, sworld.customers["bronze"], "cancel_short")
    placed = place_order(
        sqlite_engine,
        customer_id=sworld.customers["bronze"],
        lines=[("BUTTER-10", 5)],
        actor="ann",
        backorder_choice="accept_backorder",
        now=NOW,
    )
    assert (placed.lines[0].qty_backordered, placed.lines[0].qty_cancelled) == (2, 0)


def test_demand_summary_counts_what_was_asked_including_the_short_part(engine, world):
    for qty in (14, 3):
        place_order(
            engine,
            customer_id=world.customers["gold"],
            lines=[("FLOUR-25", qty)],
            actor="ann",
            now=NOW,
        )
    row = fetch_rows(
        engine,
        select(
            DemandDaily.day,
            DemandDaily.segment,
            DemandDaily.lines,
            DemandDaily.lines_short,
            DemandDaily.qty_ordered,
            DemandDaily.qty_short,
            DemandDaily.revenue,
        ),
    )
    # 14 (4 short) then 3 (all short: the first order took the last 10)
    assert row == [(NOW.date(), "Restaurant", 2, 2, 17, 7, Decimal("314.50"))]


def test_order_numbers_are_unique_and_follow_the_id(sqlite_engine, sworld):
    numbers = [
        place_order(
            sqlite_engine,
            customer_id=sworld.customers["gold"],
            lines=[("OIL-5L", 1)],
            actor="ann",
        ).number
        for _ in range(3)
    ]
    assert numbers == ["SO-000001", "SO-000002", "SO-000003"]


def test_order_numbers_grow_past_six_digits_with_the_id(engine, world):
    """The number is given in the order's INSERT: from a millionth order on it has seven digits."""
    from data.db import write_session

    with write_session(engine) as session:
        conn = session.connection()
        conn.execute(
            Order.__table__.insert(),
            {"id": 999_999, "number": "SO-999999", "customer_id": world.customers["gold"]},
        )
        if conn.dialect.name == "postgresql":  # an explicit id leaves the sequence behind
            conn.execute(select(func.setval(func.pg_get_serial_sequence("orders", "id"), 999_999)))
    placed = place_order(
        engine, customer_id=world.customers["gold"], lines=[("OIL-5L", 1)], actor="ann", now=NOW
    )
    assert (placed.order_id, placed.number) == (1_000_000, "SO-1000000")
    row = fetch_rows(engine, select(Order.number).where(Order.id == placed.order_id))
    assert row == [("SO-1000000",)]


def test_a_second_backorder_waits_behind_the_first(sqlite_engine, sworld):
    first = place_order(
        sqlite_engine, customer_id=sworld.customers["gold"], lines=[("NAPKIN-500", 5)], actor="a"
    )
    second = place_order(
        sqlite_engine, customer_id=sworld.customers["silver"], lines=[("NAPKIN-500", 5)], actor="a"
    )
    assert first.lines[0].estimate_reason.startswith("no open purchase order")
    assert second.lines[0].qty_backordered == 5


def test_placing_an_order_is_audited(sqlite_engine, sworld):
    placed = place_order(
        sqlite_engine, customer_id=sworld.customers["gold"], lines=[("OIL-5L", 2)], actor="ann"
    )
    audit = fetch_rows(sqlite_engine, select(AuditLog.actor, AuditLog.action, AuditLog.entity_id))
    assert audit == [("ann", "place_order", str(placed.order_id))]


def test_sku_is_matched_without_regard_to_case_or_spaces(sqlite_engine, sworld):
    placed = place_order(
        sqlite_engine, customer_id=sworld.customers["gold"], lines=[(" oil-5l ", 2)], actor="ann"
    )
    assert placed.lines[0].sku == "OIL-5L"


# --- placing: refusals ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "error", "fragment"),
    [
        ([("OIL-5L", 0)], ValidationError, "The quantity of OIL-5L must be at least 1, not 0."),
        ([("OIL-5L", -3)], ValidationError, "must be at least 1, not -3"),
        ([("OIL-5L", 2.5)], ValidationError, "must be a whole number, not 2.5"),
        ([("OIL-5L", "two")], ValidationError, "must be a whole number, not 'two'"),
        ([("OIL-5L", True)], ValidationError, "must be a whole number, not True"),
        ([("OIL-5L", None)], ValidationError, "must be a whole number, not None"),
        ([], ValidationError, "An order needs at least one line"),
        ([("OIL-5L",)], ValidationError, "Line 1 must be a pair (SKU, quantity)"),
        ([("", 2)], ValidationError, "The SKU on line 1 is required."),
        ([("OIL-5L", 1), ("oil-5l", 2)], ValidationError, "SKU OIL-5L appears on more than one"),
        ([("NOPE-1", 2)], NotFound, "Unknown SKU: NOPE-1."),
        ([("OIL-5L", 2), ("NOPE-1", 2), ("NOPE-2", 1)], NotFound, "Unknown SKU: NOPE-1, NOPE-2."),
    ],
)
def test_bad_lines_are_refused_and_change_nothing(sqlite_engine, sworld, lines, error, fragment):
    assert_refused(
        sqlite_engine,
        lambda: place_order(
            sqlite_engine, customer_id=sworld.customers["gold"], lines=lines, actor="ann"
        ),
        error,
        fragment,
    )


def test_unknown_customer_is_refused(engine, world):
    assert_refused(
        engine,
        lambda: place_order(engine, customer_id=999, lines=[("OIL-5L", 1)], actor="ann"),
        NotFound,
        "Customer 999 does not exist",
    )


@pytest.mark.parametrize(
    ("changes", "error", "fragment"),
    [
        ({"priority": "asap"}, ValidationError, "Priority must be one of normal, urgent"),
        ({"backorder_choice": "wait"}, ValidationError, "Backorder choice must be one of"),
        ({"channel": "pigeon"}, ValidationError, "Channel must be one of"),
        ({"actor": ""}, ValidationError, "Actor (the user making the change) is required."),
        ({"customer_id": "abc"}, ValidationError, "Customer must be a record id"),
        ({"requested_date": "2026-04-01"}, ValidationError, "Requested date must be a date"),
        ({"requested_date": dt.date(2026, 3, 9)}, ValidationError, "is in the past"),
    ],
)
def test_bad_order_fields_are_refused(sqlite_engine, sworld, changes, error, fragment):
    arguments = {
        "customer_id": sworld.customers["gold"],
        "lines": [("OIL-5L", 1)],
        "actor": "ann",
        "now": NOW,
    } | changes
    assert_refused(sqlite_engine, lambda: place_order(sqlite_engine, **arguments), error, fragment)


def test_a_product_no_longer_sold_is_refused(sqlite_engine, sworld):
    from data.db import write_session

    with write_session(sqlite_engine) as session:
        session.get(Product, sworld.products["OIL-5L"]).active = False
    assert_refused(
        sqlite_engine,
        lambda: place_order(
            sqlite_engine, customer_id=sworld.customers["gold"], lines=[("OIL-5L", 1)], actor="a"
        ),
        InvalidState,
        "No longer sold: OIL-5L.",
    )


# --- cancelling ----------------------------------------------------------------------------


def test_cancel_order_releases_stock_and_cancels_the_backorder_as_lost(engine, world):
    placed = place_order(
        engine,
        customer_id=world.customers["gold"],
        lines=[("FLOUR-25", 14), ("OIL-5L", 5)],
        actor="ann",
        now=NOW,
    )
    cancel_order(engine, order_id=placed.order_id, actor="cs", reason="customer closed", now=NOW)
    assert stock_of(engine, world.products["FLOUR-25"]) == (10, 0)
    assert stock_of(engine, world.products["OIL-5L"]) == (100, 0)
    lines = fetch_rows(
        engine,
        select(
            OrderLine.qty_allocated, OrderLine.qty_backordered, OrderLine.qty_cancelled
        ).order_by(OrderLine.line_no),
    )
    assert lines == [(0, 0, 14), (0, 0, 5)]
    assert fetch_rows(
        engine, select(Backorder.status, Backorder.qty_cancelled, Backorder.cancel_reason)
    ) == [("cancelled", 4, "customer closed")]
    assert fetch_rows(engine, select(PickTask.status)) == [("cancelled",), ("cancelled",)]
    assert fetch_rows(engine, select(Order.status, Order.cancel_reason)) == [
        ("cancelled", "customer closed")
    ]
    releases = fetch_rows(
        engine,
        select(StockLedger.reserved_delta)
        .where(StockLedger.reason == "release")
        .order_by(StockLedger.id),
    )
    assert releases == [(-10,), (-5,)]
    assert_invariants(engine)


def test_released_stock_fills_the_next_backorder(sqlite_engine, sworld):
    first = place_order(
        sqlite_engine, customer_id=sworld.customers["gold"], lines=[("BUTTER-10", 3)], actor="a"
    )
    second = place_order(
        sqlite_engine, customer_id=sworld.customers["silver"], lines=[("BUTTER-10", 2)], actor="a"
    )
    assert second.lines[0].qty_backordered == 2
    cancel_order(sqlite_engine, order_id=first.order_id, actor="cs", reason="duplicate")
    line = fetch_rows(
        sqlite_engine,
        select(OrderLine.qty_allocated, OrderLine.qty_backordered).where(
            OrderLine.id == second.lines[0].line_id
        ),
    )
    assert line == [(2, 0)]
    assert stock_of(sqlite_engine, sworld.products["BUTTER-10"]) == (3, 2)
    assert_invariants(sqlite_engine)


def test_cancel_line_part_takes_the_backordered_units_first(engine, world):
    placed = place_order(
        engine, customer_id=world.customers["gold"], lines=[("FLOUR-25", 14)], actor="ann"
    )
    cancel_line(
        engine, order_line_id=placed.lines[0].line_id, actor="cs", reason="needs less", qty=6
    )
    line = fetch_rows(
        engine,
        select(OrderLine.qty_allocated, OrderLine.qty_backordered, OrderLine.qty_cancelled),
    )
    # 4 backordered go first, then 2 of the 10 reserved
    assert line == [(8, 0, 6)]
    assert stock_of(engine, world.products["FLOUR-25"]) == (10, 8)
    assert fetch_rows(engine, select(PickTask.qty).where(PickTask.status == "open")) == [(8,)]
    assert fetch_rows(engine, select(Backorder.status, Backorder.qty_cancelled)) == [
        ("cancelled", 4)
    ]
    assert_invariants(engine)


def test_cancel_whole_line_leaves_the_other_lines(sqlite_engine, sworld):
    placed = place_order(
        sqlite_engine,
        customer_id=sworld.customers["gold"],
        lines=[("OIL-5L", 4), ("BUTTER-10", 1)],
        actor="ann",
    )
    cancel_line(sqlite_engine, order_line_id=placed.lines[0].line_id, actor="cs", reason="x")
    assert fetch_rows(sqlite_engine, select(Order.status)) == [("open",)]
    assert stock_of(sqlite_engine, sworld.products["OIL-5L"]) == (100, 0)
    assert stock_of(sqlite_engine, sworld.products["BUTTER-10"]) == (3, 1)


def test_cancelling_the_last_line_cancels_the_order(sqlite_engine, sworld):
    placed = place_order(
        sqlite_engine, customer_id=sworld.customers["gold"], lines=[("OIL-5L", 4)], actor="ann"
    )
    cancel_line(sqlite_engine, order_line_id=placed.lines[0].line_id, actor="cs", reason="x")
    assert fetch_rows(sqlite_engine, select(Order.status)) == [("cancelled",)]


def test_cancelling_the_short_line_releases_a_ship_complete_order(sqlite_engine, sworld):
    placed = place_order(
        sqlite_engine,
        customer_id=sworld.customers["gold"],
        lines=[("FLOUR-25", 14), ("OIL-5L", 8)],
        actor="ann",
        backorder_choice="ship_complete",
    )
    assert fetch_rows(sqlite_engine, select(PickTask.id)) == []
    cancel_line(sqlite_engine, order_line_id=placed.lines[0].line_id, actor="cs", reason="drop")
    assert fetch_rows(sqlite_engine, select(PickTask.product_id, PickTask.qty)) == [
        (sworld.products["OIL-5L"], 8)
    ]
    assert_invariants(sqlite_engine)


def test_cancelling_a_cancelled_order_is_refused(engine, world):
    placed = place_order(
        engine, customer_id=world.customers["gold"], lines=[("OIL-5L", 1)], actor="a"
    )
    cancel_order(engine, order_id=placed.order_id, actor="cs", reason="first")
    assert_refused(
        engine,
        lambda: cancel_order(engine, order_id=placed.order_id, actor="cs", reason="again"),
        InvalidState,
        f"Order {placed.number} is already cancelled: it cannot be cancelled.",
    )


@pytest.mark.parametrize(
    ("arguments", "error", "fragment"),
    [
        ({"order_id": 999}, NotFound, "Order 999 does not exist."),
        ({"order_id": 0}, ValidationError, "Order must be a record id"),
        ({"reason": "  "}, ValidationError, "The reason for cancelling is required."),
        ({"reason": "x" * 201}, ValidationError, "is too long (201 characters; at most 200)"),
    ],
)
def test_bad_cancel_order_requests_are_refused(sqlite_engine, sworld, arguments, error, fragment):
    placed = place_order(
        sqlite_engine, customer_id=sworld.customers["gold"], lines=[("OIL-5L", 1)], actor="a"
    )
    call = {"order_id": placed.order_id, "actor": "cs", "reason": "because"} | arguments
    assert_refused(sqlite_engine, lambda: cancel_order(sqlite_engine, **call), error, fragment)


@pytest.mark.parametrize(
    ("qty", "error", "fragment"),
    [
        (0, ValidationError, "The quantity to cancel must be at least 1, not 0."),
        (-1, ValidationError, "must be at least 1, not -1"),
        (1.5, ValidationError, "whole number, not 1.5"),
        (15, InvalidState, "has only 14 units outstanding; cannot cancel 15."),
    ],
)
def test_bad_cancel_line_quantities_are_refused(sqlite_engine, sworld, qty, error, fragment):
    placed = place_order(
        sqlite_engine, customer_id=sworld.customers["gold"], lines=[("FLOUR-25", 14)], actor="a"
    )
    assert_refused(
        sqlite_engine,
        lambda: cancel_line(
            sqlite_engine, order_line_id=placed.lines[0].line_id, actor="cs", reason="r", qty=qty
        ),
        error,
        fragment,
    )


def test_cancel_line_of_unknown_line_is_refused(sqlite_engine, sworld):
    assert_refused(
        sqlite_engine,
        lambda: cancel_line(sqlite_engine, order_line_id=42, actor="cs", reason="r"),
        NotFound,
        "Order line 42 does not exist.",
    )


def test_cancel_line_with_nothing_left_is_refused(sqlite_engine, sworld):
    placed = place_order(
        sqlite_engine,
        customer_id=sworld.customers["gold"],
        lines=[("OIL-5L", 1), ("BUTTER-10", 1)],
        actor="a",
    )
    line_id = placed.lines[0].line_id
    cancel_line(sqlite_engine, order_line_id=line_id, actor="cs", reason="r")
    assert_refused(
        sqlite_engine,
        lambda: cancel_line(sqlite_engine, order_line_id=line_id, actor="cs", reason="r"),
        InvalidState,
        "has nothing left to cancel",
    )


def test_cancel_short_with_nothing_in_stock_closes_the_order(sqlite_engine, sworld):
    placed = place_order(
        sqlite_engine,
        customer_id=sworld.customers["gold"],
        lines=[("NAPKIN-500", 4)],
        actor="ann",
        backorder_choice="cancel_short",
    )
    assert placed.lines[0].qty_cancelled == 4
    assert fetch_rows(sqlite_engine, select(Order.status, Order.cancel_reason)) == [
        ("cancelled", "cancel_short: nothing was in stock")
    ]


def test_taking_stock_below_the_reorder_point_tells_purchasing_and_the_manager(engine, world):
    # OIL-5L: 100 free, reorder point 10; the first order stays above, the second crosses
    place_order(engine, customer_id=world.customers["gold"], lines=[("OIL-5L", 85)], actor="a")
    assert fetch_rows(engine, select(Notification.id)) == []
    place_order(engine, customer_id=world.customers["gold"], lines=[("OIL-5L", 6)], actor="a")
    place_order(engine, customer_id=world.customers["gold"], lines=[("OIL-5L", 1)], actor="a")
    subject = "OIL-5L is low: 9 available, reorder point 10"
    assert fetch_rows(
        engine,
        select(Notification.kind, Notification.role, Notification.subject).order_by(
            Notification.id
        ),
    ) == [
        ("low_stock", "purchasing_manager", subject),
        ("low_stock", "warehouse_manager", subject),
    ]


def test_a_substitute_line_records_what_it_replaces(sqlite_engine, sworld):
    placed = place_order(
        sqlite_engine,
        customer_id=sworld.customers["gold"],
        lines=[("OIL-5L", 2, "BUTTER-10"), ("FLOUR-25", 1, None)],
        actor="ann",
    )
    rows = fetch_rows(
        sqlite_engine,
        select(OrderLine.product_id, OrderLine.substitute_for_id).order_by(OrderLine.line_no),
    )
    assert rows == [
        (sworld.products["OIL-5L"], sworld.products["BUTTER-10"]),
        (sworld.products["FLOUR-25"], None),
    ]
    assert placed.lines[0].qty_allocated == 2


@pytest.mark.parametrize(
    ("line", "error", "fragment"),
    [
        (("OIL-5L", 2, "NOPE-9"), NotFound, "Unknown SKU: NOPE-9."),
        (("OIL-5L", 2, "oil-5l"), ValidationError, "OIL-5L cannot be a substitute for itself."),
    ],
)
def test_bad_substitute_lines_are_refused(sqlite_engine, sworld, line, error, fragment):
    assert_refused(
        sqlite_engine,
        lambda: place_order(
            sqlite_engine, customer_id=sworld.customers["gold"], lines=[line], actor="ann"
        ),
        error,
        fragment,
    )


def test_numpy_integers_from_a_data_editor_are_whole_numbers(sqlite_engine, sworld):
    import numpy as np

    placed = place_order(
        sqlite_engine,
        customer_id=np.int64(sworld.customers["gold"]),
        lines=[("OIL-5L", np.int64(3))],
        actor="ann",
    )
    assert placed.lines[0].qty_allocated == 3


# --- what placement keeps between orders ---------------------------------------------------


def test_orders_see_catalogue_customer_and_setting_changes_made_between_them(engine, world):
    """Products, customers and settings are kept between orders only until they change."""
    from data.db import write_session
    from operations.admin import set_setting
    from operations.catalogue import set_product_prices

    gold, oil = world.customers["gold"], world.products["OIL-5L"]
    first = place_order(engine, customer_id=gold, lines=[("OIL-5L", 1)], actor="ann", now=NOW)
    set_product_prices(engine, product_id=oil, price="12.34", actor="ann")
    second = place_order(engine, customer_id=gold, lines=[("OIL-5L", 1)], actor="ann", now=NOW)
    prices = dict(
        fetch_rows(
            engine,
            select(OrderLine.id, OrderLine.unit_price).where(
                OrderLine.id.in_([first.lines[0].line_id, second.lines[0].line_id])
            ),
        )
    )
    assert prices[second.lines[0].line_id] == Decimal("12.34")
    assert prices[first.lines[0].line_id] != Decimal("12.34")

    # The customer now wants only what is in stock: the short part is cancelled, not backordered.
    _set_preference(engine, gold, "cancel_short")
    placed = place_order(
        engine,
        customer_id=gold,
        lines=[("OIL-5L", 300)],
        actor="ann",
        now=NOW,
        confirm_large=True,
    )
    assert (placed.lines[0].qty_backordered, placed.lines[0].qty_cancelled) == (0, 300 - 98)

    # A ceiling lowered between two orders refuses the next one.
    operations_world.ensure_admin(engine)
    set_setting(engine, key="max_line_units", value=5, actor="admin")
    assert_refused(
        engine,
        lambda: place_order(engine, customer_id=gold, lines=[("OIL-5L", 6)], actor="ann", now=NOW),
        ValidationError,
        "max_line_units",
    )

    with write_session(engine) as session:
        session.get(Product, oil).active = False
    assert_refused(
        engine,
        lambda: place_order(engine, customer_id=gold, lines=[("OIL-5L", 1)], actor="ann", now=NOW),
        InvalidState,
        "No longer sold: OIL-5L.",
    )
