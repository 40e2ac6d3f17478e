"""The outbox end to end: queue in the caller's transaction, dispatch to a real SMTP server."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import json
import mailbox
import random
import threading

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select, update

from data.db import write_session
from data.schema import (
    Customer,
    Notification,
    OutboxAttachment,
    OutboxAttempt,
    OutboxMessage,
    PurchaseOrder,
    PurchaseOrderLine,
    Supplier,
)
from operations import approve_po, send_po
from operations.admin import set_setting
from operations.dispatcher import (
    CLAIM_LEASE,
    MailConfig,
    SmtpTransport,
    build_mail,
    claim_due,
    dispatch_outbox,
    dispatch_until_empty,
    retry_delay,
    smtp_password,
)
from operations.errors import InvalidState, ValidationError
from operations.notifications import notify
from operations.outbox import (
    cancel_message,
    create_webhook,
    disable_webhook,
    queue_mail,
    retry_message,
    set_mail_opt_out,
)
from tests import operations_world
from tests.operations_world import assert_refused, ensure_admin, fetch_rows
from tests.outbox_support import (
    Collector,
    HangsUp,
    Refuser,
    SmtpServer,
    WebhookReceiver,
    free_port,
    password_checker,
    use_smtp,
)

world = operations_world.world
sworld = operations_world.sworld
NOW = dt.datetime(2030, 3, 11, 9, 0)  # after the real clock, so every queued message is due
LATER = NOW + dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def _an_administrator(request):
    """Settings, webhooks, retries and cancels are the administrator's: have one called admin."""
    for name in ("engine", "sqlite_engine"):
        if name in request.fixturenames:
            ensure_admin(request.getfixturevalue(name))


def _queue(engine, count: int, *, to="chef@example.com", subject="Order update") -> list[int]:
    with write_session(engine) as session:
        ids = []
        for i in range(count):
            message = queue_mail(session, to=to, subject=f"{subject} {i}", text=f"Body {i}")
            ids.append(message.id)
    return ids


def _statuses(engine) -> list[tuple]:
    return fetch_rows(
        engine,
        select(OutboxMessage.status, OutboxMessage.attempts).order_by(OutboxMessage.id),
    )


def _count(engine, table) -> int:
    return fetch_rows(engine, select(func.count()).select_from(table))[0][0]


# --- Queueing ------------------------------------------------------------------------------


def test_a_rolled_back_change_queues_nothing(engine):
    with pytest.raises(RuntimeError), write_session(engine) as session:
        queue_mail(session, to="a@example.com", subject="Hello", text="Body")
        raise RuntimeError("the business change failed")
    assert _count(engine, OutboxMessage) == 0


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"to": "not-an-address"}, "is not a mail address"),
        ({"to": ["ok@example.com", "bad@"]}, "'bad@' is not a mail address"),
        ({"to": "a@example.com\nBcc: x@example.com"}, "is not a mail address"),
        ({"subject": "  "}, "The subject is required"),
        ({"subject": "Two\nlines"}, "control character"),
        ({"text": ""}, "needs a text body"),
        ({"attachments": [("../x.pdf", "application/pdf", b"%PDF")]}, "must not contain a path"),
        ({"attachments": [("x.pdf", "pdf", b"%PDF")]}, "is not a mime type"),
    ],
)
def test_bad_mail_is_refused_and_nothing_queued(sqlite_engine, fields, fragment):
    call = {"to": "chef@example.com", "subject": "Hello", "text": "Body"} | fields

    def queue():
        with write_session(sqlite_engine) as session:
            queue_mail(session, **call)

    assert_refused(sqlite_engine, queue, ValidationError, fragment)


def test_smtp_port_out_of_range_is_refused(sqlite_engine):
    assert_refused(
        sqlite_engine,
        lambda: set_setting(sqlite_engine, key="mail_port", value=70000, actor="admin"),
        ValidationError,
        "mail_port must be at most 65535",
    )


