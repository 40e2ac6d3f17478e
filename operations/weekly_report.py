"""Mail the weekly backorder report: once a week, to the active users of the roles that want it.

The PDF is made by the caller (the jobs runner) from the read side; this queues it in the outbox
in one transaction. The outbox row carries ``ref_type="weekly_report"`` and the week's Monday
as ``ref_id`` (YYYYMMDD), which makes the mail idempotent: a second call for the same week,
from any server, finds it and queues nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, select

from data.db import write_session
from data.schema import OutboxMessage, User, UserRole
from data.settings import get_setting, listed_roles
from operations.errors import ValidationError
from operations.outbox import Attachment, queue_mail
from operations.transactions import write_operation
from operations.validation import actor_name
from operations.validation import text as clean_text

REF_TYPE = "weekly_report"
SETTING = "weekly_report_roles"
MAX_PDF_BYTES = 5_000_000


def week_ref(monday: dt.date) -> int:
    return monday.year * 10_000 + monday.month * 100 + monday.day


def _monday(value: Any) -> dt.date:
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise ValidationError(f"The report week must be a date (its Monday), not {value!r}.")
    if value.weekday() != 0:
        raise ValidationError(f"A report week starts on a Monday; {value} is a {value:%A}.")
    return value


def _pdf(value: Any) -> bytes:
    if not isinstance(value, bytes | bytearray) or not bytes(value).startswith(b"%PDF-"):
        raise ValidationError("The weekly report must be a PDF document (bytes starting %PDF-).")
    if len(value) > MAX_PDF_BYTES:
        raise ValidationError(
            f"The weekly report is {len(value):,} bytes; at most {MAX_PDF_BYTES:,} fit in a mail."
        )
    return bytes(value)


def already_queued(session, monday: dt.date) -> bool:
    return (
        session.execute(
            select(OutboxMessage.id).where(
                OutboxMessage.ref_type == REF_TYPE, OutboxMessage.ref_id == week_ref(monday)
            )
        ).first()
        is not None
    )


@write_operation
def queue_weekly_report(
    engine: Engine, *, week_start: dt.date, pdf: bytes, summary: str, actor: str
) -> list[str]:
    """Queue the week's report for every recipient; the addresses mailed ([] when none or sent).

    Recipients: active users with an e-mail address holding a role named in the
    ``weekly_report_roles`` setting. Nothing is queued when the week's report was queued before.
    """
    actor = actor_name(actor)
    monday = _monday(week_start)
    document = _pdf(pdf)
    text = clean_text(summary, "The report summary", max_length=4000, multiline=True)
    with write_session(engine) as session:
        if already_queued(session, monday):
            return []
        roles = listed_roles(get_setting(session.connection(), SETTING))
        if not roles:
            return []
        addresses = session.execute(
            select(User.email)
            .join(UserRole, UserRole.user_id == User.id)
            .where(User.active.is_(True), UserRole.role.in_(roles), User.email != "")
            .group_by(User.email)
            .order_by(User.email)
        ).scalars()
        to = [address for address in addresses if address]
        if not to:
            return []
        queue_mail(
            session,
            to=to,
            subject=f"Weekly backorder report, week of {monday:%d %b %Y}",
            text=text,
            attachments=[
                Attachment(
                    f"backorder-report-{monday.isoformat()}.pdf", "application/pdf", document
                )
            ],
            ref_type=REF_TYPE,
            ref_id=week_ref(monday),
        )
        return to


def weekly_report_due(engine: Engine, week_start: dt.date) -> bool:
    """True while the week's report is not queued yet and some role is to receive it."""
    with write_session(engine) as session:
        if already_queued(session, _monday(week_start)):
            return False
        return bool(listed_roles(get_setting(session.connection(), SETTING)))
