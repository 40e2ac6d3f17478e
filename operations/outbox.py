"""The outbox, write side: queue mail and webhook deliveries inside the caller's transaction.

A message is a row written in the same transaction as the change that caused it, so a rolled-back
change sends nothing and a committed one is never forgotten; the dispatcher
(``operations.dispatcher.dispatch_outbox``) sends it later. Also here: retry and cancel from the
Admin page, the per-customer mail opt-out, and the administrator's webhook subscriptions.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parseaddr
from html import escape
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from data.db import write_session
from data.schema import (
    Customer,
    OutboxAttachment,
    OutboxMessage,
    Webhook,
    utcnow,
)
from operations import audit
from operations.admin import require_admin
from operations.errors import InvalidState, NotFound, ValidationError
from operations.transactions import write_operation
from operations.validation import actor_name, identifier
from operations.validation import text as clean_text

# One address: a local part, an @, a domain with at least one dot; no spaces, commas or brackets.
ADDRESS_PATTERN = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
MAX_RECIPIENTS = 50
MAX_SUBJECT = 200
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024  # what most mail servers still accept in one message
MAX_URL = 500
MESSAGE_ID_DOMAIN = "larder.invalid"  # Message-ID right-hand side; stable across retries
MIME_PATTERN = re.compile(r"^[a-z]+/[a-z0-9.+-]+$")
WEBHOOK_SECRET_BYTES = 32
# Event kinds an administrator may subscribe a webhook to: the notification kinds Larder raises.
WEBHOOK_EVENTS = (
    "low_stock",
    "backorder_created",
    "promise_slipped",
    "po_late",
    "po_overdue",
    "shipment_late",
    "delivery_failed",
    "negative_feedback",
    "po_drafted",
)


@dataclass(frozen=True)
class Attachment:
    filename: str
    mime_type: str
    content: bytes


def mail_addresses(value: Any) -> list[str]:
    """One address or a list of them, each checked; the list is refused whole if one is bad."""
    if isinstance(value, str):
        value = [part for part in value.split(",")]
    if not isinstance(value, (list, tuple)):
        raise ValidationError(f"Recipients must be mail addresses, not {value!r}.")
    addresses = []
    for raw in value:
        if not isinstance(raw, str):
            raise ValidationError(f"{raw!r} is not a mail address.")
        name, address = parseaddr(raw.strip())
        # The whole entry must be the bare address: no display name, no smuggled header lines.
        if address != raw.strip() or not ADDRESS_PATTERN.match(address) or name:
            raise ValidationError(
                f"{raw.strip()!r} is not a mail address (write it as name@example.com)."
            )
        if address.lower() not in (a.lower() for a in addresses):
            addresses.append(address)
    if not addresses:
        raise ValidationError("Give at least one recipient address.")
    if len(addresses) > MAX_RECIPIENTS:
        raise ValidationError(
            f"At most {MAX_RECIPIENTS} recipients per mail, not {len(addresses)}."
        )
    return addresses


def webhook_url(value: Any) -> str:
    """An absolute http(s) URL with a host; anything else is refused with the reason."""
    url = clean_text(value, "The webhook URL", max_length=MAX_URL)
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError(
            f"{url!r} is not a web address: a webhook URL must start with http:// or https://."
        )
    if not parts.hostname or any(c.isspace() for c in url):
        raise ValidationError(f"{url!r} has no host name: write it as https://host/path.")
    return url


def _attachments(values: Iterable[Any]) -> list[Attachment]:
    result = []
    total = 0
    for value in values:
        if isinstance(value, tuple) and len(value) == 3:
            value = Attachment(*value)
        if not isinstance(value, Attachment):
            raise ValidationError(
                f"An attachment must be (file name, mime type, bytes), not {type(value)!r}."
            )
        name = clean_text(value.filename, "Attachment file name", max_length=200)
        if "/" in name or "\\" in name:
            raise ValidationError(f"Attachment file name {name!r} must not contain a path.")
        if not MIME_PATTERN.match(value.mime_type or ""):
            raise ValidationError(f"{value.mime_type!r} is not a mime type such as text/csv.")
        if not isinstance(value.content, (bytes, bytearray)):
            raise ValidationError(f"Attachment {name} must be bytes.")
        total += len(value.content)
        result.append(Attachment(name, value.mime_type, bytes(value.content)))
    if total > MAX_ATTACHMENT_BYTES:
        raise ValidationError(
            f"Attachments add up to {total} bytes; at most {MAX_ATTACHMENT_BYTES} fit in one mail."
        )
    return result


def new_message_id() -> str:
    """A globally unique Message-ID, kept for every retry so receivers can drop duplicates."""
    return f"<{uuid.uuid4().hex}@{MESSAGE_ID_DOMAIN}>"


def html_from_text(body: str) -> str:
    """The plain text as a small HTML document (escaped; paragraphs and line breaks kept)."""
    paragraphs = [p for p in body.split("\n\n") if p.strip()]
    inner = "".join(f"<p>{escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return f'<!doctype html><html><body style="font-family: sans-serif">{inner}</body></html>'


def queue_mail(
    session: Session,
    *,
    to: str | list[str],
    subject: str,
    text: str,
    html: str | None = None,
    attachments: Iterable[Attachment | tuple[str, str, bytes]] = (),
    ref_type: str | None = None,
    ref_id: int | None = None,
    customer_id: int | None = None,
) -> OutboxMessage | None:
    """Put one mail in the outbox inside the caller's transaction (nothing is sent here).

    ``html`` defaults to the escaped text. Mail for a customer who opted out (``customer_id``
    given) is not queued: returns None. Bad input raises ValidationError and queues nothing.
    """
    values, files = _checked_mail(
        session, to, subject, text, html, attachments, ref_type, ref_id, customer_id
    )
    if values is None:
        return None
    message = OutboxMessage(**values)
    session.add(message)
    session.flush()
    for f in files:
        session.add(
            OutboxAttachment(
                message_id=message.id,
                filename=f.filename,
                mime_type=f.mime_type,
                size=len(f.content),
                content=f.content,
            )
        )
    return message


def mail_values(
    session: Session,
    *,
    to: str | list[str],
    subject: str,
    text: str,
    html: str | None = None,
    ref_type: str | None = None,
    ref_id: int | None = None,
    customer_id: int | None = None,
) -> dict[str, Any] | None:
    """The outbox row of one mail as :func:`queue_mail` checks and writes it (no attachments).

    None for a customer who opted out of mail; bad input raises ValidationError. For a caller
    that inserts several messages at once (:data:`INSERT_MESSAGES`).
    """
    return _checked_mail(session, to, subject, text, html, (), ref_type, ref_id, customer_id)[0]


def _checked_mail(
    session: Session,
    to: str | list[str],
    subject: str,
    text: str,
    html: str | None,
    attachments: Iterable[Attachment | tuple[str, str, bytes]],
    ref_type: str | None,
    ref_id: int | None,
    customer_id: int | None,
) -> tuple[dict[str, Any] | None, list[Attachment]]:
    """(The outbox row, or None for a customer who opted out; the checked attachments)."""
    addresses = mail_addresses(to)
    subject = _subject(subject)
    body = _text_body(text)
    if html is not None and not isinstance(html, str):
        raise ValidationError("The HTML part must be text.")
    files = _attachments(attachments)
    if customer_id is not None:
        opted_out = session.info.get(OPT_OUTS_KEY, {}).get(customer_id)
        if opted_out is None:
            customer = session.get(Customer, customer_id)
            if customer is None:
                raise NotFound(f"Customer {customer_id} does not exist.")
            opted_out = customer.mail_opt_out
        if opted_out:
            return None, files
    now = utcnow()
    values = {
        "message_id": new_message_id(),
        "kind": "mail",
        "recipients": ", ".join(addresses),
        "webhook_id": None,
        "event": None,
        "subject": subject,
        "text_body": body,
        "html_body": html if html is not None else html_from_text(body),
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": "",
        "claimed_by": None,
        "claimed_until": None,
        "created_at": now,
        "sent_at": None,
        "ref_type": ref_type,
        "ref_id": ref_id,
    }
    return values, files


def remember_opt_out(session: Session, customer_id: int, opted_out: bool) -> None:
    """Give a write session a customer's mail opt-out read just before it (no read for it)."""
    session.info.setdefault(OPT_OUTS_KEY, {})[customer_id] = bool(opted_out)


