"""The outbox dispatcher: claim due messages, send them (SMTP, Maildir or webhook), record each try.

Claiming is one UPDATE of the due rows to ``sending`` with this worker's name and a lease; on
PostgreSQL the rows are picked with ``FOR UPDATE SKIP LOCKED`` and on SQLite the write transaction
opens with ``BEGIN IMMEDIATE`` (data/db.py), so two dispatchers never claim one message.

Delivery guarantee: at-least-once. Each message is marked in its own transaction right after
the server accepted it; a dispatcher killed between the server's "250" and that commit leaves the
row claimed, and once the lease runs out another run sends it again with the same Message-ID
header (the receiver can drop the copy). Webhooks carry the same id in ``X-Larder-Delivery``.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import hashlib
import hmac
import mailbox
import os
import random
import smtplib
import socket
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.orm import Session

from data.db import DATA_DIR, read_connection, write_session
from data.schema import (
    Notification,
    OutboxAttachment,
    OutboxAttempt,
    OutboxMessage,
    Webhook,
    utcnow,
)
from data.settings import all_settings

DEFAULT_BATCH = 100
CLAIM_LEASE = dt.timedelta(minutes=10)  # a dead dispatcher's claims are free again after this
RETRY_JITTER = 0.5  # each wait is drawn between (1 - this) and 1 times the exponential delay
MAILDIR_PATH = DATA_DIR / "maildir"  # where the demo "sends" mail when no SMTP server is set
PASSWORD_ENV = "LARDER_SMTP_PASSWORD"
PASSWORD_SECRET = "smtp_password"
SECURITY_MODES = ("none", "starttls", "ssl")
MAX_REPLY = 2000  # characters of a server's reply kept per attempt

_jitter = random.Random()


@dataclass(frozen=True)
class MailConfig:
    enabled: bool
    host: str
    port: int
    security: str
    user: str | None
    sender: str
    timeout: float
    retry_base: float
    retry_max: float
    mail_max_attempts: int
    webhook_max_attempts: int
    webhook_timeout: float

    @classmethod
    def from_settings(cls, values: dict) -> MailConfig:
        user = str(values["mail_user"]).strip()
        return cls(
            enabled=bool(values["mail_enabled"]) and bool(str(values["mail_host"]).strip()),
            host=str(values["mail_host"]).strip(),
            port=int(values["mail_port"]),
            security=str(values["mail_security"]).strip().lower(),
            user=None if user in ("", "-") else user,
            sender=str(values["mail_from"]),
            timeout=float(values["mail_timeout_seconds"]),
            retry_base=float(values["mail_retry_base_seconds"]),
            retry_max=float(values["mail_retry_max_seconds"]),
            mail_max_attempts=int(values["mail_max_attempts"]),
            webhook_max_attempts=int(values["webhook_max_attempts"]),
            webhook_timeout=float(values["webhook_timeout_seconds"]),
        )


class DeliveryError(Exception):
    """One try failed; ``reply`` is what the server (or the network) said."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply[:MAX_REPLY]


def smtp_password() -> str | None:
    """The SMTP password: the environment first, then Streamlit's secrets; never the database."""
    value = os.environ.get(PASSWORD_ENV, "")
    if value:
        return value
    try:
        import streamlit as st

        secret = st.secrets.get(PASSWORD_SECRET)
    except Exception:  # no secrets file is the usual case on a worker, not an error
        return None
    return str(secret) if secret else None


def retry_delay(attempts: int, base: float, ceiling: float, rng: random.Random = _jitter) -> float:
    """Seconds to wait after the ``attempts``-th failed try: doubling, capped, with jitter."""
    delay = min(base * 2 ** max(attempts - 1, 0), ceiling)
    return delay * (1 - RETRY_JITTER * rng.random())


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Larder-Signature`` value: HMAC-SHA256 over ``timestamp.body``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


# --- Building the mail ---------------------------------------------------------------------


