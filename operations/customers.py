"""What customers tell us and what we tell them: feedback and recorded communications."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from data.db import write_session
from data.schema import CHANNELS, Carrier, Communication, Customer, Feedback, Order, utcnow
from models.sentiment import sentiment_score
from operations import audit, notification_rules
from operations.errors import NotFound, ValidationError
from operations.transactions import write_operation
from operations.validation import (
    actor_name,
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
            sentiment=sentiment_score(comment) if comment else None,
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
) -> int:
    """Record a call, mail or message with a customer or carrier; returns its id."""
    actor = actor_name(actor)
    channel = one_of(channel, CHANNELS, "Channel")
    direction = one_of(direction, DIRECTIONS, "Direction")
    subject = text(subject, "The subject", max_length=200)
    body = text(body, "The message", max_length=20000, required=False, multiline=True)
    if customer_id is None and carrier_id is None:
        raise ValidationError("Say who it was with: a customer or a carrier.")
    customer_id = optional_identifier(customer_id, "Customer")
    carrier_id = optional_identifier(carrier_id, "Carrier")
    order_id = optional_identifier(order_id, "Order")
    now = optional_moment(now, "The time of the message") or utcnow()
    answered_at = optional_moment(answered_at, "The answer time")
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