def test_notify_with_mail_queues_it_and_respects_the_opt_out(sqlite_engine, sworld):
    gold, silver = sworld.customers["gold"], sworld.customers["silver"]
    set_mail_opt_out(sqlite_engine, customer_id=silver, opt_out=True, actor="cs")
    with write_session(sqlite_engine) as session:
        for customer_id in (gold, silver):
            notify(
                session,
                kind="promise_slipped",
                subject="Your backorder moved",
                body="Now expected 12 March <soon>",
                customer_id=customer_id,
                email_to="buyer@example.com",
            )
    assert fetch_rows(
        sqlite_engine,
        select(Notification.customer_id, Notification.status).order_by(Notification.id),
    ) == [(gold, "pending"), (silver, "in_app")]
    mails = fetch_rows(sqlite_engine, select(OutboxMessage.recipients, OutboxMessage.html_body))
    assert len(mails) == 1
    assert mails[0][0] == "buyer@example.com"
    assert "&lt;soon&gt;" in mails[0][1]  # the HTML part escapes the text


def test_opt_out_is_audited(sqlite_engine, sworld):
    from data.schema import AuditLog

    set_mail_opt_out(sqlite_engine, customer_id=sworld.customers["gold"], opt_out=True, actor="cs")
    assert fetch_rows(
        sqlite_engine, select(Customer.mail_opt_out).where(Customer.id == sworld.customers["gold"])
    ) == [(True,)]
    assert fetch_rows(sqlite_engine, select(AuditLog.action, AuditLog.after)) == [
        ("set_mail_opt_out", {"mail_opt_out": True})
    ]


# --- Dispatching over SMTP -----------------------------------------------------------------


def test_mail_reaches_the_smtp_server_with_text_and_html(engine):
    with SmtpServer(Collector()) as server:
        use_smtp(engine, server.port)
        with write_session(engine) as session:
            queue_mail(
                session,
                to=["chef@example.com", "owner@example.com"],
                subject="Backorder update",
                text="Your flour arrives on 12 March.\n\nThank you.",
                attachments=[("lines.csv", "text/csv", b"sku,qty\r\nFLOUR-25,10\r\n")],
            )
        counts = dispatch_outbox(engine, now=NOW, worker_id="w1")
    assert counts == {"claimed": 1, "sent": 1, "retried": 0, "failed": 0, "released": 0}
    [got] = server.received
    assert got.rcpt_tos == ["chef@example.com", "owner@example.com"]
    assert got.mail_from == "larder@example.com"
    assert got.message["Subject"] == "Backorder update"
    text_part = got.message.get_body(("plain",))
    html_part = got.message.get_body(("html",))
    assert text_part.get_content().strip() == "Your flour arrives on 12 March.\n\nThank you."
    assert "<p>Your flour arrives on 12 March.</p>" in html_part.get_content()
    [attachment] = list(got.message.iter_attachments())
    assert attachment.get_filename() == "lines.csv"
    assert attachment.get_content() == "sku,qty\r\nFLOUR-25,10\r\n"
    stored = fetch_rows(
        engine, select(OutboxMessage.message_id, OutboxMessage.status, OutboxMessage.sent_at)
    )
    assert stored == [(got.message["Message-ID"], "sent", NOW)]
    assert fetch_rows(engine, select(OutboxAttempt.outcome, OutboxAttempt.reply)) == [
        ("sent", "250 2.0.0 Message accepted for delivery")
    ]


