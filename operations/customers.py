"""What customers tell us and what we tell them: feedback and recorded communications."""

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
    utcnow,
)
from operations import audit
from operations.errors import InvalidState, NotFound, ValidationError
from operations.notifications import notify
from operations.validation import actor_name, identifier, one_of, text, whole_number

DIRECTIONS = ("inbound", "outbound")


def _score(value: object, what: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    score = whole_number(value, what, minimum=low)
    if score > high:
        raise ValidationError(f"{what} must be between {low} and {high}, not {score}.")
    return score


def _check_order(session: Session, order_id: int | None, customer_id: int | None) -> None:
    """Refuse an order that does not exist or belongs to another customer than the one named."""
    if order_id is None:
        return
    order = session.get(Order, order_id)
    if order is None or (customer_id is not None and order.customer_id != customer_id):
        raise NotFound(f"Order {order_id} is not an order of this customer.")


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
    comment = text(comment, "The comment", max_length=4000, required=False)
    if csat is None and nps is None and not comment:
        raise ValidationError("Give a CSAT score, an NPS score or a comment (at least one).")
    if order_id is not None:
        order_id = identifier(order_id, "Order")
    now = now or utcnow()
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
        )
        session.add(feedback)
        session.flush()
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
) -> int:
    """Record a call, mail or message with a customer or carrier; returns its id."""
    actor = actor_name(actor)
    channel = one_of(channel, CHANNELS, "Channel")
    direction = one_of(direction, DIRECTIONS, "Direction")
    subject = text(subject, "The subject", max_length=200)
    body = text(body, "The message", max_length=20000, required=False)
    if customer_id is None and carrier_id is None:
        raise ValidationError("Say who it was with: a customer or a carrier.")
    customer_id = None if customer_id is None else identifier(customer_id, "Customer")
    carrier_id = None if carrier_id is None else identifier(carrier_id, "Carrier")
    order_id = None if order_id is None else identifier(order_id, "Order")
    now = now or utcnow()
    if answered_at is not None and not isinstance(answered_at, dt.datetime):
        raise ValidationError(f"The answer time must be a date and time, not {answered_at!r}.")
    with write_session(engine) as session:
        if customer_id is not None and session.get(Customer, customer_id) is None:
            raise NotFound(f"Customer {customer_id} does not exist.")
        if carrier_id is not None and session.get(Carrier, carrier_id) is None:
            raise NotFound(f"Carrier {carrier_id} does not exist.")
        _check_order(session, order_id, customer_id)
        communication = Communication(
            created_at=now,
            customer_id=customer_id,
            carrier_id=carrier_id,
            order_id=order_id,
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
            after={"channel": channel, "subject": subject, "customer_id": customer_id},
            at=now,
        )
        return communication.id


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
    now = now or utcnow()
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
    if sales_rep_id is not None:
        sales_rep_id = identifier(sales_rep_id, "Sales representative")
    now = now or utcnow()
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
                Backorder.qty - Backorder.qty_filled - Backorder.qty_cancelled,
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
