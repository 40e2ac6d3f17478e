"""The Admin page's Outbox tab through AppTest: the message, retry, cancel and webhooks."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from data.db import make_engine, write_session
from data.schema import AuditLog, OutboxMessage, Webhook
from operations.outbox import queue_mail
from tests import apptest_support
from tests.apptest_support import app_test

fresh_caches = apptest_support.fresh_caches
fresh_db_url = apptest_support.fresh_db_url


@pytest.fixture
def db(fresh_db_url):
    engine = make_engine(fresh_db_url)
    yield engine
    engine.dispose()


def _message(db, *, status: str, subject: str) -> int:
    with write_session(db) as session:
        message = queue_mail(
            session,
            to="orders@mill.example.com",
            subject=subject,
            text="Please supply PO-1.",
            attachments=[("PO-1.pdf", "application/pdf", b"%PDF-1.4 test")],
        )
        session.flush()
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id)
            .values(status=status, attempts=5, last_error="554 5.7.1 Message refused by policy")
        )
        return message.id


def _page():
    """The Admin page on its Outbox tab (only the open tab is drawn)."""
    at = app_test("pages/admin.py", "admin")
    at.session_state["admin_tab"] = "Outbox"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _click(at, key: str):
    at.button(key=key).click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _status(db, message_id: int) -> str:
    with db.connect() as conn:
        return conn.execute(
            select(OutboxMessage.status).where(OutboxMessage.id == message_id)
        ).scalar_one()


def test_the_outbox_tab_shows_a_failed_message_and_retries_it(db):
    failed = _message(db, status="failed", subject="Purchase order PO-1")
    at = _page()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Failed"] == "1"
    at.selectbox(key="outbox_pick").set_value(failed).run()
    assert "554 5.7.1 Message refused by policy" in " ".join(c.value for c in at.caption)
    assert [c.value for c in at.code] == ["Please supply PO-1."]
    files = next(d.value for d in at.dataframe if "filename" in d.value.columns)
    assert files.values.tolist() == [["PO-1.pdf", "application/pdf", 13]]
    assert at.button(key="outbox_cancel").disabled is False
    _click(at, "outbox_retry")
    assert _status(db, failed) == "queued"
    assert at.success[0].value == f"Message #{failed} is queued again."
    with db.connect() as conn:
        assert conn.execute(
            select(AuditLog.actor, AuditLog.entity_id).where(AuditLog.action == "retry_message")
        ).all() == [("admin", str(failed))]


def test_cancel_stops_a_queued_message(db):
    queued = _message(db, status="queued", subject="Backorder update")
    at = _page()
    at.selectbox(key="outbox_pick").set_value(queued).run()
    assert at.button(key="outbox_retry").disabled is True
    _click(at, "outbox_cancel")
    assert _status(db, queued) == "cancelled"


def test_a_webhook_that_is_not_http_is_refused_on_the_page(db):
    at = _page()
    at.text_input(key="outbox_hook_url").input("ftp://files.example.com/drop")
    next(b for b in at.button if b.label == "Register webhook").click()
    at.run()
    assert "must start with http" in at.error[0].value
    with db.connect() as conn:
        assert conn.execute(select(Webhook.id)).all() == []


def test_register_then_disable_a_webhook(db):
    at = _page()
    at.selectbox(key="outbox_hook_event").set_value("promise_slipped")
    at.text_input(key="outbox_hook_url").input("https://hooks.example.com/larder")
    next(b for b in at.button if b.label == "Register webhook").click()
    at.run()
    assert not at.exception
    assert any("signing secret" in i.value for i in at.info)
    with db.connect() as conn:
        [(hook_id, event, active)] = conn.execute(
            select(Webhook.id, Webhook.event, Webhook.active)
        ).all()
    assert (event, active) == ("promise_slipped", True)
    _click(at, "outbox_hook_disable")
    with db.connect() as conn:
        assert conn.execute(select(Webhook.active)).scalar_one() is False
