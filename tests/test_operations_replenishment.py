"""The buyer's and logistics' write side: draft PO line edits, sending with an inbound shipment,
supplier messages, and tracking events that move dates and tell the people waiting."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from data.db import write_session
from data.schema import (
    AuditLog,
    Backorder,
    Communication,
    Notification,
    Order,
    PurchaseOrder,
    PurchaseOrderLine,
    Shipment,
    ShipmentEvent,
    Supplier,
    User,
)
from operations import (
    InvalidState,
    NotFound,
    ValidationError,
    add_po_line,
    approve_po,
    confirm_pack,
    confirm_pick,
    place_order,
    record_communication,
    record_tracking_event,
    remove_po_line,
    send_po,
    ship_order,
    update_po_lines,
)
from operations.admin import hash_password
from tests import operations_world
from tests.operations_world import assert_refused, fetch_rows

world = operations_world.world
sworld = operations_world.sworld

NOW = dt.datetime(2026, 3, 10, 9, 30)
TODAY = NOW.date()


def _draft(engine, world, supplier: str, lines: dict[str, int], status: str = "draft") -> int:
    with write_session(engine) as session:
        po = PurchaseOrder(
            number=f"PO-R{supplier}{status}"[:20],
            supplier_id=world.suppliers[supplier],
            warehouse_id=world.warehouse,
            status=status,
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


def _line_ids(engine, po_id) -> dict[int, int]:
    """product_id -> line id of a PO."""
    return dict(
        fetch_rows(
            engine,
            select(PurchaseOrderLine.product_id, PurchaseOrderLine.id).where(
                PurchaseOrderLine.po_id == po_id
            ),
        )
    )


def _users(engine, world) -> tuple[int, int]:
    """A login for the gold customer and one for their sales rep; returns their ids."""
    with write_session(engine) as session:
        customer = User(
            username="gold-chef", name="Gold Chef", email="chef@gold.example",
            password_hash=hash_password("password1", rounds=4),
            customer_id=world.customers["gold"],
        )  # fmt: skip
        rep = User(
            username="rita", name="Rita Rep", email="rita@example.com",
            password_hash=hash_password("password1", rounds=4), sales_rep_id=world.sales_rep,
        )  # fmt: skip
        session.add_all([customer, rep])
        session.flush()
        return customer.id, rep.id


# --- editing a draft -----------------------------------------------------------------------


def test_quantities_in_whole_packs_above_the_minimum_are_saved(engine, world):
    po_id = _draft(engine, world, "MILL", {"FLOUR-25": 20, "NAPKIN-500": 20})
    lines = _line_ids(engine, po_id)
    flour, napkin = lines[world.products["FLOUR-25"]], lines[world.products["NAPKIN-500"]]
    changed = update_po_lines(
        engine, po_id=po_id, quantities={flour: 35, napkin: 20.0}, actor="pam"
    )
    assert changed == 1  # the napkins did not change
    assert fetch_rows(
        engine, select(PurchaseOrderLine.qty_ordered).where(PurchaseOrderLine.id == flour)
    ) == [(35,)]
    audit = fetch_rows(engine, select(AuditLog.action, AuditLog.before, AuditLog.after))
    assert audit == [("update_po_line", {"qty_ordered": 20}, {"qty_ordered": 35})]


@pytest.mark.parametrize(
    ("qty", "fragment"),
    [
        (23, "FLOUR-25: 23 is not a whole number of packs of 5 (order 20 or 25)."),
        (5, "FLOUR-25: 5 is below the supplier's minimum order of 10."),
        (-5, "FLOUR-25: the quantity to order must be at least 1, not -5."),
        (0, "FLOUR-25: the quantity to order must be at least 1, not 0."),
        (2.5, "FLOUR-25: the quantity to order must be a whole number, not 2.5"),
        ("ten", "FLOUR-25: the quantity to order must be a whole number, not 'ten'"),
    ],
)
def test_bad_quantities_are_refused_with_the_line_named(engine, world, qty, fragment):
    po_id = _draft(engine, world, "MILL", {"FLOUR-25": 20, "NAPKIN-500": 20})
    lines = _line_ids(engine, po_id)
    flour, napkin = lines[world.products["FLOUR-25"]], lines[world.products["NAPKIN-500"]]
    # The good change to the napkins is not saved either: all or nothing.
    assert_refused(
        engine,
        lambda: update_po_lines(
            engine, po_id=po_id, quantities={napkin: 40, flour: qty}, actor="pam"
        ),
        ValidationError,
        "Nothing saved on PO-RMILLdraft.",
        fragment,
    )


def test_every_bad_line_is_named_at_once(sqlite_engine, sworld):
    po_id = _draft(sqlite_engine, sworld, "MILL", {"FLOUR-25": 20, "NAPKIN-500": 20})
    lines = _line_ids(sqlite_engine, po_id)
    message = assert_refused(
        sqlite_engine,
        lambda: update_po_lines(
            sqlite_engine,
            po_id=po_id,
            quantities={
                lines[sworld.products["FLOUR-25"]]: 12,
                lines[sworld.products["NAPKIN-500"]]: 35,
            },
            actor="pam",
        ),
        ValidationError,
    )
    assert "FLOUR-25: 12 is not a whole number of packs of 5" in message
    assert "NAPKIN-500: 35 is not a whole number of packs of 10 (order 30 or 40)" in message


def test_a_line_of_another_po_is_refused(sqlite_engine, sworld):
    po_id = _draft(sqlite_engine, sworld, "MILL", {"FLOUR-25": 20})
    other = _draft(sqlite_engine, sworld, "DAIRY", {"OIL-5L": 8})
    oil_line = _line_ids(sqlite_engine, other)[sworld.products["OIL-5L"]]
    assert_refused(
        sqlite_engine,
        lambda: update_po_lines(sqlite_engine, po_id=po_id, quantities={oil_line: 12}, actor="pam"),
        NotFound,
        f"Line {oil_line} is not on PO-RMILLdraft",
    )


def test_an_approved_po_cannot_be_edited(sqlite_engine, sworld):
    po_id = _draft(sqlite_engine, sworld, "MILL", {"FLOUR-25": 20}, status="approved")
    line = _line_ids(sqlite_engine, po_id)[sworld.products["FLOUR-25"]]
    assert_refused(
        sqlite_engine,
        lambda: update_po_lines(sqlite_engine, po_id=po_id, quantities={line: 25}, actor="pam"),
        InvalidState,
        "is approved: only a draft can be edited",
    )
    assert_refused(
        sqlite_engine,
        lambda: remove_po_line(sqlite_engine, po_line_id=line, actor="pam"),
        InvalidState,
        "is approved: only a draft can be edited",
    )


def test_add_and_remove_a_line(engine, world):
    po_id = _draft(engine, world, "MILL", {"FLOUR-25": 20})
    line_id = add_po_line(
        engine, po_id=po_id, product_id=world.products["NAPKIN-500"], qty=40, actor="pam"
    )
    assert fetch_rows(
        engine,
        select(PurchaseOrderLine.product_id, PurchaseOrderLine.qty_ordered).where(
            PurchaseOrderLine.id == line_id
        ),
    ) == [(world.products["NAPKIN-500"], 40)]
    remove_po_line(engine, po_line_id=line_id, actor="pam")
    assert set(_line_ids(engine, po_id)) == {world.products["FLOUR-25"]}
    actions = [a for (a,) in fetch_rows(engine, select(AuditLog.action).order_by(AuditLog.id))]
    assert actions == ["add_po_line", "remove_po_line"]


@pytest.mark.parametrize(
    ("sku", "qty", "error", "fragment"),
    [
        ("OIL-5L", 8, ValidationError, "OIL-5L comes from another supplier"),
        ("FLOUR-25", 20, InvalidState, "FLOUR-25 is already on PO-RMILLdraft"),
        ("NAPKIN-500", 25, ValidationError, "NAPKIN-500: 25 is not a whole number of packs of 10"),
        ("NAPKIN-500", 10, ValidationError, "below the supplier's minimum order of 20"),
        ("NAPKIN-500", -10, ValidationError, "must be at least 1, not -10"),
    ],
)
def test_bad_new_lines_are_refused(sqlite_engine, sworld, sku, qty, error, fragment):
    po_id = _draft(sqlite_engine, sworld, "MILL", {"FLOUR-25": 20})
    assert_refused(
        sqlite_engine,
        lambda: add_po_line(
            sqlite_engine, po_id=po_id, product_id=sworld.products[sku], qty=qty, actor="pam"
        ),
        error,
        fragment,
    )


# --- sending opens the inbound shipment ----------------------------------------------------


def test_sending_with_a_carrier_opens_the_inbound_shipment(engine, world):
    po_id = _draft(engine, world, "MILL", {"FLOUR-25": 20})
    approve_po(engine, po_id=po_id, actor="pam")
    expected = send_po(
        engine, po_id=po_id, actor="pam", now=NOW, carrier_id=world.carrier, tracking="FF123"
    )
    assert expected == TODAY + dt.timedelta(days=7)
    shipment = fetch_rows(
        engine,
        select(
            Shipment.id,
            Shipment.number,
            Shipment.direction,
            Shipment.po_id,
            Shipment.carrier_id,
            Shipment.tracking,
            Shipment.status,
            Shipment.promised_date,
            Shipment.estimated_arrival,
        ),
    )
    (sid, number, *rest) = shipment[0]
    assert number == f"IN-{sid:06d}"
    assert rest == ["inbound", po_id, world.carrier, "FF123", "planned", expected, expected]
    assert fetch_rows(engine, select(ShipmentEvent.kind, ShipmentEvent.at)) == [("booked", NOW)]


def test_sending_with_an_unknown_carrier_is_refused(sqlite_engine, sworld):
    po_id = _draft(sqlite_engine, sworld, "MILL", {"FLOUR-25": 20}, status="approved")
    assert_refused(
        sqlite_engine,
        lambda: send_po(sqlite_engine, po_id=po_id, actor="pam", carrier_id=99),
        NotFound,
        "Carrier 99 does not exist",
    )


# --- messages with suppliers ---------------------------------------------------------------


def test_a_call_with_a_supplier_about_a_po_is_recorded_and_a_mail_queued(engine, world):
    po_id = _draft(engine, world, "MILL", {"FLOUR-25": 20}, status="approved")
    with write_session(engine) as session:
        session.get(Supplier, world.suppliers["MILL"]).email = "orders@mill.example"
    record_communication(
        engine,
        actor="pam",
        channel="email",
        subject="Where is PO-RMILLapproved?",
        body="Please confirm the date.",
        supplier_id=world.suppliers["MILL"],
        po_id=po_id,
        send=True,
        now=NOW,
    )
    assert fetch_rows(
        engine, select(Communication.supplier_id, Communication.po_id, Communication.channel)
    ) == [(world.suppliers["MILL"], po_id, "email")]
    assert fetch_rows(
        engine,
        select(Notification.email_to, Notification.status, Notification.ref_type,
               Notification.ref_id),
    ) == [("orders@mill.example", "pending", "purchase_order", po_id)]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "error", "fragment"),
    [
        ({"supplier_id": 77}, NotFound, "Supplier 77 does not exist."),
        ({"po_id": "x"}, ValidationError, "Purchase order must be a record id"),
        ({"send": True}, ValidationError, "Northern Mill has no mail address on file"),
        ({"send": True, "direction": "inbound"}, ValidationError, "Only an outbound message"),
    ],
)
def test_bad_supplier_messages_are_refused(sqlite_engine, sworld, changes, error, fragment):
    arguments = {
        "actor": "pam",
        "channel": "phone",
        "subject": "Call",
        "supplier_id": sworld.suppliers["MILL"],
    } | changes
    assert_refused(
        sqlite_engine, lambda: record_communication(sqlite_engine, **arguments), error, fragment
    )


def test_a_po_of_another_supplier_is_refused(sqlite_engine, sworld):
    po_id = _draft(sqlite_engine, sworld, "DAIRY", {"OIL-5L": 8})
    assert_refused(
        sqlite_engine,
        lambda: record_communication(
            sqlite_engine,
            actor="pam",
            channel="phone",
            subject="Call",
            supplier_id=sworld.suppliers["MILL"],
            po_id=po_id,
        ),  # fmt: skip
        NotFound,
        f"Purchase order {po_id} is not a purchase order of this supplier.",
    )


# --- tracking events -----------------------------------------------------------------------


def _inbound(engine, world) -> tuple[int, int]:
    """A sent MILL PO of 20 napkins due Thu 12 Mar with its inbound shipment; (po, shipment)."""
    po_id = _draft(engine, world, "MILL", {"NAPKIN-500": 20}, status="approved")
    send_po(
        engine,
        po_id=po_id,
        actor="pam",
        now=NOW,
        expected_date=dt.date(2026, 3, 12),
        carrier_id=world.carrier,
    )
    (shipment_id,) = fetch_rows(engine, select(Shipment.id).where(Shipment.po_id == po_id))[0]
    return po_id, shipment_id


def test_a_delay_on_an_inbound_shipment_re_promises_and_tells_the_customer(engine, world):
    _customer_user, rep_user = _users(engine, world)
    po_id, shipment_id = _inbound(engine, world)
    place_order(
        engine, customer_id=world.customers["gold"], lines=[("NAPKIN-500", 7)], actor="a", now=NOW
    )
    # PO Thu 12 Mar + 1 pick day = Fri 13 + 2 transit days = Sun 15 Mar.
    assert fetch_rows(engine, select(Backorder.promised_date, Backorder.estimated_date)) == [
        (dt.date(2026, 3, 15), dt.date(2026, 3, 15))
    ]
    sent = record_tracking_event(
        engine,
        shipment_id=shipment_id,
        kind="delayed",
        new_date=dt.date(2026, 3, 20),
        note="Supplier short of pallets",
        actor="lou",
        now=NOW,
    )
    # Fri 20 Mar + 1 pick day = Mon 23 + 2 transit days = Wed 25 Mar.
    assert fetch_rows(engine, select(Backorder.estimated_date, Backorder.waits_on_po_id)) == [
        (dt.date(2026, 3, 25), po_id)
    ]
    assert fetch_rows(
        engine, select(PurchaseOrder.expected_date).where(PurchaseOrder.id == po_id)
    ) == [(dt.date(2026, 3, 20),)]
    assert fetch_rows(
        engine,
        select(Shipment.status, Shipment.estimated_arrival).where(Shipment.id == shipment_id),
    ) == [("delayed", dt.date(2026, 3, 20))]
    notes = fetch_rows(
        engine,
        select(Notification.user_id, Notification.role, Notification.email_to)
        .where(Notification.kind == "promise_slipped")
        .order_by(Notification.id),
    )
    # The customer (by their customer id, to the customer's address), their representative and
    # customer service each hear of the slip once.
    assert sorted(notes, key=repr) == sorted(
        [
            (None, "customer", "gold@example.com"),
            (rep_user, None, "rita@example.com"),
            (None, "customer_service", None),
        ],
        key=repr,
    )
    assert sent == 3
    events = fetch_rows(
        engine, select(ShipmentEvent.kind, ShipmentEvent.note).order_by(ShipmentEvent.id)
    )
    assert events[-1] == ("delayed", "Supplier short of pallets (new estimate 2026-03-20)")


def _outbound(engine, world) -> int:
    """Ship an order of 3 butter (in stock) to the gold customer; returns the shipment id."""
    placed = place_order(
        engine, customer_id=world.customers["gold"], lines=[("BUTTER-10", 3)], actor="a", now=NOW
    )
    with write_session(engine) as session:
        session.get(Order, placed.order_id).requested_date = dt.date(2026, 3, 13)
    from data.schema import PickTask

    (task_id,) = fetch_rows(engine, select(PickTask.id))[0]
    confirm_pick(engine, task_id=task_id, qty_picked=3, actor="op", now=NOW)
    confirm_pack(engine, task_id=task_id, actor="op", now=NOW)
    return ship_order(
        engine, order_id=placed.order_id, carrier_id=world.carrier, actor="op", now=NOW
    )


def test_a_delay_on_an_outbound_shipment_tells_the_customer_and_rep(engine, world):
    customer_user, rep_user = _users(engine, world)
    shipment_id = _outbound(engine, world)
    assert fetch_rows(
        engine, select(Shipment.estimated_arrival).where(Shipment.id == shipment_id)
    ) == [(dt.date(2026, 3, 12),)]
    sent = record_tracking_event(
        engine, shipment_id=shipment_id, kind="delayed", new_date=dt.date(2026, 3, 16),
        actor="lou", now=NOW,
    )  # fmt: skip
    assert sent == 3
    assert fetch_rows(
        engine,
        select(Shipment.status, Shipment.estimated_arrival).where(Shipment.id == shipment_id),
    ) == [("delayed", dt.date(2026, 3, 16))]
    notes = fetch_rows(
        engine,
        select(Notification.kind, Notification.user_id, Notification.role, Notification.subject)
        .where(Notification.kind == "delivery_moved")
        .order_by(Notification.id),
    )
    assert [(n[1], n[2]) for n in notes] == [
        (customer_user, None),
        (rep_user, None),
        (None, "customer_service"),
    ]
    assert notes[0][3].endswith("now expected 2026-03-16")


def test_picked_up_then_delivered(engine, world):
    _, shipment_id = _inbound(engine, world)
    assert (
        record_tracking_event(
            engine, shipment_id=shipment_id, kind="picked_up", actor="lou", now=NOW
        )
        == 0
    )
    assert fetch_rows(
        engine, select(Shipment.status, Shipment.shipped_at).where(Shipment.id == shipment_id)
    ) == [("in_transit", NOW)]
    record_tracking_event(engine, shipment_id=shipment_id, kind="delivered", actor="lou", now=NOW)
    assert fetch_rows(
        engine, select(Shipment.status, Shipment.delivered_at).where(Shipment.id == shipment_id)
    ) == [("delivered", NOW)]
    assert_refused(
        engine,
        lambda: record_tracking_event(
            engine, shipment_id=shipment_id, kind="in_transit", actor="lou", now=NOW
        ),
        InvalidState,
        "is already delivered: nothing more to track",
    )


@pytest.mark.parametrize(
    ("changes", "error", "fragment"),
    [
        ({"kind": "lost"}, ValidationError, "Tracking event must be one of picked_up"),
        ({"kind": "delayed"}, ValidationError, "A delay needs the new estimated arrival"),
        ({"kind": "delayed", "new_date": dt.date(2026, 3, 9)}, ValidationError, "is in the past"),
        ({"kind": "delayed", "new_date": dt.date(2026, 3, 11)}, ValidationError,
         "is already expected 2026-03-12: a delay must give a later date"),
        ({"kind": "in_transit", "new_date": dt.date(2026, 3, 20)}, ValidationError,
         "Only a delay or a failed delivery moves the arrival date"),
        ({"kind": "delayed", "new_date": "2026-03-20"}, ValidationError, "must be a date"),
        ({"shipment_id": 999}, NotFound, "Shipment 999 does not exist."),
        ({"note": "x" * 301}, ValidationError, "The note is too long"),
    ],
)  # fmt: skip
def test_bad_tracking_events_are_refused(sqlite_engine, sworld, changes, error, fragment):
    _, shipment_id = _inbound(sqlite_engine, sworld)
    arguments = {"shipment_id": shipment_id, "kind": "picked_up", "actor": "lou", "now": NOW}
    arguments |= changes
    assert_refused(
        sqlite_engine, lambda: record_tracking_event(sqlite_engine, **arguments), error, fragment
    )


def test_a_failed_delivery_without_a_date_keeps_the_estimate(sqlite_engine, sworld):
    _, shipment_id = _inbound(sqlite_engine, sworld)
    sent = record_tracking_event(
        sqlite_engine, shipment_id=shipment_id, kind="failed", note="Dock closed", actor="lou",
        now=NOW,
    )  # fmt: skip
    assert sent == 0
    assert fetch_rows(
        sqlite_engine,
        select(Shipment.status, Shipment.estimated_arrival).where(Shipment.id == shipment_id),
    ) == [("delayed", dt.date(2026, 3, 12))]


def test_re_dating_a_po_into_the_past_is_refused(sqlite_engine, sworld):
    from operations import set_po_expected_date

    po_id, _ = _inbound(sqlite_engine, sworld)
    assert_refused(
        sqlite_engine,
        lambda: set_po_expected_date(
            sqlite_engine, po_id=po_id, expected_date=dt.date(2026, 3, 9), actor="pam", now=NOW
        ),
        ValidationError,
        "The new expected date 2026-03-09 of PO-RMILLapproved is in the past",
    )


def test_re_dating_several_pos_is_all_or_nothing_and_moves_their_shipments(engine, world):
    from operations import set_po_expected_dates

    po_id, shipment_id = _inbound(engine, world)
    other = _draft(engine, world, "DAIRY", {"OIL-5L": 8}, status="approved")
    assert_refused(
        engine,
        lambda: set_po_expected_dates(
            engine,
            dates={po_id: dt.date(2026, 3, 20), other: dt.date(2026, 3, 1)},
            actor="pam",
            now=NOW,
        ),
        ValidationError,
        "The new expected date 2026-03-01 of PO-RDAIRYapproved is in the past",
    )
    set_po_expected_dates(
        engine,
        dates={po_id: dt.date(2026, 3, 20), other: dt.date(2026, 3, 25)},
        actor="pam",
        now=NOW,
    )
    assert fetch_rows(
        engine, select(PurchaseOrder.id, PurchaseOrder.expected_date).order_by(PurchaseOrder.id)
    ) == [(po_id, dt.date(2026, 3, 20)), (other, dt.date(2026, 3, 25))]
    assert fetch_rows(
        engine, select(Shipment.estimated_arrival).where(Shipment.id == shipment_id)
    ) == [(dt.date(2026, 3, 20),)]
