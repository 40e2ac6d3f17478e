"""What customers tell us and what we tell them: feedback and recorded communications.

A communication may be with a customer, a carrier or a supplier; with ``send=True`` an outbound
message is also handed to its recipient: the customer's users get it in the app (and by mail
from the outbox), a carrier or supplier by mail at the address on file.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from data.db import write_session
from data.schema import (
    CHANNELS,
    Backorder,
    Carrier,
    Communication,
    Customer,
    Feedback,
    Order,
    OrderLine,
    Product,
    PurchaseOrder,
    Shipment,
    Supplier,
    User,
    utcnow,
)
from models.sentiment import feedback_scores
from operations import audit, notification_rules
from operations.errors import InvalidState, NotFound, ValidationError
from operations.notifications import notify
from operations.transactions import write_operation
from operations.validation import (
    actor_name,
    flag,
    identifier,
    one_of,
    optional_identifier,
    optional_moment,
    text,
    whole_number,
)

DIRECTIONS = ("inbound", "outbound")


def _score(value: object, what: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    score = whole_number(value, what, minimum=low)
    if score > high:
        raise ValidationError(f"{what} must be between {low} and {high}, not {score:,}.")
    return score


def _check_order(session: Session, order_id: int | None, customer_id: int | None) -> None:
    """Refuse an order that does not exist or belongs to another customer than the one named."""
    if order_id is None:
        return
    order = session.get(Order, order_id)
    if order is None or (customer_id is not None and order.customer_id != customer_id):
        raise NotFound(f"Order {order_id} is not an order of this customer.")


@write_operation
def record_feedback(
    engine: Engine,
    *,
    customer_id: int,
    actor: str,
    csat: int | None = None,
    nps: int | None = None,
    comment: str = "",
    order_id: int | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Store a customer's CSAT (1-5), NPS (0-10) and/or comment; returns the feedback id."""
    actor = actor_name(actor)
    customer_id = identifier(customer_id, "Customer")
    csat = _score(csat, "CSAT", 1, 5)
    nps = _score(nps, "NPS", 0, 10)
    comment = text(comment, "The comment", max_length=4000, required=False, multiline=True)
    if csat is None and nps is None and not comment:
        raise ValidationError("Give a CSAT score, an NPS score or a comment (at least one).")
    order_id = optional_identifier(order_id, "Order")
    now = optional_moment(now, "The time of the feedback") or utcnow()
    with write_session(engine) as session:
        if session.get(Customer, customer_id) is None:
            raise NotFound(f"Customer {customer_id} does not exist.")
        _check_order(session, order_id, customer_id)
        feedback = Feedback(
            created_at=now,
            customer_id=customer_id,
            order_id=order_id,
            csat=csat,
            nps=nps,
            comment=comment,
            sentiment=float(feedback_scores(session, [comment])[0]) if comment else None,
        )
        session.add(feedback)
        session.flush()
        notification_rules.feedback_received(session, feedback, now)
        audit.record(
            session,
            actor=actor,
            action="record_feedback",
            entity="feedback",
            entity_id=feedback.id,
            after={"customer_id": customer_id, "csat": csat, "nps": nps, "order_id": order_id},
            at=now,
        )
        return feedback.id