def test_the_po_goes_to_its_supplier_with_pdf_and_csv(engine, world):
    with write_session(engine) as session:
        session.execute(
            update(Supplier)
            .where(Supplier.id == world.suppliers["MILL"])
            .values(email="orders@mill.example.com")
        )
        po = PurchaseOrder(
            number="PO-00042",
            supplier_id=world.suppliers["MILL"],
            warehouse_id=world.warehouse,
            status="draft",
            created_at=NOW,
        )
        session.add(po)
        session.flush()
        for sku, qty, cost in (("FLOUR-25", 60, "11.10"), ("NAPKIN-500", 40, "3.72")):
            session.add(
                PurchaseOrderLine(
                    po_id=po.id, product_id=world.products[sku], qty_ordered=qty, unit_cost=cost
                )
            )
        po_id = po.id
    approve_po(engine, po_id=po_id, actor="pam")
    send_po(engine, po_id=po_id, actor="pam", expected_date=dt.date(2030, 3, 18), now=NOW)
    with SmtpServer(Collector()) as server:
        use_smtp(engine, server.port)
        assert dispatch_outbox(engine, now=NOW)["sent"] == 1
    [got] = server.received
    assert got.rcpt_tos == ["orders@mill.example.com"]
    assert got.message["Subject"] == "Purchase order PO-00042 from Larder catering wholesale"
    assert (
        "FLOUR-25  Flour-25: 60 (packs of 5) at 11.10 = 666.00"
        in got.message.get_body(("plain",)).get_content()
    )
    files = {a.get_filename(): a for a in got.message.iter_attachments()}
    assert sorted(files) == ["PO-00042.csv", "PO-00042.pdf"]
    assert files["PO-00042.pdf"].get_content_type() == "application/pdf"
    pdf_text = PdfReader(io.BytesIO(files["PO-00042.pdf"].get_content())).pages[0].extract_text()
    for expected in (
        "Purchase order PO-00042",
        "Northern Mill",
        "FLOUR-25",
        "Napkin-500",
        "666.00",
        "148.80",
        "814.80",  # the total
        "2030-03-18",
    ):
        assert expected in pdf_text, expected
    csv_rows = files["PO-00042.csv"].get_content().splitlines()
    assert csv_rows == [
        "sku,name,quantity,pack_size,unit_cost,line_total",
        "FLOUR-25,Flour-25,60,5,11.10,666.00",
        "NAPKIN-500,Napkin-500,40,10,3.72,148.80",
    ]


def test_a_supplier_without_mail_gets_no_message_and_the_audit_says_so(sqlite_engine, sworld):
    from data.schema import AuditLog

    with write_session(sqlite_engine) as session:
        po = PurchaseOrder(
            number="PO-1", supplier_id=sworld.suppliers["MILL"], warehouse_id=sworld.warehouse
        )
        session.add(po)
        session.flush()
        session.add(
            PurchaseOrderLine(
                po_id=po.id, product_id=sworld.products["FLOUR-25"], qty_ordered=5, unit_cost=1
            )
        )
        po_id = po.id
    approve_po(sqlite_engine, po_id=po_id, actor="pam")
    send_po(sqlite_engine, po_id=po_id, actor="pam")
    assert _count(sqlite_engine, OutboxMessage) == 0
    [(note,)] = fetch_rows(sqlite_engine, select(AuditLog.note).where(AuditLog.action == "send_po"))
    assert note == "Northern Mill has no mail address: send the order by hand."


def test_server_down_then_up_delivers_every_message_once(engine):
    port = free_port()
    use_smtp(engine, port)
    _queue(engine, 3)
    down = dispatch_outbox(engine, now=NOW, worker_id="w1")
    assert down == {"claimed": 3, "sent": 0, "retried": 3, "failed": 0, "released": 0}
    assert _statuses(engine) == [("queued", 1)] * 3
    assert all(
        "cannot reach 127.0.0.1" in reply
        for (reply,) in fetch_rows(engine, select(OutboxAttempt.reply))
    )
    # Not yet due again: the retry waits (backoff), nothing is claimed.
    assert dispatch_outbox(engine, now=NOW + dt.timedelta(seconds=1))["claimed"] == 0
    with SmtpServer(Collector(), port=port) as server:
        up = dispatch_outbox(engine, now=LATER, worker_id="w1")
        again = dispatch_outbox(engine, now=LATER + dt.timedelta(days=1), worker_id="w1")
    assert up["sent"] == 3 and again["claimed"] == 0
    assert sorted(r.message["Subject"] for r in server.received) == [
        "Order update 0",
        "Order update 1",
        "Order update 2",
    ]
    assert _statuses(engine) == [("sent", 2)] * 3