def build_mail(
    message: OutboxMessage, attachments: list[OutboxAttachment], sender: str
) -> EmailMessage:
    """The MIME message: text and HTML alternatives, then the attachments."""
    mail = EmailMessage()
    mail["From"] = formataddr(("Larder", sender))
    mail["To"] = message.recipients
    mail["Subject"] = message.subject
    mail["Message-ID"] = message.message_id
    mail["Date"] = format_datetime(message.created_at.replace(tzinfo=dt.UTC))
    mail.set_content(message.text_body)
    if message.html_body:
        mail.add_alternative(message.html_body, subtype="html")
    for item in attachments:
        maintype, subtype = item.mime_type.split("/", 1)
        mail.add_attachment(
            item.content, maintype=maintype, subtype=subtype, filename=item.filename
        )
    return mail


# --- Transports ----------------------------------------------------------------------------


class SmtpTransport:
    """One SMTP connection reused across a batch; reopened after any failure."""

    def __init__(self, config: MailConfig, password: str | None) -> None:
        self.config = config
        self.password = password
        self.conn: smtplib.SMTP | None = None
        self.connect_error: str | None = None

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        if cfg.security not in SECURITY_MODES:
            raise DeliveryError(
                f"mail_security is {cfg.security!r}; set it to none, starttls or ssl."
            )
        try:
            if cfg.security == "ssl":
                conn = smtplib.SMTP_SSL(
                    cfg.host, cfg.port, timeout=cfg.timeout, context=ssl.create_default_context()
                )
            else:
                conn = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
            conn.ehlo()
            if cfg.security == "starttls":
                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
            if cfg.user:
                conn.login(cfg.user, self.password or "")
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(_smtp_reply(exc)) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"cannot reach {cfg.host}:{cfg.port}: {_describe(exc)}") from exc
        return conn

    def send(self, mail: EmailMessage, sender: str, recipients: list[str]) -> str:
        if self.connect_error is not None:
            # The server was unreachable a moment ago in this batch: do not wait on it again.
            raise DeliveryError(self.connect_error)
        if self.conn is None:
            try:
                self.conn = self._connect()
            except DeliveryError as exc:
                self.connect_error = exc.reply
                raise
        try:
            return _smtp_send(self.conn, mail, sender, recipients)
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise DeliveryError(_smtp_reply(exc)) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            refused = "; ".join(
                f"{who}: {code} {_text(reply)}" for who, (code, reply) in exc.recipients.items()
            )
            raise DeliveryError(f"every recipient refused: {refused}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise DeliveryError(f"connection lost: {_describe(exc)}") from exc

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (OSError, smtplib.SMTPException):
                self.conn.close()
            self.conn = None


def _smtp_send(conn: smtplib.SMTP, mail: EmailMessage, sender: str, recipients: list[str]) -> str:
    """MAIL, RCPT, DATA by hand so the server's final reply is kept for the attempt record."""
    code, reply = conn.mail(sender)
    if code != 250:
        conn.rset()
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused = {}
    for rcpt in recipients:
        code, reply = conn.rcpt(rcpt)
        if code not in (250, 251):
            refused[rcpt] = (code, reply)
    if len(refused) == len(recipients):
        conn.rset()
        raise smtplib.SMTPRecipientsRefused(refused)
    # CRLF line ends, as on the wire; smtplib passes bytes through untouched.
    code, reply = conn.data(mail.as_bytes(policy=email.policy.SMTP))
    if code != 250:
        conn.rset()
        raise smtplib.SMTPDataError(code, reply)
    answer = f"{code} {_text(reply)}"
    if refused:
        answer += "; refused: " + ", ".join(f"{who} ({c})" for who, (c, _r) in refused.items())
    return answer


def _smtp_reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error)}"


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class MaildirTransport:
    """The demo's post office: each mail becomes a file in a local Maildir a person can read."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, mail: EmailMessage, sender: str, recipients: list[str]) -> str:
        try:
            box = mailbox.Maildir(self.path, create=True)
            key = box.add(mailbox.MaildirMessage(mail))
        except OSError as exc:
            raise DeliveryError(f"cannot write to the Maildir {self.path}: {exc}") from exc
        return f"delivered to Maildir {self.path} as {key}"

    def close(self) -> None:
        pass


def post_webhook(message: OutboxMessage, secret: str, timeout: float) -> str:
    """POST the JSON body with a fresh timestamp and its signature; any 2xx answer is success."""
    body = message.text_body.encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(
        message.recipients,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Larder-Webhooks",
            "X-Larder-Event": message.event or "",
            "X-Larder-Delivery": message.message_id.strip("<>"),
            "X-Larder-Timestamp": timestamp,
            "X-Larder-Signature": sign(secret, timestamp, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = response.read(MAX_REPLY).decode(errors="replace")
            return f"HTTP {response.status} {response.reason} {answer}".strip()
    except urllib.error.HTTPError as exc:
        detail = exc.read(MAX_REPLY).decode(errors="replace") if exc.fp else ""
        raise DeliveryError(f"HTTP {exc.code} {exc.reason} {detail}".strip()) from exc
    except urllib.error.URLError as exc:
        raise DeliveryError(f"cannot reach {message.recipients}: {exc.reason}") from exc
    except (TimeoutError, OSError) as exc:
        raise DeliveryError(f"connection lost: {_describe(exc)}") from exc


# --- Claiming and recording ----------------------------------------------------------------


def claim_due(engine: Engine, *, worker_id: str, now: dt.datetime, batch: int) -> list[int]:
    """Mark up to ``batch`` due messages as this worker's; returns their ids, oldest first."""
    due = (
        select(OutboxMessage.id)
        .where(
            or_(
                (OutboxMessage.status == "queued") & (OutboxMessage.next_attempt_at <= now),
                (OutboxMessage.status == "sending") & (OutboxMessage.claimed_until < now),
            )
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    with write_session(engine) as session:
        ids = session.scalars(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(due.scalar_subquery()))
            .values(status="sending", claimed_by=worker_id, claimed_until=now + CLAIM_LEASE)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        ).all()
    return sorted(ids)


def _record(
    engine: Engine,
    *,
    message: OutboxMessage,
    worker_id: str,
    ok: bool,
    reply: str,
    started: dt.datetime,
    duration_ms: int,
    max_attempts: int,
    config: MailConfig,
) -> str:
    """Write the attempt and the message's new state in one transaction; returns the outcome."""
    attempts = message.attempts + 1
    if ok:
        outcome, values = "sent", {"status": "sent", "sent_at": started, "last_error": ""}
    elif attempts >= max_attempts:
        outcome, values = "failed", {"status": "failed", "last_error": reply}
    else:
        wait = retry_delay(attempts, config.retry_base, config.retry_max)
        outcome = "retry"
        values = {
            "status": "queued",
            "next_attempt_at": started + dt.timedelta(seconds=wait),
            "last_error": reply,
        }
    with write_session(engine) as session:
        session.add(
            OutboxAttempt(
                message_id=message.id,
                at=started,
                worker=worker_id,
                outcome=outcome,
                reply=reply[:MAX_REPLY],
                duration_ms=duration_ms,
            )
        )
        # Only the claim's holder may finish it: a run whose lease ran out changes nothing.
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message.id,
                OutboxMessage.claimed_by == worker_id,
                OutboxMessage.status == "sending",
            )
            .values(attempts=attempts, claimed_by=None, claimed_until=None, **values)
            .execution_options(synchronize_session=False)
        )
        if message.ref_type == "notification" and message.kind == "mail" and outcome != "retry":
            session.execute(
                update(Notification)
                .where(Notification.id == message.ref_id)
                .values(status="sent" if ok else "failed")
                .execution_options(synchronize_session=False)
            )
    return outcome


