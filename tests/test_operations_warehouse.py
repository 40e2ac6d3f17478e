"""Warehouse work: picks, short picks, packing, shipping, delivery, counts, thresholds, prices."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from data.schema import (
    AuditLog,
    Backorder,
    Notification,
    Order,
    OrderLine,
    PickTask,
    Product,
    Shipment,
    ShipmentEvent,
    ShipmentLine,
    StockLedger,
)
from operations import (
    InvalidState,
    NotFound,
    ValidationError,
    adjust_stock,
    cancel_order,
    confirm_pack,
    confirm_pick,
    mark_delivered,
    place_order,
    report_short_pick,
    set_product_prices,
    set_thresholds,
    ship_order,
)
from tests import operations_world
from tests.invariants import assert_invariants
from tests.operations_world import assert_refused, fetch_rows, stock_of

# Shared fixtures, assigned so pytest finds them by name in this module.
world = operations_world.world
sworld = operations_world.sworld

NOW = dt.datetime(2026, 3, 10, 9, 30)


def _order(engine, world, lines, tier="gold", **kwargs):
    return place_order(
        engine, customer_id=world.customers[tier], lines=lines, actor="ann", now=NOW, **kwargs
    )


def _tasks(engine):
    return fetch_rows(engine, select(PickTask.id, PickTask.qty).order_by(PickTask.id))


def _line(engine, line_id):
    return fetch_rows(
        engine,
        select(
            OrderLine.qty_allocated,
            OrderLine.qty_backordered,
            OrderLine.qty_cancelled,
            OrderLine.qty_shipped,
        ).where(OrderLine.id == line_id),
    )[0]


# --- picking -------------------------------------------------------------------------------


def test_confirm_pick_marks_the_task_and_the_order(engine, world):
    _order(engine, world, [("OIL-5L", 4)])
    task_id, qty = _tasks(engine)[0]
    confirm_pick(engine, task_id=task_id, qty_picked=qty, actor="otto", now=NOW)
    assert fetch_rows(engine, select(PickTask.status, PickTask.qty_picked, PickTask.actor)) == [
        ("picked", 4, "otto")
    ]
    assert fetch_rows(engine, select(Order.status)) == [("picking",)]


def test_short_pick_writes_stock_down_and_backorders_the_missing_units(engine, world):
    placed = _order(engine, world, [("BUTTER-10", 3)])
    task_id, _ = _tasks(engine)[0]
    report_short_pick(engine, task_id=task_id, qty_found=1, actor="otto", note="bin half empty")
    assert stock_of(engine, world.products["BUTTER-10"]) == (1, 1)
    assert _line(engine, placed.lines[0].line_id) == (1, 2, 0, 0)
    assert fetch_rows(engine, select(Backorder.qty, Backorder.status, Backorder.root_cause)) == [
        (2, "open", "short_pick")
    ]
    ledger = fetch_rows(
        engine,
        select(StockLedger.on_hand_delta, StockLedger.reserved_delta).where(
            StockLedger.reason == "short_pick"
        ),
    )
    assert ledger == [(-2, -2)]
    assert fetch_rows(engine, select(PickTask.status, PickTask.qty_picked)) == [("picked", 1)]
    assert fetch_rows(
        engine,
        select(Notification.role, Notification.kind)
        .where(Notification.kind != "backorder_created")
        .order_by(Notification.id),
    ) == [("warehouse_manager", "short_pick")]
    # The order was served in full; the short pick is the customer's first backorder notice.
    told = fetch_rows(
        engine,
        select(Notification.role, Notification.subject).where(
            Notification.kind == "backorder_created"
        ),
    )
    assert [role for role, _ in told] == ["customer"]
    assert told[0][1].startswith(f"{placed.number}: 2 units on backorder, expected by ")
    assert_invariants(engine)


def test_confirming_fewer_than_asked_is_a_short_pick(sqlite_engine, sworld):
    placed = _order(sqlite_engine, sworld, [("OIL-5L", 4)])
    task_id, _ = _tasks(sqlite_engine)[0]
    confirm_pick(sqlite_engine, task_id=task_id, qty_picked=0, actor="otto")
    assert fetch_rows(sqlite_engine, select(PickTask.status)) == [("short",)]
    assert _line(sqlite_engine, placed.lines[0].line_id) == (0, 4, 0, 0)
    assert stock_of(sqlite_engine, sworld.products["OIL-5L"]) == (96, 0)
    assert_invariants(sqlite_engine)


def test_short_pick_on_a_cancel_short_order_cancels_the_missing_units(sqlite_engine, sworld):
    placed = _order(sqlite_engine, sworld, [("OIL-5L", 4)], backorder_choice="cancel_short")
    task_id, _ = _tasks(sqlite_engine)[0]
    report_short_pick(sqlite_engine, task_id=task_id, qty_found=3, actor="otto")
    assert _line(sqlite_engine, placed.lines[0].line_id) == (3, 0, 1, 0)
    assert fetch_rows(sqlite_engine, select(Backorder.status, Backorder.qty_cancelled)) == [
        ("cancelled", 1)
    ]
    assert_invariants(sqlite_engine)


def test_short_pick_adds_to_an_existing_backorder(sqlite_engine, sworld):
    placed = _order(sqlite_engine, sworld, [("FLOUR-25", 12)])
    task_id, _ = _tasks(sqlite_engine)[0]
    report_short_pick(sqlite_engine, task_id=task_id, qty_found=7, actor="otto")
    assert _line(sqlite_engine, placed.lines[0].line_id) == (7, 5, 0, 0)
    assert fetch_rows(sqlite_engine, select(Backorder.qty, Backorder.status)) == [(5, "open")]
    assert_invariants(sqlite_engine)


@pytest.mark.parametrize(
    ("qty", "error", "fragment"),
    [
        (5, ValidationError, "asks for 4; 5 is more than that"),
        (-1, ValidationError, "The quantity picked must be at least 0, not -1."),
        (1.5, ValidationError, "whole number, not 1.5"),
    ],
)
def test_bad_pick_quantities_are_refused(sqlite_engine, sworld, qty, error, fragment):
    _order(sqlite_engine, sworld, [("OIL-5L", 4)])
    task_id, _ = _tasks(sqlite_engine)[0]
    assert_refused(
        sqlite_engine,
        lambda: confirm_pick(sqlite_engine, task_id=task_id, qty_picked=qty, actor="otto"),
        error,
        fragment,
    )


def test_picking_a_task_twice_is_refused(engine, world):
    _order(engine, world, [("OIL-5L", 4)])
    task_id, _ = _tasks(engine)[0]
    confirm_pick(engine, task_id=task_id, qty_picked=4, actor="otto")
    assert_refused(
        engine,
        lambda: confirm_pick(engine, task_id=task_id, qty_picked=4, actor="otto"),
        InvalidState,
        "is picked, not open: it cannot be picked again.",
    )


def test_a_short_pick_that_is_not_short_is_refused(sqlite_engine, sworld):
    _order(sqlite_engine, sworld, [("OIL-5L", 4)])
    task_id, _ = _tasks(sqlite_engine)[0]
    assert_refused(
        sqlite_engine,
        lambda: report_short_pick(sqlite_engine, task_id=task_id, qty_found=4, actor="otto"),
        ValidationError,
        "finding 4 is not short. Confirm the pick instead.",
    )


def test_unknown_task_is_refused(sqlite_engine, sworld):
    assert_refused(
        sqlite_engine,
        lambda: confirm_pick(sqlite_engine, task_id=55, qty_picked=1, actor="otto"),
        NotFound,
        "Pick task 55 does not exist.",
    )


def test_packing_an_unpicked_task_is_refused(sqlite_engine, sworld):
    _order(sqlite_engine, sworld, [("OIL-5L", 4)])
    task_id, _ = _tasks(sqlite_engine)[0]
    assert_refused(
        sqlite_engine,
        lambda: confirm_pack(sqlite_engine, task_id=task_id, actor="otto"),
        InvalidState,
        "is open: only picked goods can be packed.",
    )


# --- shipping and delivery -----------------------------------------------------------------


def _pick_and_pack_all(engine):
    for task_id, qty in _tasks(engine):
        confirm_pick(engine, task_id=task_id, qty_picked=qty, actor="otto")
        confirm_pack(engine, task_id=task_id, actor="otto")


def test_ship_order_takes_the_packed_goods_out_of_stock(engine, world):
    placed = _order(engine, world, [("OIL-5L", 4), ("BUTTER-10", 2)])
    _pick_and_pack_all(engine)
    shipment_id = ship_order(
        engine,
        order_id=placed.order_id,
        carrier_id=world.carrier,
        actor="lou",
        tracking="TRK1",
        now=NOW,
    )
    assert stock_of(engine, world.products["OIL-5L"]) == (96, 0)
    assert stock_of(engine, world.products["BUTTER-10"]) == (1, 0)
    assert _line(engine, placed.lines[0].line_id) == (4, 0, 0, 4)
    shipment = fetch_rows(
        engine,
        select(
            Shipment.number,
            Shipment.direction,
            Shipment.status,
            Shipment.tracking,
            Shipment.estimated_arrival,
        ),
    )
    assert shipment == [
        (f"SH-{shipment_id:06d}", "outbound", "in_transit", "TRK1", dt.date(2026, 3, 12))
    ]
    assert sorted(fetch_rows(engine, select(ShipmentLine.qty))) == [(2,), (4,)]
    assert fetch_rows(engine, select(ShipmentEvent.kind)) == [("picked_up",)]
    ship_rows = fetch_rows(
        engine,
        select(StockLedger.on_hand_delta, StockLedger.reserved_delta).where(
            StockLedger.reason == "ship"
        ),
    )
    assert sorted(ship_rows) == [(-4, -4), (-2, -2)]
    assert fetch_rows(engine, select(Order.status)) == [("shipped",)]
    assert fetch_rows(engine, select(PickTask.status).distinct()) == [("shipped",)]
    assert_invariants(engine)


def test_an_order_with_a_backorder_stays_open_after_shipping(sqlite_engine, sworld):
    placed = _order(sqlite_engine, sworld, [("FLOUR-25", 12)])
    _pick_and_pack_all(sqlite_engine)
    ship_order(sqlite_engine, order_id=placed.order_id, carrier_id=sworld.carrier, actor="lou")
    assert fetch_rows(sqlite_engine, select(Order.status)) == [("open",)]
    assert _line(sqlite_engine, placed.lines[0].line_id) == (10, 2, 0, 10)
    assert_invariants(sqlite_engine)


def test_cancelling_after_a_partial_shipment_keeps_what_shipped(sqlite_engine, sworld):
    placed = _order(sqlite_engine, sworld, [("FLOUR-25", 12)])
    _pick_and_pack_all(sqlite_engine)
    ship_order(sqlite_engine, order_id=placed.order_id, carrier_id=sworld.carrier, actor="lou")
    cancel_order(sqlite_engine, order_id=placed.order_id, actor="cs", reason="rest not needed")
    assert _line(sqlite_engine, placed.lines[0].line_id) == (10, 0, 2, 10)
    assert fetch_rows(sqlite_engine, select(Order.status)) == [("shipped",)]
    assert_invariants(sqlite_engine)


def test_shipping_with_nothing_packed_is_refused(engine, world):
    placed = _order(engine, world, [("OIL-5L", 4)])
    assert_refused(
        engine,
        lambda: ship_order(engine, order_id=placed.order_id, carrier_id=world.carrier, actor="l"),
        InvalidState,
        "has nothing packed yet: pick and pack it before shipping.",
    )


def test_shipping_with_an_unknown_carrier_is_refused(sqlite_engine, sworld):
    placed = _order(sqlite_engine, sworld, [("OIL-5L", 4)])
    _pick_and_pack_all(sqlite_engine)
    assert_refused(
        sqlite_engine,
        lambda: ship_order(sqlite_engine, order_id=placed.order_id, carrier_id=9, actor="l"),
        NotFound,
        "Carrier 9 does not exist",
    )


def test_shipping_a_cancelled_order_is_refused(sqlite_engine, sworld):
    placed = _order(sqlite_engine, sworld, [("OIL-5L", 4)])
    cancel_order(sqlite_engine, order_id=placed.order_id, actor="cs", reason="r")
    assert_refused(
        sqlite_engine,
        lambda: ship_order(
            sqlite_engine, order_id=placed.order_id, carrier_id=sworld.carrier, actor="l"
        ),
        InvalidState,
        "is cancelled: there is nothing to ship.",
    )


def test_delivery_closes_the_shipment_and_the_order(engine, world):
    placed = _order(engine, world, [("OIL-5L", 4)])
    _pick_and_pack_all(engine)
    shipment_id = ship_order(engine, order_id=placed.order_id, carrier_id=world.carrier, actor="l")
    mark_delivered(engine, shipment_id=shipment_id, actor="lou", now=NOW)
    assert fetch_rows(engine, select(Shipment.status, Shipment.delivered_at)) == [
        ("delivered", NOW)
    ]
    assert fetch_rows(engine, select(Order.status)) == [("delivered",)]
    assert_refused(
        engine,
        lambda: mark_delivered(engine, shipment_id=shipment_id, actor="lou"),
        InvalidState,
        "is already delivered.",
    )


def test_cancelling_a_shipped_order_is_refused(sqlite_engine, sworld):
    placed = _order(sqlite_engine, sworld, [("OIL-5L", 4)])
    _pick_and_pack_all(sqlite_engine)
    ship_order(sqlite_engine, order_id=placed.order_id, carrier_id=sworld.carrier, actor="l")
    assert_refused(
        sqlite_engine,
        lambda: cancel_order(sqlite_engine, order_id=placed.order_id, actor="cs", reason="r"),
        InvalidState,
        "is already shipped: it cannot be cancelled.",
    )


def test_unknown_shipment_is_refused(sqlite_engine, sworld):
    assert_refused(
        sqlite_engine,
        lambda: mark_delivered(sqlite_engine, shipment_id=3, actor="lou"),
        NotFound,
        "Shipment 3 does not exist.",
    )


# --- counts --------------------------------------------------------------------------------


def test_a_count_books_the_difference_and_is_audited(engine, world):
    delta = adjust_stock(
        engine,
        product_id=world.products["OIL-5L"],
        counted_on_hand=93,
        reason="cycle count",
        actor="wendy",
    )
    assert delta == -7
    assert stock_of(engine, world.products["OIL-5L"]) == (93, 0)
    assert fetch_rows(
        engine,
        select(StockLedger.on_hand_delta, StockLedger.note).where(StockLedger.reason == "adjust"),
    ) == [(-7, "cycle count")]
    audit = fetch_rows(
        engine, select(AuditLog.actor, AuditLog.action, AuditLog.before, AuditLog.after)
    )
    assert audit == [
        (
            "wendy",
            "adjust_stock",
            {"on_hand": 100, "reserved": 0},
            {"on_hand": 93, "reserved": 0},
        )
    ]


def test_a_count_that_finds_more_fills_waiting_backorders(sqlite_engine, sworld):
    placed = _order(sqlite_engine, sworld, [("NAPKIN-500", 5)])
    adjust_stock(
        sqlite_engine,
        product_id=sworld.products["NAPKIN-500"],
        counted_on_hand=3,
        reason="found a box",
        actor="wendy",
    )
    assert _line(sqlite_engine, placed.lines[0].line_id) == (3, 2, 0, 0)
    assert stock_of(sqlite_engine, sworld.products["NAPKIN-500"]) == (3, 3)
    assert_invariants(sqlite_engine)


def test_a_count_below_what_is_reserved_is_refused(engine, world):
    _order(engine, world, [("OIL-5L", 30)])
    assert_refused(
        engine,
        lambda: adjust_stock(
            engine,
            product_id=world.products["OIL-5L"],
            counted_on_hand=20,
            reason="count",
            actor="wendy",
        ),
        InvalidState,
        "OIL-5L has 30 units reserved for orders, so a count of 20 cannot be booked",
    )


@pytest.mark.parametrize(
    ("arguments", "error", "fragment"),
    [
        ({"counted_on_hand": -1}, ValidationError, "The counted quantity must be at least 0"),
        ({"counted_on_hand": 9.5}, ValidationError, "whole number, not 9.5"),
        ({"reason": ""}, ValidationError, "The reason for the adjustment is required."),
        ({"product_id": 404}, NotFound, "Product 404 does not exist."),
    ],
)
def test_bad_counts_are_refused(sqlite_engine, sworld, arguments, error, fragment):
    call = {
        "product_id": sworld.products["OIL-5L"],
        "counted_on_hand": 90,
        "reason": "count",
        "actor": "wendy",
    } | arguments
    assert_refused(sqlite_engine, lambda: adjust_stock(sqlite_engine, **call), error, fragment)


# --- thresholds and prices -----------------------------------------------------------------


def _thresholds(engine, product_id):
    return fetch_rows(
        engine,
        select(Product.reorder_point, Product.safety_stock, Product.order_up_to).where(
            Product.id == product_id
        ),
    )[0]


def test_set_thresholds_changes_the_product_and_is_audited(engine, world):
    product_id = world.products["OIL-5L"]
    set_thresholds(
        engine, product_id=product_id, reorder_point=25, safety_stock=8, order_up_to=80, actor="w"
    )
    assert _thresholds(engine, product_id) == (25, 8, 80)
    assert fetch_rows(engine, select(AuditLog.action, AuditLog.before)) == [
        ("set_thresholds", {"reorder_point": 10, "safety_stock": 0, "order_up_to": 40})
    ]


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ((-1, 0, 10), "The reorder point must be at least 0, not -1."),
        ((10, -2, 20), "The safety stock must be at least 0, not -2."),
        ((10, 0, 5), "The order-up-to level (5) must be at least the reorder point (10)"),
        ((10, 12, 20), "The safety stock (12) cannot exceed the reorder point (10)"),
        ((10.5, 0, 20), "whole number, not 10.5"),
        (("ten", 0, 20), "The reorder point must be a whole number, not 'ten'."),
    ],
)
def test_bad_thresholds_are_refused(sqlite_engine, sworld, values, fragment):
    rop, safety, up_to = values
    assert_refused(
        sqlite_engine,
        lambda: set_thresholds(
            sqlite_engine,
            product_id=sworld.products["OIL-5L"],
            reorder_point=rop,
            safety_stock=safety,
            order_up_to=up_to,
            actor="w",
        ),
        ValidationError,
        fragment,
    )


def test_set_product_prices(sqlite_engine, sworld):
    set_product_prices(
        sqlite_engine, product_id=sworld.products["OIL-5L"], price="12.40", cost=7, actor="fin"
    )
    assert fetch_rows(
        sqlite_engine,
        select(Product.price, Product.cost).where(Product.id == sworld.products["OIL-5L"]),
    ) == [(Decimal("12.40"), Decimal("7.00"))]


@pytest.mark.parametrize(
    ("price", "fragment"),
    [
        (-0.01, "The price cannot be below zero (got -0.01)."),
        ("1.234", "The price has more than two decimals (got 1.234)."),
        ("abc", "The price must be an amount of money, not 'abc'."),
        (float("nan"), "The price must be an amount of money"),
    ],
)
def test_bad_prices_are_refused(sqlite_engine, sworld, price, fragment):
    assert_refused(
        sqlite_engine,
        lambda: set_product_prices(
            sqlite_engine, product_id=sworld.products["OIL-5L"], price=price, actor="fin"
        ),
        ValidationError,
        fragment,
    )