@write_operation
def record_communication(
    engine: Engine,
    *,
    actor: str,
    channel: str,
    subject: str,
    body: str = "",
    customer_id: int | None = None,
    carrier_id: int | None = None,
    order_id: int | None = None,
    direction: str = "outbound",
    answered_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
    supplier_id: int | None = None,
    po_id: int | None = None,
    shipment_id: int | None = None,
    send: bool = False,
) -> int:
    """Record a call, mail or message with a customer, carrier or supplier; returns its id.

    ``po_id`` and ``shipment_id`` say what it was about. With ``send`` an outbound message is
    also delivered (see the module note); a recipient without an address is refused.
    """
    actor = actor_name(actor)
    channel = one_of(channel, CHANNELS, "Channel")
    direction = one_of(direction, DIRECTIONS, "Direction")
    subject = text(subject, "The subject", max_length=200)
    body = text(body, "The message", max_length=20000, required=False, multiline=True)
    if customer_id is None and carrier_id is None and supplier_id is None:
        raise ValidationError("Say who it was with: a customer, a carrier or a supplier.")
    customer_id = optional_identifier(customer_id, "Customer")
    carrier_id = optional_identifier(carrier_id, "Carrier")
    supplier_id = optional_identifier(supplier_id, "Supplier")
    order_id = optional_identifier(order_id, "Order")
    po_id = optional_identifier(po_id, "Purchase order")
    shipment_id = optional_identifier(shipment_id, "Shipment")
    send = flag(send, "Send")
    if send and direction != "outbound":
        raise ValidationError("Only an outbound message can be sent; record inbound ones.")
    now = optional_moment(now, "The time of the message") or utcnow()
    answered_at = optional_moment(answered_at, "The answer time")
    with write_session(engine) as session:
        if customer_id is not None and session.get(Customer, customer_id) is None:
            raise NotFound(f"Customer {customer_id} does not exist.")
        if carrier_id is not None and session.get(Carrier, carrier_id) is None:
            raise NotFound(f"Carrier {carrier_id} does not exist.")
        supplier = None if supplier_id is None else session.get(Supplier, supplier_id)
        if supplier_id is not None and supplier is None:
            raise NotFound(f"Supplier {supplier_id} does not exist.")
        _check_order(session, order_id, customer_id)
        if po_id is not None:
            po = session.get(PurchaseOrder, po_id)
            if po is None or (supplier_id is not None and po.supplier_id != supplier_id):
                raise NotFound(f"Purchase order {po_id} is not a purchase order of this supplier.")
        if shipment_id is not None and session.get(Shipment, shipment_id) is None:
            raise NotFound(f"Shipment {shipment_id} does not exist.")
        communication = Communication(
            created_at=now,
            customer_id=customer_id,
            carrier_id=carrier_id,
            supplier_id=supplier_id,
            order_id=order_id,
            po_id=po_id,
            shipment_id=shipment_id,
            actor=actor,
            channel=channel,
            direction=direction,
            subject=subject,
            body=body,
            answered_at=answered_at,
        )
        session.add(communication)
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="record_communication",
            entity="communication",
            entity_id=communication.id,
            after={
                "channel": channel,
                "subject": subject,
                "customer_id": customer_id,
                "carrier_id": carrier_id,
                "supplier_id": supplier_id,
                "sent": bool(send),
            },
            at=now,
        )
        if send:
            _deliver(session, communication, supplier)
        return communication.id


def _deliver(session: Session, message: Communication, supplier: Supplier | None) -> int:
    """Hand an outbound message to its recipients; returns the notifications queued."""
    ref = (
        ("shipment", message.shipment_id)
        if message.shipment_id
        else ("purchase_order", message.po_id)
        if message.po_id
        else ("order", message.order_id)
        if message.order_id
        else (None, None)
    )
    queued = []
    if message.customer_id is not None:
        users = session.scalars(
            select(User).where(User.customer_id == message.customer_id, User.active.is_(True))
        ).all()
        customer = session.get(Customer, message.customer_id)
        for user in users:
            queued.append(dict(user_id=user.id, email_to=user.email or None))
        if not users and customer.email:
            queued.append(dict(email_to=customer.email))
        if not queued:
            raise ValidationError(
                f"{customer.name} has no login and no mail address: record the call instead."
            )
        for target in queued:
            target["customer_id"] = customer.id
    for partner in (
        session.get(Carrier, message.carrier_id) if message.carrier_id else None,
        supplier,
    ):
        if partner is None:
            continue
        if not partner.email:
            raise ValidationError(
                f"{partner.name} has no mail address on file: record the call instead."
            )
        queued.append(dict(email_to=partner.email))
    for target in queued:
        notify(
            session,
            kind="message",
            subject=message.subject,
            body=message.body,
            ref_type=ref[0],
            ref_id=ref[1],
            **target,
        )
    return len(queued)