def _release(engine: Engine, ids: list[int], worker_id: str) -> int:
    """Give back claims this run will not get to (still queued, no attempt counted)."""
    if not ids:
        return 0
    with write_session(engine) as session:
        return session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(ids),
                OutboxMessage.claimed_by == worker_id,
                OutboxMessage.status == "sending",
            )
            .values(status="queued", claimed_by=None, claimed_until=None)
            .execution_options(synchronize_session=False)
        ).rowcount


def _load(engine: Engine, ids: list[int]) -> tuple[list, dict, dict]:
    with read_connection(engine) as conn, Session(bind=conn) as session:
        messages = session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
        ).all()
        files: dict[int, list[OutboxAttachment]] = {}
        for item in session.scalars(
            select(OutboxAttachment)
            .where(OutboxAttachment.message_id.in_(ids))
            .order_by(OutboxAttachment.id)
        ):
            files.setdefault(item.message_id, []).append(item)
        hook_ids = {m.webhook_id for m in messages if m.webhook_id is not None}
        secrets_by_hook = dict(
            session.execute(
                select(Webhook.id, Webhook.secret).where(Webhook.id.in_(hook_ids))
            ).all()
        )
    return list(messages), files, secrets_by_hook


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def dispatch_outbox(
    engine: Engine,
    *,
    now: dt.datetime | None = None,
    batch: int = DEFAULT_BATCH,
    worker_id: str | None = None,
    maildir: Path | None = None,
) -> dict[str, int]:
    """Send one batch of due outbox messages; returns counts (claimed, sent, retried, failed).

    Mail goes over SMTP when ``mail_enabled`` is on and ``mail_host`` is set, else into the
    Maildir (``maildir``, default ``data/maildir``). Webhooks are always posted.
    """
    now = now or utcnow()
    worker_id = worker_id or default_worker_id()
    with read_connection(engine) as conn:
        config = MailConfig.from_settings(all_settings(conn))
    ids = claim_due(engine, worker_id=worker_id, now=now, batch=batch)
    counts = {"claimed": len(ids), "sent": 0, "retried": 0, "failed": 0, "released": 0}
    if not ids:
        return counts
    messages, files, hook_secrets = _load(engine, ids)
    if config.enabled:
        transport: SmtpTransport | MaildirTransport = SmtpTransport(config, smtp_password())
    else:
        transport = MaildirTransport(maildir or MAILDIR_PATH)
    started_run = time.monotonic()
    try:
        for position, message in enumerate(messages):
            if time.monotonic() - started_run > CLAIM_LEASE.total_seconds() / 2:
                # Hand the rest back before the lease could run out under us.
                counts["released"] = _release(
                    engine, [m.id for m in messages[position:]], worker_id
                )
                break
            started = utcnow() if now is None else now
            tick = time.perf_counter()
            is_mail = message.kind == "mail"
            max_attempts = config.mail_max_attempts if is_mail else config.webhook_max_attempts
            try:
                if is_mail:
                    reply = transport.send(
                        build_mail(message, files.get(message.id, []), config.sender),
                        config.sender,
                        [a.strip() for a in message.recipients.split(",")],
                    )
                else:
                    secret = hook_secrets.get(message.webhook_id)
                    if secret is None:
                        raise DeliveryError("the webhook this delivery belongs to is gone")
                    reply = post_webhook(message, secret, config.webhook_timeout)
                ok = True
            except DeliveryError as exc:
                ok, reply = False, exc.reply
            outcome = _record(
                engine,
                message=message,
                worker_id=worker_id,
                ok=ok,
                reply=reply,
                started=started,
                duration_ms=int((time.perf_counter() - tick) * 1000),
                max_attempts=max_attempts,
                config=config,
            )
            counts[{"sent": "sent", "retry": "retried", "failed": "failed"}[outcome]] += 1
    finally:
        transport.close()
    return counts


def dispatch_until_empty(
    engine: Engine,
    *,
    now: dt.datetime | None = None,
    batch: int = DEFAULT_BATCH,
    worker_id: str | None = None,
    maildir: Path | None = None,
) -> dict[str, int]:
    """Run batches until nothing due is left; the totals of every batch."""
    totals = {"claimed": 0, "sent": 0, "retried": 0, "failed": 0, "released": 0}
    while True:
        counts = dispatch_outbox(engine, now=now, batch=batch, worker_id=worker_id, maildir=maildir)
        for key, value in counts.items():
            totals[key] += value
        if counts["claimed"] == 0 or counts["claimed"] == counts["retried"] + counts["failed"]:
            return totals
