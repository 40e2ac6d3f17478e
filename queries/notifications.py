"""Reads of the in-app inbox: a user's own messages and those sent to one of their roles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, func, or_, select

from data.schema import Notification


@dataclass(frozen=True)
class InboxMessage:
    notification_id: int
    created_at: dt.datetime
    kind: str
    subject: str
    body: str
    read_at: dt.datetime | None
    for_role: str | None


def _addressed_to(
    user_id: int, roles: Iterable[str], customer_id: int | None
) -> ColumnElement[bool]:
    roles = sorted(set(roles))
    to_user = Notification.user_id == user_id
    if not roles:
        return to_user
    # A role message has no single addressee: everyone holding the role sees it, except that a
    # message to the customer role about one customer is seen only by that customer's users.
    to_role = Notification.user_id.is_(None) & Notification.role.in_(roles)
    for_customers = Notification.role == "customer"
    mine = (
        Notification.customer_id.is_(None)
        if customer_id is None
        else or_(Notification.customer_id.is_(None), Notification.customer_id == customer_id)
    )
    to_role = to_role & or_(~for_customers, mine)
    return or_(to_user, to_role)


def unread_count(
    conn: Connection, user_id: int, roles: Iterable[str], customer_id: int | None = None
) -> int:
    """How many messages for this user or their roles are not read yet."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(Notification)
            .where(_addressed_to(user_id, roles, customer_id), Notification.read_at.is_(None))
        ).scalar_one()
    )


def inbox_messages(
    conn: Connection,
    user_id: int,
    roles: Iterable[str],
    customer_id: int | None = None,
    *,
    unread_only: bool = False,
    limit: int = 50,
) -> list[InboxMessage]:
    """The newest messages for this user or their roles, newest first."""
    query = select(
        Notification.id,
        Notification.created_at,
        Notification.kind,
        Notification.subject,
        Notification.body,
        Notification.read_at,
        Notification.role,
    ).where(_addressed_to(user_id, roles, customer_id))
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    rows = conn.execute(
        query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    )
    return [
        InboxMessage(
            notification_id=r.id,
            created_at=r.created_at,
            kind=r.kind,
            subject=r.subject,
            body=r.body,
            read_at=r.read_at,
            for_role=r.role,
        )
        for r in rows
    ]