@pytest.mark.parametrize(
    ("handler", "reply"),
    [
        (Refuser, "554 5.7.1 Message refused by policy"),
        (HangsUp, "connection lost: SMTPServerDisconnected"),
    ],
)
def test_a_refusing_or_hanging_up_server_is_retried_then_fails(sqlite_engine, handler, reply):
    with SmtpServer(handler()) as server:
        use_smtp(sqlite_engine, server.port)
        set_setting(sqlite_engine, key="mail_max_attempts", value=3, actor="admin")
        _queue(sqlite_engine, 1)
        outcomes = []
        at = NOW
        for _ in range(3):
            outcomes.append(dispatch_outbox(sqlite_engine, now=at))
            at += dt.timedelta(days=1)
        assert dispatch_outbox(sqlite_engine, now=at)["claimed"] == 0
    assert [(c["retried"], c["failed"]) for c in outcomes] == [(1, 0), (1, 0), (0, 1)]
    [(status, attempts, last_error)] = fetch_rows(
        sqlite_engine,
        select(OutboxMessage.status, OutboxMessage.attempts, OutboxMessage.last_error),
    )
    assert (status, attempts) == ("failed", 3)
    assert last_error.startswith(reply)
    attempts_rows = fetch_rows(
        sqlite_engine, select(OutboxAttempt.outcome).order_by(OutboxAttempt.id)
    )
    assert attempts_rows == [("retry",), ("retry",), ("failed",)]
    assert server.received == []


def test_retries_back_off_exponentially_with_jitter():
    rng = random.Random(7)
    waits = [retry_delay(n, 60, 3600, rng) for n in range(1, 9)]
    for n, wait in enumerate(waits, start=1):
        full = min(60 * 2 ** (n - 1), 3600)
        assert full / 2 <= wait <= full
    assert len({round(w, 6) for w in waits}) == len(waits)  # jitter: no two alike


def test_the_retry_wait_is_recorded_on_the_message(sqlite_engine):
    use_smtp(sqlite_engine, free_port(), mail_retry_base_seconds=100)
    _queue(sqlite_engine, 1)
    dispatch_outbox(sqlite_engine, now=NOW)
    [(next_at,)] = fetch_rows(sqlite_engine, select(OutboxMessage.next_attempt_at))
    assert NOW + dt.timedelta(seconds=50) <= next_at <= NOW + dt.timedelta(seconds=100)


@pytest.mark.parametrize("dispatchers", [2])
def test_two_dispatchers_at_once_send_each_message_once(engine, dispatchers):
    total = 40
    with SmtpServer(Collector()) as server:
        use_smtp(engine, server.port)
        _queue(engine, total)
        start = threading.Barrier(dispatchers)
        results, errors = [], []

        def run(name: str) -> None:
            try:
                start.wait()
                results.append(dispatch_until_empty(engine, now=NOW, batch=3, worker_id=name))
            except Exception as exc:  # surfaced by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(f"w{i}",)) for i in range(dispatchers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert errors == []
    subjects = [r.message["Subject"] for r in server.received]
    assert len(subjects) == total
    assert len(set(subjects)) == total
    assert sum(r["sent"] for r in results) == total
    assert all(r["sent"] > 0 for r in results), results  # both really took part
    assert _count(engine, OutboxAttempt) == total


def test_a_claim_is_taken_by_one_dispatcher_only(engine):
    _queue(engine, 5)
    first = claim_due(engine, worker_id="a", now=NOW, batch=3)
    second = claim_due(engine, worker_id="b", now=NOW, batch=10)
    assert len(first) == 3 and len(second) == 2
    assert not set(first) & set(second)
    assert claim_due(engine, worker_id="c", now=NOW, batch=10) == []


def test_a_dispatcher_killed_before_sending_loses_nothing(engine):
    _queue(engine, 2)
    claim_due(engine, worker_id="dead", now=NOW, batch=10)  # ...and the process dies here
    with SmtpServer(Collector()) as server:
        use_smtp(engine, server.port)
        assert dispatch_outbox(engine, now=NOW + CLAIM_LEASE / 2)["claimed"] == 0  # still leased
        assert dispatch_outbox(engine, now=NOW + CLAIM_LEASE * 2)["sent"] == 2
    assert len(server.received) == 2
    assert _statuses(engine) == [("sent", 1)] * 2


