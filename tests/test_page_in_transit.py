"""AppTest of the In transit page on the tiny seeded database."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from data.db import make_engine, read_connection
from data.notices import day
from data.schema import (
    Backorder,
    Communication,
    Notification,
    OrderLine,
    PurchaseOrder,
    PurchaseOrderLine,
    Shipment,
    ShipmentLine,
)
from queries import shipments
from tests import apptest_support
from tests.apptest_support import app_test
from tests.operations_world import snapshot
from tests.transit_support import backorder_on_inbound

fresh_caches = apptest_support.fresh_caches
fresh_db_url = apptest_support.fresh_db_url

PAGE = "pages/in_transit.py"
OPEN = ("planned", "in_transit", "delayed")


@pytest.fixture
def db(fresh_db_url):
    engine = make_engine(fresh_db_url)
    yield engine
    engine.dispose()


def _run(at):
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _click(at, key: str):
    at.button(key=key).click()
    return _run(at)


def _metric(at, label: str) -> str:
    (found,) = [m for m in at.metric if m.label == label]
    return found.value


def _errors(at) -> list[str]:
    return [e.value for e in at.error]


def test_logistics_sees_kpis_that_match_the_database(db):
    at = _run(app_test(PAGE, "logistics"))
    assert [t.value for t in at.title] == ["In transit"]
    with read_connection(db) as conn:
        outbound = conn.execute(
            select(func.coalesce(func.sum(ShipmentLine.qty * OrderLine.unit_price), 0))
            .select_from(Shipment)
            .join(ShipmentLine, ShipmentLine.shipment_id == Shipment.id)
            .join(OrderLine, OrderLine.id == ShipmentLine.order_line_id)
            .where(Shipment.direction == "outbound", Shipment.status.in_(OPEN))
        ).scalar_one()
        moving = (
            select(Shipment.po_id)
            .where(Shipment.direction == "inbound", Shipment.status.in_(OPEN))
            .scalar_subquery()
        )
        inbound = conn.execute(
            select(
                func.coalesce(
                    func.sum(
                        (PurchaseOrderLine.qty_ordered - PurchaseOrderLine.qty_received)
                        * PurchaseOrderLine.unit_cost
                    ),
                    0,
                )
            )
            .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
            .where(
                PurchaseOrder.id.in_(moving),
                PurchaseOrder.status.in_(("approved", "sent", "partially_received")),
            )
        ).scalar_one()
        filling = conn.execute(
            select(func.count(func.distinct(Shipment.id)))
            .join(Backorder, Backorder.waits_on_po_id == Shipment.po_id)
            .join(PurchaseOrder, PurchaseOrder.id == Shipment.po_id)
            .where(
                Shipment.direction == "inbound",
                Shipment.status.in_(OPEN),
                Backorder.status == "open",
                PurchaseOrder.status.in_(("approved", "sent", "partially_received")),
            )
        ).scalar_one()
    assert _metric(at, "In-transit value") == f"€{float(outbound) + float(inbound):,.0f}"
    assert _metric(at, "Inbound for backorders") == str(filling)
    assert [t.label for t in at.tabs] == ["Inbound", "Outbound", "Carriers"]


def test_a_delay_moves_the_customers_estimate_and_tells_them(db):
    waiting = backorder_on_inbound(db)
    at = app_test(PAGE, "logistics")
    at.session_state["transit_inbound_pick"] = waiting.shipment_id
    _run(at)
    sid = waiting.shipment_id
    # A delay without a new date is refused and nothing changes.
    at.selectbox(key=f"transit_event_kind_{sid}").set_value("delayed")
    before = snapshot(db)
    _click(at, f"FormSubmitter:transit_event_{sid}-Record event")
    assert "A delay needs the new estimated arrival the carrier gave." in _errors(at)
    assert snapshot(db) == before
    new = max(waiting.estimated_arrival, dt.date.today()) + dt.timedelta(days=10)
    at.selectbox(key=f"transit_event_kind_{sid}").set_value("delayed")
    at.date_input(key=f"transit_event_date_{sid}").set_value(new)
    _click(at, f"FormSubmitter:transit_event_{sid}-Record event")
    assert _errors(at) == []
    with read_connection(db) as conn:
        estimate = conn.execute(
            select(Backorder.estimated_date).where(Backorder.id == waiting.backorder_id)
        ).scalar_one()
        notices = conn.execute(  # the customer's notice is addressed to the customer
            select(Notification.subject).where(
                Notification.role == "customer",
                Notification.customer_id == waiting.customer_id,
                Notification.ref_id == waiting.backorder_id,
            )
        ).all()
    assert estimate > waiting.estimated_date
    assert len(notices) == 1 and f"now expected {day(estimate)}" in notices[0][0]


def test_messages_to_a_carrier_and_a_customer(db):
    at = app_test(PAGE, "logistics")
    at.session_state["transit_only_bo"] = False
    at.session_state["transit_tab"] = "Outbound"  # only the open tab is drawn
    _run(at)
    sid = at.selectbox(key="transit_outbound_pick").value
    form = f"FormSubmitter:transit_message_{sid}-Record message"
    before = snapshot(db)
    _click(at, form)
    assert "The subject is required." in _errors(at)
    assert snapshot(db) == before
    at.text_input(key=f"transit_msg_subject_{sid}").input("Van breakdown")
    _click(at, form)
    at.selectbox(key=f"transit_msg_to_{sid}").set_value("customer")
    at.text_input(key=f"transit_msg_subject_{sid}").input("Your delivery is a day late")
    _click(at, form)
    assert _errors(at) == []
    with read_connection(db) as conn:
        recorded = conn.execute(
            select(Communication.carrier_id, Communication.customer_id, Communication.subject)
            .where(Communication.shipment_id == sid)
            .order_by(Communication.id)
        ).all()
        mails = conn.execute(
            select(Notification.email_to).where(
                Notification.kind == "message", Notification.ref_id == sid
            )
        ).all()
    assert [r[2] for r in recorded] == ["Van breakdown", "Your delivery is a day late"]
    shown = [d.value for d in at.dataframe if "subject" in d.value.columns]
    assert shown and list(shown[0]["subject"]) == ["Your delivery is a day late", "Van breakdown"]
    assert recorded[0][0] is not None and recorded[1][1] is not None
    assert len(mails) >= 2 and all(m[0] for m in mails[:1])


@pytest.mark.parametrize("username", ["buyer", "manager", "customer1", None])
def test_others_are_refused(db, username):
    at = _run(app_test(PAGE, username))
    assert [t.value for t in at.title] != ["In transit"]
    assert at.metric == []


def test_only_the_open_tab_is_drawn(db):
    at = _run(app_test(PAGE, "logistics"))
    assert "transit_outbound_pick" not in [b.key for b in at.selectbox]
    assert not [d for d in at.dataframe if "quoted_days" in d.value.columns]
    at.session_state["transit_tab"] = "Carriers"
    _run(at)
    (carriers,) = [d.value for d in at.dataframe if "quoted_days" in d.value.columns]
    assert len(carriers) > 0


def test_the_carrier_filter_keeps_that_carriers_shipments_in_both_tables(db):
    at = app_test(PAGE, "logistics")
    at.session_state["transit_only_filling"] = False
    at.session_state["transit_only_bo"] = False
    _run(at)
    inbound = shipments.inbound_in_transit(db)
    outbound = shipments.outbound_in_transit(db, only_backordered=False)
    carrier = int(outbound["carrier_id"].mode()[0])
    assert 0 < (outbound["carrier_id"] == carrier).sum() < len(outbound)
    at.session_state["transit_carrier"] = carrier
    _run(at)
    (table,) = [d.value for d in at.dataframe if "po_number" in d.value.columns]
    mine = inbound[inbound["carrier_id"] == carrier]
    assert list(table["shipment"]) == list(mine["shipment"])
    assert at.selectbox(key="transit_inbound_pick").options == [
        f"{r.shipment} — {r.po_number}, {r.supplier} (arrives {r.estimated_arrival})"
        for r in mine.itertuples()
    ]
    at.session_state["transit_tab"] = "Outbound"
    _run(at)
    (table,) = [d.value for d in at.dataframe if "order_number" in d.value.columns]
    mine = outbound[outbound["carrier_id"] == carrier]
    assert list(table["shipment"]) == list(mine["shipment"])
    assert list(table["estimated_arrival"].dt.date) == list(mine["estimated_arrival"])
    assert len(at.selectbox(key="transit_outbound_pick").options) == len(mine)
