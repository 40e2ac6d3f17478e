"""Reads of the outbox: counts by status, the message list, one message in full, the webhooks."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, func, select

from data.schema import (
    OUTBOX_STATUSES,
    OutboxAttachment,
    OutboxAttempt,
    OutboxMessage,
    Webhook,
)

DEFAULT_LIMIT = 500
MESSAGE_COLUMNS = [
    "id",
    "kind",
    "status",
    "recipients",
    "subject",
    "attempts",
    "created_at",
    "next_attempt_at",
    "sent_at",
    "last_error",
    "ref",
]


def outbox_counts(conn: Connection) -> dict[str, int]:
    """Messages per status (every status present, zero when none)."""
    counts = dict.fromkeys(OUTBOX_STATUSES, 0)
    rows = conn.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    counts.update({status: count for status, count in rows})
    return counts


def outbox_messages(
    conn: Connection, *, status: str | None = None, limit: int = DEFAULT_LIMIT
) -> pd.DataFrame:
    """The newest messages (optionally of one status), without bodies or attachments."""
    query = select(
        OutboxMessage.id,
        OutboxMessage.kind,
        OutboxMessage.status,
        OutboxMessage.recipients,
        OutboxMessage.subject,
        OutboxMessage.attempts,
        OutboxMessage.created_at,
        OutboxMessage.next_attempt_at,
        OutboxMessage.sent_at,
        OutboxMessage.last_error,
        OutboxMessage.ref_type,
        OutboxMessage.ref_id,
    )
    if status:
        query = query.where(OutboxMessage.status == status)
    rows = conn.execute(query.order_by(OutboxMessage.id.desc()).limit(limit)).all()
    frame = pd.DataFrame([r._asdict() for r in rows])
    if frame.empty:
        return pd.DataFrame(columns=MESSAGE_COLUMNS)
    frame["ref"] = [
        f"{t} {i}" if t else "" for t, i in zip(frame["ref_type"], frame["ref_id"], strict=True)
    ]
    for column in ("created_at", "next_attempt_at", "sent_at"):
        frame[column] = pd.to_datetime(frame[column])
    return frame[MESSAGE_COLUMNS]


@dataclass(frozen=True)
class MessageDetail:
    id: int
    kind: str
    status: str
    headers: dict[str, str]
    text_body: str
    html_body: str | None
    last_error: str
    attachments: pd.DataFrame  # filename, mime_type, size
    attempts: pd.DataFrame  # at, worker, outcome, reply, duration_ms


def outbox_message(conn: Connection, message_id: int) -> MessageDetail | None:
    """One message as sent: its headers, text, HTML, attachment names and every attempt."""
    m = conn.execute(select(OutboxMessage).where(OutboxMessage.id == message_id)).first()
    if m is None:
        return None
    headers = {
        "Message-ID": m.message_id,
        "To" if m.kind == "mail" else "URL": m.recipients,
        "Subject" if m.kind == "mail" else "Event": m.subject,
        "Created": f"{m.created_at:%Y-%m-%d %H:%M:%S} UTC",
    }
    if m.sent_at is not None:
        headers["Sent"] = f"{m.sent_at:%Y-%m-%d %H:%M:%S} UTC"
    if m.ref_type:
        headers["About"] = f"{m.ref_type} {m.ref_id}"
    attachments = pd.DataFrame(
        [
            r._asdict()
            for r in conn.execute(
                select(OutboxAttachment.filename, OutboxAttachment.mime_type, OutboxAttachment.size)
                .where(OutboxAttachment.message_id == message_id)
                .order_by(OutboxAttachment.id)
            )
        ],
        columns=["filename", "mime_type", "size"],
    )
    attempts = pd.DataFrame(
        [
            r._asdict()
            for r in conn.execute(
                select(
                    OutboxAttempt.at,
                    OutboxAttempt.worker,
                    OutboxAttempt.outcome,
                    OutboxAttempt.reply,
                    OutboxAttempt.duration_ms,
                )
                .where(OutboxAttempt.message_id == message_id)
                .order_by(OutboxAttempt.id)
            )
        ],
        columns=["at", "worker", "outcome", "reply", "duration_ms"],
    )
    return MessageDetail(
        id=m.id,
        kind=m.kind,
        status=m.status,
        headers=headers,
        text_body=m.text_body,
        html_body=m.html_body,
        last_error=m.last_error,
        attachments=attachments,
        attempts=attempts,
    )


def webhooks_table(conn: Connection) -> pd.DataFrame:
    """Every webhook subscription, active first (secrets are never read back)."""
    rows = conn.execute(
        select(
            Webhook.id,
            Webhook.event,
            Webhook.url,
            Webhook.active,
            Webhook.created_at,
            Webhook.created_by,
            Webhook.disabled_at,
        ).order_by(Webhook.active.desc(), Webhook.id)
    ).all()
    return pd.DataFrame(
        [r._asdict() for r in rows],
        columns=["id", "event", "url", "active", "created_at", "created_by", "disabled_at"],
    )
