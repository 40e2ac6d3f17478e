"""Feedback, recorded communications and notifications."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from data.db import write_session
from data.schema import Communication, Feedback, Notification, User, UserRole
from operations import (
    NotFound,
    ValidationError,
    mark_read,
    notify,
    place_order,
    record_communication,
    record_feedback,
)
from tests import operations_world
from tests.operations_world import assert_refused, fetch_rows

# Shared fixtures, assigned so pytest finds them by name in this module.
world = operations_world.world
sworld = operations_world.sworld

NOW = dt.datetime(2026, 3, 10, 9, 30)


def _order(engine, world, tier="gold"):
    return place_order(
        engine, customer_id=world.customers[tier], lines=[("OIL-5L", 1)], actor="a"
    ).order_id


# --- feedback ------------------------------------------------------------------------------


def test_record_feedback_stores_scores_and_comment(engine, world):
    order_id = _order(engine, world)
    feedback_id = record_feedback(
        engine,
        customer_id=world.customers["gold"],
        actor="gold-buyer",
        csat=4,
        nps=9,
        comment=" Late butter again ",
        order_id=order_id,
        now=NOW,
    )
    assert fetch_rows(
        engine,
        select(Feedback.id, Feedback.csat, Feedback.nps, Feedback.comment, Feedback.order_id),
    ) == [(feedback_id, 4, 9, "Late butter again", order_id)]


def test_a_comment_alone_is_enough(sqlite_engine, sworld):
    record_feedback(
        sqlite_engine, customer_id=sworld.customers["gold"], actor="g", comment="Great service"
    )
    assert fetch_rows(sqlite_engine, select(Feedback.csat, Feedback.nps)) == [(None, None)]


@pytest.mark.parametrize(
    ("changes", "error", "fragment"),
    [
        ({"csat": 0}, ValidationError, "CSAT must be at least 1, not 0."),
        ({"csat": 6}, ValidationError, "CSAT must be between 1 and 5, not 6."),
        ({"csat": 3.5}, ValidationError, "CSAT must be a whole number, not 3.5"),
        ({"nps": -1}, ValidationError, "NPS must be at least 0, not -1."),
        ({"nps": 11}, ValidationError, "NPS must be between 0 and 10, not 11."),
        ({"csat": None}, ValidationError, "Give a CSAT score, an NPS score or a comment"),
        ({"customer_id": 77}, NotFound, "Customer 77 does not exist."),
    ],
)
def test_bad_feedback_is_refused(sqlite_engine, sworld, changes, error, fragment):
    arguments = {"customer_id": sworld.customers["gold"], "actor": "g", "csat": 4} | changes
    assert_refused(
        sqlite_engine, lambda: record_feedback(sqlite_engine, **arguments), error, fragment
    )


def test_feedback_on_another_customers_order_is_refused(engine, world):
    silver_order = _order(engine, world, "silver")
    assert_refused(
        engine,
        lambda: record_feedback(
            engine, customer_id=world.customers["gold"], actor="g", csat=2, order_id=silver_order
        ),
        NotFound,
        f"Order {silver_order} is not an order of this customer.",
    )


# --- communications ------------------------------------------------------------------------


def test_record_communication_with_a_customer(engine, world):
    order_id = _order(engine, world)
    answered = NOW + dt.timedelta(minutes=12)
    record_communication(
        engine,
        actor="cs.carl",
        channel="phone",
        subject="Where is my butter?",
        body="Told them Friday.",
        customer_id=world.customers["gold"],
        order_id=order_id,
        direction="inbound",
        answered_at=answered,
        now=NOW,
    )
    assert fetch_rows(
        engine,
        select(
            Communication.actor,
            Communication.channel,
            Communication.direction,
            Communication.created_at,
            Communication.answered_at,
        ),
    ) == [("cs.carl", "phone", "inbound", NOW, answered)]


def test_record_communication_with_a_carrier(sqlite_engine, sworld):
    record_communication(
        sqlite_engine, actor="lou", channel="email", subject="Delay?", carrier_id=sworld.carrier
    )
    assert fetch_rows(sqlite_engine, select(Communication.carrier_id)) == [(sworld.carrier,)]


@pytest.mark.parametrize(
    ("changes", "error", "fragment"),
    [
        ({"channel": "fax"}, ValidationError, "Channel must be one of phone, email"),
        ({"direction": "sideways"}, ValidationError, "Direction must be one of inbound, outbound"),
        ({"subject": ""}, ValidationError, "The subject is required."),
        (
            {"customer_id": None},
            ValidationError,
            "Say who it was with: a customer, a carrier or a supplier.",
        ),
        ({"customer_id": 55}, NotFound, "Customer 55 does not exist."),
        ({"carrier_id": 8}, NotFound, "Carrier 8 does not exist."),
        ({"answered_at": "soon"}, ValidationError, "The answer time must be a date and time"),
    ],
)
def test_bad_communications_are_refused(sqlite_engine, sworld, changes, error, fragment):
    arguments = {
        "actor": "cs",
        "channel": "phone",
        "subject": "Call",
        "customer_id": sworld.customers["gold"],
    } | changes
    assert_refused(
        sqlite_engine, lambda: record_communication(sqlite_engine, **arguments), error, fragment
    )


# --- notifications -------------------------------------------------------------------------


def _user_with_role(engine, username, role):
    with write_session(engine) as session:
        user = User(
            username=username, name=username, email=f"{username}@x.example", password_hash="x"
        )
        session.add(user)
        session.flush()
        session.add(UserRole(user_id=user.id, role=role))
        return user.id


def _notifications(engine, **targets):
    with write_session(engine) as session:
        ids = []
        for kind, target in targets.items():
            ids.append(notify(session, kind=kind, subject=kind, body="", **target))
        session.flush()
        return [n.id for n in ids]


def test_mark_read_marks_own_and_role_notifications(engine, world):
    pam = _user_with_role(engine, "pam", "purchasing_manager")
    own, for_role = _notifications(
        engine, direct={"user_id": pam}, po_drafted={"role": "purchasing_manager"}
    )
    assert mark_read(engine, notification_ids=[own, for_role], user_id=pam) == 2
    assert all(
        read_at is not None for (read_at,) in fetch_rows(engine, select(Notification.read_at))
    )


def test_notify_with_an_email_waits_in_the_outbox(sqlite_engine, sworld):
    _notifications(sqlite_engine, mail={"email_to": "a@b.example"}, app={"role": "owner"})
    assert fetch_rows(sqlite_engine, select(Notification.kind, Notification.status)) == [
        ("mail", "pending"),
        ("app", "in_app"),
    ]


def test_marking_someone_elses_notification_is_refused(sqlite_engine, sworld):
    pam = _user_with_role(sqlite_engine, "pam", "purchasing_manager")
    wes = _user_with_role(sqlite_engine, "wes", "warehouse_operator")
    (theirs,) = _notifications(sqlite_engine, direct={"user_id": wes})
    assert_refused(
        sqlite_engine,
        lambda: mark_read(sqlite_engine, notification_ids=[theirs], user_id=pam),
        NotFound,
        f"Notification {theirs} is not one of yours: nothing was marked.",
    )


def test_mark_read_needs_a_notification(sqlite_engine, sworld):
    pam = _user_with_role(sqlite_engine, "pam", "purchasing_manager")
    assert_refused(
        sqlite_engine,
        lambda: mark_read(sqlite_engine, notification_ids=[], user_id=pam),
        ValidationError,
        "Choose at least one notification to mark as read.",
    )
