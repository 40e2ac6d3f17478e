"""In-app notifications (and mail to send from the outbox) for users, roles and customers."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, insert, or_, select, update
from sqlalchemy.orm import Session

from data.db import write_session
from data.schema import Notification, User, UserRole, utcnow
from operations.errors import NotFound, ValidationError
from operations.outbox import INSERT_MESSAGES, has_webhooks, mail_values, queue_mail, queue_webhooks
from operations.transactions import write_operation
from operations.validation import id_list, identifier


def notify(
    session: Session,
    *,
    kind: str,
    subject: str,
    body: str,
    user_id: int | None = None,
    role: str | None = None,
    customer_id: int | None = None,
    email_to: str | None = None,
    ref_type: str | None = None,
    ref_id: int | None = None,
    created_at: dt.datetime | None = None,
    dedup_key: str | None = None,
    about_date: dt.date | None = None,
) -> Notification:
    """Add a notification inside the caller's transaction; with ``email_to`` it waits in the outbox.

    The mail goes through the outbox (status ``pending`` until the dispatcher sends it); a
    customer who opted out of mail, or a stored address that is not one, keeps the notice in-app
    only: a business change must not fail because of a mail setting. Webhooks subscribed to
    ``kind`` get a delivery queued in the same transaction.
    """
    notification = Notification(
        created_at=created_at or utcnow(),
        dedup_key=dedup_key,
        about_date=about_date,
        kind=kind[:30],
        user_id=user_id,
        role=role,
        customer_id=customer_id,
        subject=subject[:200],
        body=body,
        email_to=email_to,
        status="in_app",
        ref_type=ref_type,
        ref_id=ref_id,
    )
    session.add(notification)
    if not email_to and not has_webhooks(session, notification.kind):
        return notification  # nothing refers to it yet: inserted with the transaction's next flush
    session.flush()
    if email_to:
        try:
            queued = queue_mail(
                session,
                to=email_to,
                subject=notification.subject,
                text=body or notification.subject,
                ref_type="notification",
                ref_id=notification.id,
                customer_id=customer_id,
            )
        except ValidationError:
            queued = None
        if queued is not None:
            notification.status = "pending"
    queue_webhooks(
        session,
        event=notification.kind,
        payload={
            "notification_id": notification.id,
            "kind": notification.kind,
            "subject": notification.subject,
            "body": body,
            "role": role,
            "user_id": user_id,
            "customer_id": customer_id,
            "ref_type": ref_type,
            "ref_id": ref_id,
        },
        ref_type="notification",
        ref_id=notification.id,
    )
    return notification


def notify_many(
    session: Session,
    targets: list[tuple[str | None, int | None, str | None]],
    *,
    kind: str,
    subject: str,
    body: str,
    customer_id: int | None = None,
    ref_type: str | None = None,
    ref_id: int | None = None,
    created_at: dt.datetime | None = None,
    dedup_key: str | None = None,
    about_date: dt.date | None = None,
) -> None:
    """One notice to each ``(role, user_id, email_to)`` target, as :func:`notify` writes it.

    Without a webhook subscribed to ``kind``, every notice goes in one plain insert and the
    mail of those with an address in one more (the notice ``pending`` when its mail is queued,
    ``in_app`` when the customer opted out or the address is no address); with one, each
    notice goes through :func:`notify`.
    """
    keys = {(role, user_id) for role, user_id, _ in targets}
    if has_webhooks(session, kind[:30]) or len(keys) < len(targets):
        for role, user_id, email in targets:
            notify(
                session,
                kind=kind,
                subject=subject,
                body=body,
                user_id=user_id,
                role=role,
                customer_id=customer_id,
                email_to=email,
                ref_type=ref_type,
                ref_id=ref_id,
                created_at=created_at,
                dedup_key=dedup_key,
                about_date=about_date,
            )
        return
    if not targets:
        return
    at = created_at or utcnow()
    subject = subject[:200]
    mails: dict[tuple[str | None, int | None], dict] = {}
    for role, user_id, email in targets:
        if not email:
            continue
        try:
            values = mail_values(
                session,
                to=email,
                subject=subject,
                text=body or subject,
                ref_type="notification",
                customer_id=customer_id,
            )
        except ValidationError:
            values = None
        if values is not None:
            mails[(role, user_id)] = values
    rows = [
        in_app_row(
            kind=kind,
            subject=subject,
            body=body,
            created_at=at,
            role=role,
            user_id=user_id,
            customer_id=customer_id,
            ref_type=ref_type,
            ref_id=ref_id,
            dedup_key=dedup_key,
            about_date=about_date,
            email_to=email,
            mailed=(role, user_id) in mails,
        )
        for role, user_id, email in targets
    ]
    conn = session.connection()
    if not mails:
        conn.execute(_INSERT_NOTIFICATION, rows)
        return
    # The mail points at its notice: ids matched back by (role, user), one target each.
    for notice_id, role, user_id in conn.execute(_INSERT_NOTIFICATION_IDS, rows):
        if (role, user_id) in mails:
            mails[(role, user_id)]["ref_id"] = notice_id
    conn.execute(INSERT_MESSAGES, list(mails.values()))


def in_app_row(
    *,
    kind: str,
    subject: str,
    body: str,
    created_at: dt.datetime,
    role: str | None = None,
    user_id: int | None = None,
    customer_id: int | None = None,
    ref_type: str | None = None,
    ref_id: int | None = None,
    dedup_key: str | None = None,
    about_date: dt.date | None = None,
    email_to: str | None = None,
    mailed: bool = False,
) -> dict:
    """The row of one notice as :func:`notify` writes it: in-app only (for :func:`add_in_app`),
    or ``pending`` when ``mailed`` (its mail queued in the outbox to ``email_to``)."""
    return {
        "created_at": created_at,
        "dedup_key": dedup_key,
        "about_date": about_date,
        "kind": kind[:30],
        "user_id": user_id,
        "role": role,
        "customer_id": customer_id,
        "subject": subject[:200],
        "body": body,
        "email_to": email_to,
        "status": "pending" if mailed else "in_app",
        "read_at": None,
        "ref_type": ref_type,
        "ref_id": ref_id,
    }


def add_in_app(session: Session, rows: list[dict]) -> None:
    """In-app notices (rows of :func:`in_app_row`) in one plain insert.

    Only for kinds no webhook subscribes to: nothing refers to these rows.
    """
    if rows:
        session.connection().execute(_INSERT_NOTIFICATION, rows)


_INSERT_NOTIFICATION = insert(Notification.__table__)
_INSERT_NOTIFICATION_IDS = _INSERT_NOTIFICATION.returning(
    Notification.__table__.c.id, Notification.__table__.c.role, Notification.__table__.c.user_id
)


@write_operation
def mark_read(engine: Engine, *, notification_ids: list[int], user_id: int) -> int:
    """Mark the user's own notifications (or their roles') as read; returns how many changed."""
    user_id = identifier(user_id, "User")
    ids = id_list(notification_ids, "Notification to mark as read")
    with write_session(engine) as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"User {user_id} does not exist.")
        roles = session.scalars(select(UserRole.role).where(UserRole.user_id == user_id)).all()
        # A notice to the customer role is about one customer: only that customer's users own it.
        own_customer = or_(
            Notification.role != "customer",
            Notification.customer_id.is_(None),
            Notification.customer_id == user.customer_id,
        )
        mine = or_(
            Notification.user_id == user_id,
            Notification.user_id.is_(None) & Notification.role.in_(roles) & own_customer,
        )
        found = set(
            session.scalars(select(Notification.id).where(Notification.id.in_(ids), mine)).all()
        )
        others = sorted(set(ids) - found)
        if others:
            raise NotFound(
                f"Notification {', '.join(map(str, others[:5]))}"
                f"{' and others' if len(others) > 5 else ''} is not one of yours: "
                "nothing was marked."
            )
        return session.execute(
            update(Notification)
            .where(Notification.id.in_(ids), Notification.read_at.is_(None))
            .values(read_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