OPT_OUTS_KEY = "larder_mail_opt_outs"  # session.info: customer id -> opted out of mail
# Several outbox rows in one plain insert (rows made by mail_values).
INSERT_MESSAGES = insert(OutboxMessage.__table__)


def _subject(value: Any) -> str:
    subject = clean_text(value, "The subject", max_length=MAX_SUBJECT)
    if "\n" in subject or "\r" in subject:
        raise ValidationError("The subject must be one line.")
    return subject


def _text_body(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("The mail needs a text body.")
    return value


# session.info key: the active webhooks by event, read once per transaction (an order that
# raises several notices would otherwise ask once per notice).
WEBHOOKS_KEY = "larder_active_webhooks"


_ANY_ACTIVE_WEBHOOK = (
    select(Webhook.__table__.c.id).where(Webhook.__table__.c.active.is_(True)).limit(1)
)


def _active_webhooks(session: Session) -> dict[str, list[Webhook]]:
    if WEBHOOKS_KEY not in session.info:
        by_event: dict[str, list[Webhook]] = {}
        # Most databases have no active webhook: a plain query says so without the ORM's cost.
        if session.connection().execute(_ANY_ACTIVE_WEBHOOK).first() is not None:
            for hook in session.scalars(
                select(Webhook).where(Webhook.active.is_(True)).order_by(Webhook.id)
            ):
                by_event.setdefault(hook.event, []).append(hook)
        session.info[WEBHOOKS_KEY] = by_event
    return session.info[WEBHOOKS_KEY]


def has_webhooks(session: Session, event: str) -> bool:
    """Whether any active webhook subscribes to ``event`` (read once per transaction)."""
    return bool(_active_webhooks(session).get(event))


def active_webhooks(session: Session) -> dict[str, list[Webhook]]:
    """The active webhooks by event, as this transaction sees them (read once)."""
    return _active_webhooks(session)


def remember_webhooks(session: Session, hooks: dict[str, list[Webhook]]) -> None:
    """Give a write session the active webhooks read just before it (see active_webhooks)."""
    session.info[WEBHOOKS_KEY] = hooks


def queue_webhooks(
    session: Session,
    *,
    event: str,
    payload: dict[str, Any],
    ref_type: str | None = None,
    ref_id: int | None = None,
) -> list[OutboxMessage]:
    """Queue one signed delivery per active webhook subscribed to ``event``; returns them."""
    hooks = _active_webhooks(session).get(event, [])
    now = utcnow()
    queued = []
    for hook in hooks:
        message_id = new_message_id()
        body = json.dumps(
            {"id": message_id.strip("<>"), "event": event, "created_at": now.isoformat() + "Z"}
            | {"data": payload},
            default=str,
            sort_keys=True,
        )
        message = OutboxMessage(
            message_id=message_id,
            kind="webhook",
            recipients=hook.url,
            webhook_id=hook.id,
            event=event,
            subject=event,
            text_body=body,
            status="queued",
            attempts=0,
            next_attempt_at=now,
            last_error="",
            created_at=now,
            ref_type=ref_type,
            ref_id=ref_id,
        )
        session.add(message)
        queued.append(message)
    return queued


# --- Manual actions from the Admin page ----------------------------------------------------


@write_operation
def retry_message(engine: Engine, *, message_id: int, actor: str) -> None:
    """Send a failed or cancelled message again now (its attempt count starts over)."""
    actor = actor_name(actor)
    message_id = identifier(message_id, "Outbox message")
    with write_session(engine) as session:
        require_admin(session, actor)
        message = _locked_message(session, message_id)
        if message.status not in ("failed", "cancelled"):
            raise InvalidState(
                f"Message {message_id} is {message.status}: only a failed or cancelled message "
                "can be retried."
            )
        before = {"status": message.status, "attempts": message.attempts}
        message.status = "queued"
        message.attempts = 0
        message.next_attempt_at = utcnow()
        message.claimed_by = None
        message.claimed_until = None
        audit.record(
            session,
            actor=actor,
            action="retry_message",
            entity="outbox_message",
            entity_id=message_id,
            before=before,
            after={"status": "queued", "attempts": 0},
        )


@write_operation
def cancel_message(engine: Engine, *, message_id: int, actor: str) -> None:
    """Stop a queued or failed message from being sent."""
    actor = actor_name(actor)
    message_id = identifier(message_id, "Outbox message")
    with write_session(engine) as session:
        require_admin(session, actor)
        message = _locked_message(session, message_id)
        if message.status not in ("queued", "failed"):
            raise InvalidState(
                f"Message {message_id} is {message.status}: only a queued or failed message "
                "can be cancelled."
            )
        before = message.status
        message.status = "cancelled"
        audit.record(
            session,
            actor=actor,
            action="cancel_message",
            entity="outbox_message",
            entity_id=message_id,
            before={"status": before},
            after={"status": "cancelled"},
        )


def _locked_message(session: Session, message_id: int) -> OutboxMessage:
    message = session.get(OutboxMessage, message_id, with_for_update=True)
    if message is None:
        raise NotFound(f"Outbox message {message_id} does not exist.")
    return message


@write_operation
def set_mail_opt_out(engine: Engine, *, customer_id: int, opt_out: bool, actor: str) -> None:
    """Record that a customer wants (or no longer wants) mail from Larder."""
    actor = actor_name(actor)
    customer_id = identifier(customer_id, "Customer")
    if not isinstance(opt_out, bool):
        raise ValidationError(f"Opt-out must be true or false, not {opt_out!r}.")
    with write_session(engine) as session:
        customer = session.get(Customer, customer_id, with_for_update=True)
        if customer is None:
            raise NotFound(f"Customer {customer_id} does not exist.")
        before = customer.mail_opt_out
        customer.mail_opt_out = opt_out
        audit.record(
            session,
            actor=actor,
            action="set_mail_opt_out",
            entity="customer",
            entity_id=customer_id,
            before={"mail_opt_out": before},
            after={"mail_opt_out": opt_out},
        )


# --- Webhook subscriptions -----------------------------------------------------------------


@write_operation
def create_webhook(engine: Engine, *, event: str, url: str, actor: str) -> tuple[int, str]:
    """Subscribe ``url`` to ``event``; returns the hook's id and its signing secret (show once)."""
    actor = actor_name(actor)
    if event not in WEBHOOK_EVENTS:
        raise ValidationError(
            f"{event!r} is not an event Larder raises; choose one of {', '.join(WEBHOOK_EVENTS)}."
        )
    url = webhook_url(url)
    secret = secrets.token_hex(WEBHOOK_SECRET_BYTES)
    with write_session(engine) as session:
        require_admin(session, actor)
        hook = Webhook(
            event=event, url=url, secret=secret, active=True, created_at=utcnow(), created_by=actor
        )
        session.add(hook)
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="create_webhook",
            entity="webhook",
            entity_id=hook.id,
            after={"event": event, "url": url},
        )
        return hook.id, secret


@write_operation
def disable_webhook(engine: Engine, *, webhook_id: int, actor: str) -> None:
    """Stop a webhook receiving new events (deliveries already queued still go out)."""
    actor = actor_name(actor)
    webhook_id = identifier(webhook_id, "Webhook")
    with write_session(engine) as session:
        require_admin(session, actor)
        hook = session.get(Webhook, webhook_id, with_for_update=True)
        if hook is None:
            raise NotFound(f"Webhook {webhook_id} does not exist.")
        if not hook.active:
            raise InvalidState(f"Webhook {webhook_id} is already disabled.")
        hook.active = False
        hook.disabled_at = utcnow()
        audit.record(
            session,
            actor=actor,
            action="disable_webhook",
            entity="webhook",
            entity_id=webhook_id,
            before={"active": True},
            after={"active": False},
        )
