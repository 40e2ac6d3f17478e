"""Tracking of shipments in both directions: the carrier's events and what they change.

A delay (or a failed delivery with a new date) moves the shipment's estimated arrival. For an
inbound shipment that moves the purchase order's expected date too, so every backorder waiting
on the products is re-estimated; for an outbound one the order's delivery moves. Either way the
customers concerned and their sales representatives are told.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from data.db import write_session
from data.schema import (
    Backorder,
    Customer,
    Order,
    PurchaseOrder,
    PurchaseOrderLine,
    Shipment,
    ShipmentEvent,
    User,
    utcnow,
)
from models.promise import reestimate_open_backorders
from operations import audit
from operations.errors import InvalidState, NotFound, ValidationError
from operations.notifications import notify
from operations.promises import tell_about_slips
from operations.stock import lock_stock
from operations.transactions import write_operation
from operations.validation import a_date, actor_name, identifier, one_of, optional_moment, text
from operations.warehouse import mark_delivered

TRACKING_EVENTS = ("picked_up", "in_transit", "delayed", "delivered", "failed")
EVENT_LABELS = {
    "picked_up": "Picked up",
    "in_transit": "In transit",
    "delayed": "Delayed",
    "delivered": "Delivered",
    "failed": "Delivery failed",
}
CLOSED_STATUSES = ("delivered", "cancelled")
# A purchase order whose date a carrier can still move (goods not all in).
MOVABLE_PO_STATUSES = ("approved", "sent", "partially_received")


@write_operation
def record_tracking_event(
    engine: Engine,
    *,
    shipment_id: int,
    kind: str,
    actor: str,
    new_date: dt.date | None = None,
    note: str = "",
    now: dt.datetime | None = None,
) -> int:
    """Record what the carrier reports; returns the notifications sent about a new date.

    ``delayed`` needs the new estimated arrival (later than the current one); ``failed`` may
    give one (the next attempt). ``delivered`` closes the shipment (and its order when all of
    the order's shipments are delivered).
    """
    actor = actor_name(actor)
    shipment_id = identifier(shipment_id, "Shipment")
    kind = one_of(kind, TRACKING_EVENTS, "Tracking event")
    note = text(note, "The note", max_length=300, required=False)
    now = optional_moment(now, "The time of the event") or utcnow()
    today = now.date()
    if new_date is not None:
        new_date = a_date(new_date, "The new estimated arrival")
        if new_date < today:
            raise ValidationError(
                f"The new estimated arrival {new_date.isoformat()} is in the past: give the "
                "date the carrier now expects."
            )
    if kind == "delayed" and new_date is None:
        raise ValidationError("A delay needs the new estimated arrival the carrier gave.")
    if kind not in ("delayed", "failed") and new_date is not None:
        raise ValidationError(
            f"Only a delay or a failed delivery moves the arrival date, not {EVENT_LABELS[kind]}."
        )
    if kind == "delivered":
        mark_delivered(engine, shipment_id=shipment_id, actor=actor, now=now)
        return 0
    with write_session(engine) as session:
        shipment = _locked_shipment(session, shipment_id)
        before = {"status": shipment.status, "estimated_arrival": shipment.estimated_arrival}
        current = shipment.estimated_arrival
        if kind == "delayed" and current is not None and new_date <= current:
            raise ValidationError(
                f"{shipment.number} is already expected {current}: a delay must give a later "
                f"date than that, not {new_date}."
            )
        if kind in ("picked_up", "in_transit"):
            shipment.status = "in_transit"
            shipment.shipped_at = shipment.shipped_at or now
        else:
            shipment.status = "delayed"
        event_note = note or EVENT_LABELS[kind]
        if new_date is not None:
            event_note = f"{event_note} (new estimate {new_date.isoformat()})"[:300]
        session.add(ShipmentEvent(shipment_id=shipment.id, at=now, kind=kind, note=event_note))
        old_date = shipment.estimated_arrival
        if new_date is not None:
            shipment.estimated_arrival = new_date
        audit.record(
            session,
            actor=actor,
            action="record_tracking_event",
            entity="shipment",
            entity_id=shipment.id,
            before=before,
            after={
                "event": kind,
                "status": shipment.status,
                "estimated_arrival": shipment.estimated_arrival,
            },
            note=note,
            at=now,
        )
        if new_date is None or new_date == old_date:
            return 0
        if shipment.direction == "inbound" and shipment.po_id is not None:
            return _move_inbound(session, shipment, new_date, actor, now)
        if shipment.order_id is not None:
            return _tell_order_moved(session, shipment, old_date, new_date)
        return 0


def _locked_shipment(session: Session, shipment_id: int) -> Shipment:
    shipment = session.execute(
        select(Shipment)
        .where(Shipment.id == shipment_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if shipment is None:
        raise NotFound(f"Shipment {shipment_id} does not exist.")
    if shipment.status in CLOSED_STATUSES:
        raise InvalidState(
            f"Shipment {shipment.number} is already {shipment.status}: nothing more to track."
        )
    return shipment


def _move_inbound(
    session: Session, shipment: Shipment, new_date: dt.date, actor: str, now: dt.datetime
) -> int:
    """The PO follows its shipment; waiting backorders are re-estimated and their people told."""
    po = session.execute(
        select(PurchaseOrder)
        .where(PurchaseOrder.id == shipment.po_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).scalar_one()
    if po.status not in MOVABLE_PO_STATUSES:
        return 0
    before = po.expected_date
    po.expected_date = new_date
    audit.record(
        session,
        actor=actor,
        action="set_po_expected_date",
        entity="purchase_order",
        entity_id=po.id,
        before={"expected_date": before},
        after={"expected_date": new_date},
        note=f"carrier update on {shipment.number}",
        at=now,
    )
    products = session.scalars(
        select(PurchaseOrderLine.product_id).where(PurchaseOrderLine.po_id == po.id)
    ).all()
    session.flush()
    lock_stock(session, products, po.warehouse_id)
    changes = reestimate_open_backorders(session, sorted(set(products)), now.date())
    # Every customer whose date moved later hears of it, not only those past their promise.
    later = [
        (session.get(Backorder, c.backorder_id), c.old_likely)
        for c in changes
        if c.old_likely is not None and c.new_likely > c.old_likely
    ]
    return tell_about_slips(session, later)


def _tell_order_moved(
    session: Session, shipment: Shipment, old: dt.date | None, new: dt.date
) -> int:
    """The customer's users and their sales representative hear that the delivery moved."""
    order = session.get(Order, shipment.order_id)
    customer = session.get(Customer, order.customer_id)
    subject = f"Delivery of {order.number} for {customer.name} now expected {new.isoformat()}"
    body = (
        f"Shipment {shipment.number} was expected {old.isoformat() if old else 'earlier'}; the "
        f"carrier now expects to deliver it on {new.isoformat()}."
    )
    if shipment.promised_date is not None and new > shipment.promised_date:
        body += f" That is after the date promised, {shipment.promised_date.isoformat()}."
    recipients = list(session.scalars(select(User).where(User.customer_id == customer.id)).all())
    if customer.sales_rep_id is not None:
        recipients += session.scalars(
            select(User).where(User.sales_rep_id == customer.sales_rep_id)
        ).all()
    sent = 0
    for user in recipients:
        if not user.active:
            continue
        notify(
            session,
            kind="delivery_moved",
            subject=subject,
            body=body,
            user_id=user.id,
            customer_id=customer.id,
            email_to=user.email or None,
            ref_type="shipment",
            ref_id=shipment.id,
        )
        sent += 1
    notify(
        session,
        kind="delivery_moved",
        subject=subject,
        body=body,
        role="customer_service",
        customer_id=customer.id,
        ref_type="shipment",
        ref_id=shipment.id,
    )
    return sent + 1