def test_killed_after_the_server_accepted_means_at_least_once_with_one_message_id(engine):
    """The guarantee: a copy may arrive twice, always with the same Message-ID to drop it by."""
    [message_id] = _queue(engine, 1)
    with SmtpServer(Collector()) as server:
        use_smtp(engine, server.port)
        claim_due(engine, worker_id="dead", now=NOW, batch=10)
        with write_session(engine) as session:
            message = session.get(OutboxMessage, message_id)
            config = MailConfig.from_settings(
                {
                    "mail_enabled": True,
                    "mail_host": "127.0.0.1",
                    "mail_port": server.port,
                    "mail_security": "none",
                    "mail_user": "-",
                    "mail_from": "larder@example.com",
                    "mail_timeout_seconds": 5,
                    "mail_retry_base_seconds": 60,
                    "mail_retry_max_seconds": 600,
                    "mail_max_attempts": 5,
                    "webhook_max_attempts": 5,
                    "webhook_timeout_seconds": 5,
                }
            )
            transport = SmtpTransport(config, None)
            transport.send(
                build_mail(message, [], config.sender), config.sender, [message.recipients]
            )
            transport.close()  # the server said 250; the process dies before marking it sent
        dispatch_outbox(engine, now=NOW + CLAIM_LEASE * 2, worker_id="next")
        dispatch_outbox(engine, now=NOW + CLAIM_LEASE * 4, worker_id="next")
    ids = [r.message["Message-ID"] for r in server.received]
    assert len(ids) == 2 and ids[0] == ids[1]
    assert _statuses(engine) == [("sent", 1)]


def test_without_an_smtp_server_mail_lands_in_the_maildir(sqlite_engine, tmp_path):
    _queue(sqlite_engine, 2, to="demo@example.com")
    counts = dispatch_outbox(sqlite_engine, now=NOW, maildir=tmp_path / "maildir")
    assert counts["sent"] == 2
    box = mailbox.Maildir(tmp_path / "maildir", create=False)
    subjects = sorted(message["Subject"] for message in box)
    assert subjects == ["Order update 0", "Order update 1"]
    [(reply,)] = fetch_rows(sqlite_engine, select(OutboxAttempt.reply).limit(1))
    assert reply.startswith(f"delivered to Maildir {tmp_path / 'maildir'}")


def test_sent_notification_mail_marks_the_notification_sent(sqlite_engine, sworld, tmp_path):
    with write_session(sqlite_engine) as session:
        notify(
            session,
            kind="low_stock",
            subject="Flour is low",
            body="10 left",
            email_to="pam@example.com",
        )
    dispatch_outbox(sqlite_engine, now=NOW, maildir=tmp_path / "md")
    assert fetch_rows(sqlite_engine, select(Notification.status)) == [("sent",)]


def test_the_password_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("LARDER_SMTP_PASSWORD", "from-env")
    assert smtp_password() == "from-env"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize(("password", "sent"), [("s3cret-pass", 1), ("wrong", 0)])
def test_the_dispatcher_logs_in_with_the_user_and_the_environment_password(
    sqlite_engine, monkeypatch, password, sent
):
    monkeypatch.setenv("LARDER_SMTP_PASSWORD", password)
    server = SmtpServer(
        Collector(),
        authenticator=password_checker("larder", "s3cret-pass"),
        auth_required=True,
        auth_require_tls=False,  # loopback test server; production uses starttls or ssl
    )
    with server:
        use_smtp(sqlite_engine, server.port, mail_user="larder")
        _queue(sqlite_engine, 1)
        counts = dispatch_outbox(sqlite_engine, now=NOW)
    assert (counts["sent"], len(server.received)) == (sent, sent)
    if not sent:
        [(reply,)] = fetch_rows(sqlite_engine, select(OutboxAttempt.reply))
        assert reply.startswith("535 ")  # authentication failed, kept as the server said it


def test_an_unknown_security_mode_is_refused_at_entry(sqlite_engine):
    assert_refused(
        sqlite_engine,
        lambda: set_setting(sqlite_engine, key="mail_security", value="tls", actor="admin"),
        ValidationError,
        "must be one of none, starttls, ssl",
    )


def test_a_run_that_outlives_half_its_lease_hands_the_rest_back(sqlite_engine, monkeypatch):
    monkeypatch.setattr("operations.dispatcher.CLAIM_LEASE", dt.timedelta(0))
    _queue(sqlite_engine, 3)
    counts = dispatch_outbox(sqlite_engine, now=NOW)
    assert (counts["claimed"], counts["released"], counts["sent"]) == (3, 3, 0)
    assert (
        fetch_rows(
            sqlite_engine,
            select(OutboxMessage.status, OutboxMessage.attempts, OutboxMessage.claimed_by),
        )
        == [("queued", 0, None)] * 3
    )


