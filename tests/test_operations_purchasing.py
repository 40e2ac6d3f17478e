"""Purchase orders: drafting, editing, approving, sending, re-dating, receiving and filling."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from data.db import read_connection, write_session
from data.schema import (
    Allocation,
    Backorder,
    Notification,
    OrderLine,
    PickTask,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    StockLedger,
    User,
)
from operations import (
    InvalidState,
    NotFound,
    ValidationError,
    approve_po,
    cancel_po,
    draft_purchase_orders,
    place_order,
    receive_po,
    send_po,
    set_po_expected_date,
    set_setting,
    update_po_line,
)
from operations.admin import hash_password
from queries.notifications import inbox_messages
from tests import operations_world
from tests.invariants import assert_invariants
from tests.operations_world import add_admin, assert_refused, fetch_rows, stock_of

# Shared fixtures, assigned so pytest finds them by name in this module.
world = operations_world.world
sworld = operations_world.sworld

NOW = dt.datetime(2026, 3, 10, 9, 30)
TODAY = NOW.date()


def _po(engine, world, supplier: str, lines: dict[str, int], *, status="sent", expected=None):
    """A purchase order written directly (the drafting rules are tested separately)."""
    with write_session(engine) as session:
        po = PurchaseOrder(
            number=f"PO-T{len(lines)}{supplier}{status}"[:20],
            supplier_id=world.suppliers[supplier],
            warehouse_id=world.warehouse,
            status=status,
            expected_date=expected,
            original_expected_date=expected,
        )
        session.add(po)
        session.flush()
        for sku, qty in lines.items():
            session.add(
                PurchaseOrderLine(
                    po_id=po.id,
                    product_id=world.products[sku],
                    qty_ordered=qty,
                    qty_received=0,
                    unit_cost=Decimal("1.00"),
                )
            )
        return po.id


def _po_lines(engine):
    return fetch_rows(
        engine,
        select(
            PurchaseOrder.supplier_id, PurchaseOrderLine.product_id, PurchaseOrderLine.qty_ordered
        )
        .join(PurchaseOrderLine, PurchaseOrderLine.po_id == PurchaseOrder.id)
        .order_by(PurchaseOrderLine.product_id),
    )


# --- drafting ------------------------------------------------------------------------------


def test_drafts_one_po_per_supplier_up_to_order_up_to_rounded_to_packs(engine, world):
    ids = draft_purchase_orders(engine, actor="bob")
    assert len(ids) == 2
    # FLOUR: 10 on hand < 20 -> 60 - 10 = 50 (packs of 5); BUTTER: 3 < 5 -> 15 - 3 = 12
    assert _po_lines(engine) == [
        (world.suppliers["MILL"], world.products["FLOUR-25"], 50),
        (world.suppliers["DAIRY"], world.products["BUTTER-10"], 12),
    ]
    statuses = fetch_rows(engine, select(PurchaseOrder.status, PurchaseOrder.number))
    assert sorted(statuses) == [("draft", "PO-000001"), ("draft", "PO-000002")]
    assert fetch_rows(engine, select(Notification.role, Notification.kind)) == [
        ("purchasing_manager", "po_drafted")
    ]


def test_drafting_twice_orders_nothing_twice(engine, world):
    draft_purchase_orders(engine, actor="bob")
    assert draft_purchase_orders(engine, actor="bob") == []
    assert len(_po_lines(engine)) == 2


def test_backorders_count_against_the_position_and_min_order_applies(sqlite_engine, sworld):
    place_order(
        sqlite_engine, customer_id=sworld.customers["gold"], lines=[("NAPKIN-500", 7)], actor="a"
    )
    draft_purchase_orders(sqlite_engine, actor="bob")
    napkins = [row for row in _po_lines(sqlite_engine) if row[1] == sworld.products["NAPKIN-500"]]
    # need 7, packs of 10, minimum order 20
    assert napkins == [(sworld.suppliers["MILL"], sworld.products["NAPKIN-500"], 20)]


def test_new_need_goes_onto_the_suppliers_existing_draft(sqlite_engine, sworld):
    first = draft_purchase_orders(sqlite_engine, actor="bob")
    place_order(
        sqlite_engine, customer_id=sworld.customers["gold"], lines=[("NAPKIN-500", 7)], actor="a"
    )
    second = draft_purchase_orders(sqlite_engine, actor="bob")
    mill_po = fetch_rows(
        sqlite_engine,
        select(PurchaseOrder.id).where(PurchaseOrder.supplier_id == sworld.suppliers["MILL"]),
    )
    assert len(mill_po) == 1
    assert second == [mill_po[0][0]]
    assert mill_po[0][0] in first


def test_stock_already_on_order_is_netted(sqlite_engine, sworld):
    _po(sqlite_engine, sworld, "MILL", {"FLOUR-25": 15})
    draft_purchase_orders(sqlite_engine, actor="bob")
    flour = [row for row in _po_lines(sqlite_engine) if row[1] == sworld.products["FLOUR-25"]]
    # position 10 + 15 = 25 is above the reorder point of 20: only the sent PO remains
    assert [row[2] for row in flour] == [15]


def test_inactive_products_are_not_reordered(sqlite_engine, sworld):
    from data.schema import Product

    with write_session(sqlite_engine) as session:
        session.get(Product, sworld.products["FLOUR-25"]).active = False
    draft_purchase_orders(sqlite_engine, actor="bob")
    assert [row[1] for row in _po_lines(sqlite_engine)] == [sworld.products["BUTTER-10"]]


# --- editing, approving, sending -----------------------------------------------------------


def test_update_po_line_changes_a_draft(sqlite_engine, sworld):
    draft_purchase_orders(sqlite_engine, actor="bob")
    line_id = fetch_rows(
        sqlite_engine, select(PurchaseOrderLine.id).order_by(PurchaseOrderLine.id)
    )[0][0]
    update_po_line(sqlite_engine, po_line_id=line_id, qty=70, actor="bob")
    assert fetch_rows(
        sqlite_engine, select(PurchaseOrderLine.qty_ordered).where(PurchaseOrderLine.id == line_id)
    ) == [(70,)]


@pytest.mark.parametrize(
    ("qty", "error", "fragment"),
    [
        (0, ValidationError, "The quantity to order must be at least 1, not 0."),
        (-5, ValidationError, "must be at least 1, not -5"),
        (2.5, ValidationError, "whole number, not 2.5"),
    ],
)
def test_bad_po_line_quantities_are_refused(sqlite_engine, sworld, qty, error, fragment):
    draft_purchase_orders(sqlite_engine, actor="bob")
    line_id = fetch_rows(sqlite_engine, select(PurchaseOrderLine.id))[0][0]
    assert_refused(
        sqlite_engine,
        lambda: update_po_line(sqlite_engine, po_line_id=line_id, qty=qty, actor="bob"),
        error,
        fragment,
    )


def test_a_sent_po_cannot_be_edited(sqlite_engine, sworld):
    po_id = _po(sqlite_engine, sworld, "MILL", {"FLOUR-25": 15})
    line_id = fetch_rows(sqlite_engine, select(PurchaseOrderLine.id))[0][0]
    assert_refused(
        sqlite_engine,
        lambda: update_po_line(sqlite_engine, po_line_id=line_id, qty=5, actor="bob"),
        InvalidState,
        "is sent: only a draft can be edited",
    )
    assert po_id


def test_approve_then_send_sets_dates_from_the_lead_time(engine, world):
    ids = draft_purchase_orders(engine, actor="bob")
    mill = min(ids)
    approve_po(engine, po_id=mill, actor="pam")
    expected = send_po(engine, po_id=mill, actor="pam", now=NOW)
    assert expected == TODAY + dt.timedelta(days=7)
    row = fetch_rows(
        engine,
        select(
            PurchaseOrder.status,
            PurchaseOrder.approved_by,
            PurchaseOrder.sent_at,
            PurchaseOrder.expected_date,
            PurchaseOrder.original_expected_date,
        ).where(PurchaseOrder.id == mill),
    )
    assert row == [("sent", "pam", NOW, expected, expected)]


def test_sending_a_draft_is_refused(sqlite_engine, sworld):
    po_id = draft_purchase_orders(sqlite_engine, actor="bob")[0]
    assert_refused(
        sqlite_engine,
        lambda: send_po(sqlite_engine, po_id=po_id, actor="pam"),
        InvalidState,
        "is draft: only an approved purchase order can be sent.",
    )


def test_approving_twice_is_refused(sqlite_engine, sworld):
    po_id = draft_purchase_orders(sqlite_engine, actor="bob")[0]
    approve_po(sqlite_engine, po_id=po_id, actor="pam")
    assert_refused(
        sqlite_engine,
        lambda: approve_po(sqlite_engine, po_id=po_id, actor="pam"),
        InvalidState,
        "is approved: only a draft can be approved.",
    )


def test_unknown_po_is_refused(engine, world):
    assert_refused(
        engine,
        lambda: approve_po(engine, po_id=77, actor="pam"),
        NotFound,
        "Purchase order 77 does not exist.",
    )


def test_send_with_a_past_date_is_refused(sqlite_engine, sworld):
    po_id = _po(sqlite_engine, sworld, "MILL", {"FLOUR-25": 15}, status="approved")
    assert_refused(
        sqlite_engine,
        lambda: send_po(
            sqlite_engine, po_id=po_id, actor="pam", expected_date=dt.date(2026, 3, 1), now=NOW
        ),
        ValidationError,
        "The expected date 2026-03-01 is in the past",
    )


def test_sending_a_po_gives_waiting_backorders_its_date(engine, world):
    placed = place_order(
        engine, customer_id=world.customers["gold"], lines=[("NAPKIN-500", 7)], actor="a", now=NOW
    )
    # No PO: Tue 10 Mar + 2 days to reorder + 7-day lead = Thu 19 Mar restock;
    # + 1 pick day = Fri 20 Mar + 2 transit days = Sun 22 Mar (promised to the customer).
    assert placed.lines[0].expected_date == dt.date(2026, 3, 22)
    po_id = _po(engine, world, "MILL", {"NAPKIN-500": 20}, status="approved")
    send_po(engine, po_id=po_id, actor="pam", expected_date=dt.date(2026, 3, 13), now=NOW)
    backorder = fetch_rows(
        engine,
        select(
            Backorder.estimated_date,
            Backorder.waits_on_po_id,
            Backorder.promised_date,
            Backorder.estimate_reason,
        ),
    )
    # The sent PO arrives Fri 13 Mar + 1 pick day = Mon 16 Mar + 2 transit days = Wed 18 Mar.
    assert backorder == [
        (
            dt.date(2026, 3, 18),
            po_id,
            dt.date(2026, 3, 22),
            "waits on PO-T1MILLapproved, 1st in queue; then 1 pick day and 2 days quoted transit",
        )
    ]


# --- re-dating and cancelling --------------------------------------------------------------


def _customer_user(engine, customer_id):
    with write_session(engine) as session:
        user = User(
            username="gold-buyer",
            name="Gold Buyer",
            email="buyer@gold.example",
            password_hash=hash_password("password1", rounds=4),
            customer_id=customer_id,
        )
        session.add(user)
        session.flush()
        return user.id


def test_a_slipping_po_re_promises_and_notifies(engine, world):
    user_id = _customer_user(engine, world.customers["gold"])
    po_id = _po(engine, world, "MILL", {"NAPKIN-500": 20}, expected=dt.date(2026, 3, 12))
    place_order(
        engine, customer_id=world.customers["gold"], lines=[("NAPKIN-500", 7)], actor="a", now=NOW
    )
    sent = set_po_expected_date(
        engine, po_id=po_id, expected_date=dt.date(2026, 3, 20), actor="lou", now=NOW
    )
    # Promised: PO Thu 12 Mar + 1 pick day = Fri 13 + 2 transit days = Sun 15 Mar.
    # Re-dated PO Fri 20 Mar + 1 pick day = Mon 23 + 2 transit days = Wed 25 Mar: a slip.
    assert fetch_rows(engine, select(Backorder.promised_date, Backorder.estimated_date)) == [
        (dt.date(2026, 3, 15), dt.date(2026, 3, 25))
    ]
    notes = fetch_rows(
        engine,
        select(Notification.kind, Notification.role, Notification.email_to, Notification.status)
        .where(Notification.kind != "backorder_created")
        .order_by(Notification.id),
    )
    assert notes == [
        ("po_late", "logistics_manager", None, "in_app"),
        ("po_late", "purchasing_manager", None, "in_app"),
        ("promise_slipped", "customer_service", None, "in_app"),
        ("promise_slipped", "customer", "gold@example.com", "pending"),
    ]
    with read_connection(engine) as conn:
        seen = inbox_messages(conn, user_id, ["customer"], world.customers["gold"])
    assert [m.subject for m in seen if m.kind == "promise_slipped"] == [
        "Backorder of NAPKIN-500 for Gold Bistro now expected 25 Mar 2026"
    ]
    assert sent == 2


def test_an_earlier_date_notifies_nobody(sqlite_engine, sworld):
    po_id = _po(sqlite_engine, sworld, "MILL", {"NAPKIN-500": 20}, expected=dt.date(2026, 3, 14))
    place_order(
        sqlite_engine,
        customer_id=sworld.customers["gold"],
        lines=[("NAPKIN-500", 7)],
        actor="a",
        now=NOW,
    )
    sent = set_po_expected_date(
        sqlite_engine, po_id=po_id, expected_date=dt.date(2026, 3, 12), actor="lou", now=NOW
    )
    assert sent == 0
    assert (
        fetch_rows(
            sqlite_engine, select(Notification.id).where(Notification.kind != "backorder_created")
        )
        == []
    )
    # Promised: PO Sat 14 Mar, picked from Mon 16 + 1 pick day = Tue 17 + 2 transit = Thu 19 Mar.
    # Earlier PO Thu 12 Mar + 1 pick day = Fri 13 + 2 transit days = Sun 15 Mar.
    assert fetch_rows(sqlite_engine, select(Backorder.promised_date, Backorder.estimated_date)) == [
        (dt.date(2026, 3, 19), dt.date(2026, 3, 15))
    ]


def test_cancelling_a_po_moves_its_backorders_to_the_lead_time(sqlite_engine, sworld):
    po_id = _po(sqlite_engine, sworld, "MILL", {"NAPKIN-500": 20}, expected=dt.date(2026, 3, 12))
    place_order(
        sqlite_engine,
        customer_id=sworld.customers["gold"],
        lines=[("NAPKIN-500", 7)],
        actor="a",
        now=NOW,
    )
    cancel_po(sqlite_engine, po_id=po_id, actor="pam", reason="supplier closed")
    row = fetch_rows(sqlite_engine, select(Backorder.waits_on_po_id, Backorder.estimate_reason))[0]
    assert row[0] is None
    assert row[1].startswith("no open purchase order covers it")


def test_a_partly_received_po_cannot_be_cancelled(sqlite_engine, sworld):
    po_id = _po(sqlite_engine, sworld, "MILL", {"NAPKIN-500": 20})
    receive_po(sqlite_engine, po_id=po_id, actor="w", quantities={sworld.products["NAPKIN-500"]: 5})
    assert_refused(
        sqlite_engine,
        lambda: cancel_po(sqlite_engine, po_id=po_id, actor="pam", reason="late"),
        InvalidState,
        "is partially received: it cannot be cancelled.",
    )


def test_re_dating_a_draft_is_refused(sqlite_engine, sworld):
    po_id = _po(sqlite_engine, sworld, "MILL", {"NAPKIN-500": 20}, status="draft")
    assert_refused(
        sqlite_engine,
        lambda: set_po_expected_date(
            sqlite_engine, po_id=po_id, expected_date=dt.date(2026, 4, 1), actor="lou"
        ),
        InvalidState,
        "is draft: only an approved or sent purchase order has a delivery date",
    )


# --- receiving -----------------------------------------------------------------------------


def test_receiving_everything_books_stock_through_the_ledger(engine, world):
    po_id = _po(engine, world, "MILL", {"FLOUR-25": 50, "NAPKIN-500": 20})
    result = receive_po(engine, po_id=po_id, actor="wes", now=NOW)
    assert result.status == "received"
    assert result.received == {world.products["FLOUR-25"]: 50, world.products["NAPKIN-500"]: 20}
    assert stock_of(engine, world.products["FLOUR-25"]) == (60, 0)
    assert stock_of(engine, world.products["NAPKIN-500"]) == (20, 0)
    assert sorted(fetch_rows(engine, select(Receipt.qty, Receipt.actor))) == [
        (20, "wes"),
        (50, "wes"),
    ]
    receipts = fetch_rows(
        engine, select(StockLedger.on_hand_delta).where(StockLedger.reason == "receipt")
    )
    assert sorted(receipts) == [(20,), (50,)]
    assert fetch_rows(engine, select(PurchaseOrder.received_at)) == [(NOW,)]
    assert_invariants(engine)


def test_receiving_in_parts(sqlite_engine, sworld):
    po_id = _po(sqlite_engine, sworld, "MILL", {"FLOUR-25": 50})
    flour = sworld.products["FLOUR-25"]
    assert receive_po(sqlite_engine, po_id=po_id, actor="w", quantities={flour: 20}).status == (
        "partially_received"
    )
    assert receive_po(sqlite_engine, po_id=po_id, actor="w").received == {flour: 30}
    assert fetch_rows(sqlite_engine, select(PurchaseOrder.status)) == [("received",)]
    assert stock_of(sqlite_engine, flour) == (60, 0)


def test_over_receiving_is_refused(engine, world):
    po_id = _po(engine, world, "MILL", {"FLOUR-25": 50})
    flour = world.products["FLOUR-25"]
    receive_po(engine, po_id=po_id, actor="w", quantities={flour: 45})
    assert_refused(
        engine,
        lambda: receive_po(engine, po_id=po_id, actor="w", quantities={flour: 6}),
        InvalidState,
        "Too many FLOUR-25 for PO-",
        "50 ordered, 45 already received, so at most 5 more (not 6)",
    )


@pytest.mark.parametrize(
    ("status", "fragment"),
    [
        ("draft", "is still a draft: approve and send it first."),
        ("cancelled", "is cancelled: nothing more can be received on it."),
        ("received", "is received: nothing more can be received on it."),
    ],
)
def test_receiving_on_a_po_in_the_wrong_state_is_refused(sqlite_engine, sworld, status, fragment):
    po_id = _po(sqlite_engine, sworld, "MILL", {"FLOUR-25": 50}, status=status)
    assert_refused(
        sqlite_engine,
        lambda: receive_po(sqlite_engine, po_id=po_id, actor="w"),
        InvalidState,
        fragment,
    )


@pytest.mark.parametrize(
    ("quantities", "error", "fragment"),
    [
        ({"FLOUR-25": 0}, ValidationError, "must be at least 1, not 0"),
        ({"FLOUR-25": -4}, ValidationError, "must be at least 1, not -4"),
        ({"FLOUR-25": 2.5}, ValidationError, "whole number, not 2.5"),
        ({"OIL-5L": 4}, NotFound, "OIL-5L is not on PO-"),
        ({}, ValidationError, "Say how many units of which product arrived."),
    ],
)
def test_bad_receipts_are_refused(sqlite_engine, sworld, quantities, error, fragment):
    po_id = _po(sqlite_engine, sworld, "MILL", {"FLOUR-25": 50})
    by_id = {sworld.products[sku]: qty for sku, qty in quantities.items()}
    assert_refused(
        sqlite_engine,
        lambda: receive_po(sqlite_engine, po_id=po_id, actor="w", quantities=by_id),
        error,
        fragment,
    )


def _waiting_line(engine, line_id):
    return fetch_rows(
        engine,
        select(OrderLine.qty_allocated, OrderLine.qty_backordered).where(OrderLine.id == line_id),
    )[0]


def test_arriving_stock_goes_to_the_higher_score_first(engine, world):
    # bronze + urgent = 2 points, placed first; gold = 3 points, placed second
    bronze = place_order(
        engine,
        customer_id=world.customers["bronze"],
        lines=[("NAPKIN-500", 6)],
        actor="a",
        priority="urgent",
        now=NOW,
    )
    gold = place_order(
        engine, customer_id=world.customers["gold"], lines=[("NAPKIN-500", 6)], actor="a", now=NOW
    )
    po_id = _po(engine, world, "MILL", {"NAPKIN-500": 8})
    result = receive_po(engine, po_id=po_id, actor="wes", now=NOW)
    assert _waiting_line(engine, gold.lines[0].line_id) == (6, 0)
    assert _waiting_line(engine, bronze.lines[0].line_id) == (2, 4)
    assert [(fill.qty, fill.score) for fill in result.fills] == [(6, 3.0), (2, 2.0)]
    allocations = fetch_rows(
        engine, select(Allocation.qty, Allocation.score, Allocation.score_parts, Allocation.po_id)
    )
    assert allocations[0] == (
        6,
        3.0,
        {"tier": 3.0, "urgent": 0.0, "waiting": 0.0, "slack": 0.0},
        po_id,
    )
    assert fetch_rows(engine, select(Backorder.status).order_by(Backorder.id)) == [
        ("open",),
        ("filled",),
    ]
    tasks = fetch_rows(engine, select(PickTask.qty, PickTask.fills_backorder, PickTask.urgent))
    assert sorted(tasks) == [(2, True, True), (6, True, False)]
    assert stock_of(engine, world.products["NAPKIN-500"]) == (8, 8)
    assert_invariants(engine)


def test_equal_scores_go_by_age(sqlite_engine, sworld):
    older = place_order(
        sqlite_engine,
        customer_id=sworld.customers["silver"],
        lines=[("NAPKIN-500", 3)],
        actor="a",
        now=NOW,
    )
    newer = place_order(
        sqlite_engine,
        customer_id=sworld.customers["silver"],
        lines=[("NAPKIN-500", 3)],
        actor="a",
        now=NOW,
    )
    po_id = _po(sqlite_engine, sworld, "MILL", {"NAPKIN-500": 3})
    receive_po(sqlite_engine, po_id=po_id, actor="wes", now=NOW)
    assert _waiting_line(sqlite_engine, older.lines[0].line_id) == (3, 0)
    assert _waiting_line(sqlite_engine, newer.lines[0].line_id) == (0, 3)


def test_the_weights_are_settings(sqlite_engine, sworld):
    add_admin(sqlite_engine)
    set_setting(sqlite_engine, key="weight_urgent", value=10, actor="admin")
    bronze = place_order(
        sqlite_engine,
        customer_id=sworld.customers["bronze"],
        lines=[("NAPKIN-500", 5)],
        actor="a",
        priority="urgent",
        now=NOW,
    )
    place_order(
        sqlite_engine,
        customer_id=sworld.customers["gold"],
        lines=[("NAPKIN-500", 5)],
        actor="a",
        now=NOW,
    )
    po_id = _po(sqlite_engine, sworld, "MILL", {"NAPKIN-500": 5})
    receive_po(sqlite_engine, po_id=po_id, actor="wes", now=NOW)
    assert _waiting_line(sqlite_engine, bronze.lines[0].line_id) == (5, 0)


def test_a_ship_complete_order_is_picked_once_its_last_backorder_fills(sqlite_engine, sworld):
    place_order(
        sqlite_engine,
        customer_id=sworld.customers["gold"],
        lines=[("NAPKIN-500", 5), ("OIL-5L", 4)],
        actor="a",
        backorder_choice="ship_complete",
        now=NOW,
    )
    assert fetch_rows(sqlite_engine, select(PickTask.id)) == []
    po_id = _po(sqlite_engine, sworld, "MILL", {"NAPKIN-500": 5})
    receive_po(sqlite_engine, po_id=po_id, actor="wes", now=NOW)
    tasks = fetch_rows(
        sqlite_engine, select(PickTask.product_id, PickTask.qty).order_by(PickTask.product_id)
    )
    assert tasks == [(sworld.products["NAPKIN-500"], 5), (sworld.products["OIL-5L"], 4)]
    assert_invariants(sqlite_engine)