def mark_answered(
    engine: Engine,
    *,
    communication_id: int,
    actor: str,
    now: dt.datetime | None = None,
) -> dt.datetime:
    """Mark an inbound question answered now; its response time runs from when it came in."""
    actor = actor_name(actor)
    communication_id = identifier(communication_id, "Message")
    now = optional_moment(now, "The time") or utcnow()
    with write_session(engine) as session:
        message = session.get(Communication, communication_id)
        if message is None:
            raise NotFound(f"Message {communication_id} does not exist.")
        if message.direction != "inbound":
            raise InvalidState(
                f"Message {communication_id} went out from us: only questions that came in are answered."
            )
        if message.answered_at is not None:
            raise InvalidState(
                f"Message {communication_id} was answered already at {message.answered_at:%Y-%m-%d %H:%M}."
            )
        if now < message.created_at:
            raise ValidationError("The answer cannot come before the question.")
        message.answered_at = now
        audit.record(
            session,
            actor=actor,
            action="mark_answered",
            entity="communication",
            entity_id=message.id,
            before={"answered_at": None},
            after={"answered_at": now.isoformat()},
            at=now,
        )
        return now


@write_operation
def send_backorder_update(
    engine: Engine,
    *,
    customer_id: int,
    actor: str,
    sales_rep_id: int | None = None,
    now: dt.datetime | None = None,
) -> tuple[int, int]:
    """Tell a customer every open backorder and its current date, by mail.

    Recorded as an outbound e-mail in communications and queued through ``notify`` with the
    customer's address (the outbox sends it). With ``sales_rep_id`` only that representative's
    customers may be written to. Returns (communication id, notification id).
    """
    actor = actor_name(actor)
    customer_id = identifier(customer_id, "Customer")
    sales_rep_id = optional_identifier(sales_rep_id, "Sales representative")
    now = optional_moment(now, "The time") or utcnow()
    with write_session(engine) as session:
        customer = session.get(Customer, customer_id)
        if customer is None or (sales_rep_id is not None and customer.sales_rep_id != sales_rep_id):
            raise NotFound(f"Customer {customer_id} is not one of your customers.")
        if not customer.email:
            raise InvalidState(
                f"{customer.name} has no e-mail address on file: call them and record the call."
            )
        rows = session.execute(
            select(
                Order.number,
                Product.sku,
                Product.name,
                Backorder.qty_open,
                Backorder.promised_date,
                Backorder.estimated_date,
                Backorder.estimated_late_date,
            )
            .join(OrderLine, OrderLine.id == Backorder.order_line_id)
            .join(Order, Order.id == OrderLine.order_id)
            .join(Product, Product.id == Backorder.product_id)
            .where(Backorder.customer_id == customer_id, Backorder.status == "open")
            .order_by(Backorder.estimated_date, Order.number, Product.sku)
        ).all()
        if not rows:
            raise InvalidState(
                f"{customer.name} has no open backorders: there is nothing to report."
            )
        subject = f"Your {len(rows)} backordered item{'s' if len(rows) != 1 else ''}: current dates"
        lines = [f"Dear {customer.name},", "", "Where your backordered goods stand today:", ""]
        for number, sku, name, qty, promised, likely, late in rows:
            lines.append(
                f"- {number} {sku} {name}: {qty} units, expected {likely or 'not yet known'}"
                f" (at the latest {late or 'not yet known'}; first promised {promised or '-'})"
            )
        lines += ["", "Reply to this mail or call us if you would like an alternative."]
        body = "\n".join(lines)
        message = Communication(
            created_at=now,
            customer_id=customer_id,
            actor=actor,
            channel="email",
            direction="outbound",
            subject=subject,
            body=body,
        )
        session.add(message)
        session.flush()
        mail = notify(
            session,
            kind="backorder_update",
            subject=subject,
            body=body,
            customer_id=customer_id,
            email_to=customer.email,
            ref_type="communication",
            ref_id=message.id,
        )
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="send_backorder_update",
            entity="communication",
            entity_id=message.id,
            after={"customer_id": customer_id, "backorders": len(rows), "email_to": customer.email},
            at=now,
        )
        return message.id, mail.id