# --- Retry and cancel ----------------------------------------------------------------------


def test_retry_and_cancel_follow_the_status(sqlite_engine):
    [mid] = _queue(sqlite_engine, 1)
    assert_refused(
        sqlite_engine,
        lambda: retry_message(sqlite_engine, message_id=mid, actor="admin"),
        InvalidState,
        "only a failed or cancelled message can be retried",
    )
    cancel_message(sqlite_engine, message_id=mid, actor="admin")
    assert dispatch_outbox(sqlite_engine, now=LATER)["claimed"] == 0
    retry_message(sqlite_engine, message_id=mid, actor="admin")
    assert _statuses(sqlite_engine) == [("queued", 0)]


# --- Webhooks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("ftp://example.com/hook", "must start with http:// or https://"),
        ("javascript:alert(1)", "must start with http:// or https://"),
        ("https:///nohost", "has no host name"),
        ("", "The webhook URL is required"),
    ],
)
def test_a_webhook_url_that_is_not_http_is_refused(sqlite_engine, url, fragment):
    assert_refused(
        sqlite_engine,
        lambda: create_webhook(sqlite_engine, event="low_stock", url=url, actor="admin"),
        ValidationError,
        fragment,
    )


def test_webhook_deliveries_are_signed(engine):
    with WebhookReceiver() as receiver:
        hook_id, secret = create_webhook(engine, event="low_stock", url=receiver.url, actor="admin")
        create_webhook(engine, event="po_late", url=receiver.url, actor="admin")
        with write_session(engine) as session:
            notify(session, kind="low_stock", subject="Flour is low", body="10 left", role="buyer")
        counts = dispatch_outbox(engine, now=NOW)
    assert counts["sent"] == 1  # only the hook subscribed to low_stock
    [(headers, body)] = receiver.requests
    timestamp = headers["X-Larder-Timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    assert headers["X-Larder-Signature"] == "sha256=" + expected.hexdigest()
    assert headers["X-Larder-Event"] == "low_stock"
    payload = json.loads(body)
    assert payload["event"] == "low_stock"
    assert payload["data"]["subject"] == "Flour is low"
    assert fetch_rows(engine, select(OutboxAttempt.outcome)) == [("sent",)]


def test_a_failing_webhook_is_retried_and_recorded(sqlite_engine):
    with WebhookReceiver(status=503) as receiver:
        create_webhook(sqlite_engine, event="low_stock", url=receiver.url, actor="admin")
        set_setting(sqlite_engine, key="webhook_max_attempts", value=2, actor="admin")
        with write_session(sqlite_engine) as session:
            notify(session, kind="low_stock", subject="Flour is low", body="", role="buyer")
        dispatch_outbox(sqlite_engine, now=NOW)
        dispatch_outbox(sqlite_engine, now=LATER)
    assert len(receiver.requests) == 2
    assert fetch_rows(sqlite_engine, select(OutboxAttempt.outcome, OutboxAttempt.reply)) == [
        ("retry", 'HTTP 503 Service Unavailable {"ok": false}'),
        ("failed", 'HTTP 503 Service Unavailable {"ok": false}'),
    ]


def test_a_disabled_webhook_gets_no_new_events(sqlite_engine):
    hook_id, _ = create_webhook(
        sqlite_engine, event="low_stock", url="https://hooks.example.com/x", actor="admin"
    )
    disable_webhook(sqlite_engine, webhook_id=hook_id, actor="admin")
    with write_session(sqlite_engine) as session:
        notify(session, kind="low_stock", subject="Flour is low", body="", role="buyer")
    assert _count(sqlite_engine, OutboxMessage) == 0
    assert_refused(
        sqlite_engine,
        lambda: disable_webhook(sqlite_engine, webhook_id=hook_id, actor="admin"),
        InvalidState,
        "already disabled",
    )
    assert _count(sqlite_engine, OutboxAttachment) == 0
