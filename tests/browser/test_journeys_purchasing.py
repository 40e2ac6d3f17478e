"""Journeys of the buyer and of logistics in Debian's chromium.

The buyer edits a drafted purchase order in the grid, approves it and sends it (the PO is sent
in the database, with its inbound shipment, and the outbox delivers it to the supplier's address
on a local SMTP server with its PDF and CSV). Logistics records a delay on an inbound shipment
a customer's backorder waits on: the backorder's estimate moves and the customer finds the
notice in their inbox.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader
from sqlalchemy import Engine, select

from data import notices as notices_text
from data.db import make_engine, read_connection
from data.schema import (
    Backorder,
    Notification,
    OutboxMessage,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Shipment,
    Supplier,
)
from data.settings import all_settings
from operations.admin import set_setting
from operations.dispatcher import dispatch_until_empty
from queries import purchasing
from tests.browser.harness import (
    act,
    choose,
    go_to,
    login,
    open_app,
    sqlite_url,
    wait_for_settled,
)
from tests.outbox_support import Collector, SmtpServer, use_smtp
from tests.transit_support import backorder_on_inbound

# Glide's grid: the first body row's centre lies this far below the grid's top edge.
GRID_FIRST_ROW_Y = 53
GRID_FIRST_CELL_X = 40
GRID_STEP_MS = 700
# What use_smtp changes on the shared server's database; put back after the test.
MAIL_SETTINGS = (
    "mail_enabled",
    "mail_host",
    "mail_port",
    "mail_security",
    "mail_timeout_seconds",
    "mail_retry_base_seconds",
    "mail_retry_max_seconds",
)


@pytest.fixture(scope="module")
def db(shared_server) -> Engine:
    engine = make_engine(sqlite_url(shared_server.database))
    yield engine
    engine.dispose()


@pytest.fixture
def supplier_smtp(db) -> SmtpServer:
    """A local SMTP server the shared server's outbox mails to; the mail settings are restored
    afterwards, since the server (and its database) outlives this test."""
    with read_connection(db) as conn:
        before = {key: value for key, value in all_settings(conn).items() if key in MAIL_SETTINGS}
    with SmtpServer(Collector()) as server:
        use_smtp(db, server.port)
        try:
            yield server
        finally:
            for key, value in before.items():
                set_setting(db, key=key, value=value, actor="admin")


def line_qty(db: Engine, line_id: int) -> int:
    with read_connection(db) as conn:
        return conn.execute(
            select(PurchaseOrderLine.qty_ordered).where(PurchaseOrderLine.id == line_id)
        ).scalar_one()


def po_status(db: Engine, po_id: int) -> str:
    with read_connection(db) as conn:
        return conn.execute(
            select(PurchaseOrder.status).where(PurchaseOrder.id == po_id)
        ).scalar_one()


def arrival_of(db: Engine, shipment_id: int) -> dt.date | None:
    with read_connection(db) as conn:
        return conn.execute(
            select(Shipment.estimated_arrival).where(Shipment.id == shipment_id)
        ).scalar_one()


def open_page_as(open_page, server, username: str, password: str) -> Page:
    """A logged-in page. On this shared 2-core machine the login cookie component can rerun
    the script while the form is filled and clear it; then the login is tried once more."""
    page = open_page()
    open_app(page, server.url)
    try:
        login(page, username, password)
    except AssertionError:
        open_app(page, server.url)
        login(page, username, password)
    return page


def fill_date(page: Page, key: str, day: dt.date) -> None:
    """Type a date into a date input (year, month and day are separate spin buttons)."""
    group = page.locator(f".st-key-{key}")
    for part, value in (("year", f"{day.year:04d}"), ("month", f"{day.month:02d}"),
                        ("day", f"{day.day:02d}")):  # fmt: skip
        spin = group.get_by_role("spinbutton", name=re.compile(f"^{part},"))
        spin.click()
        spin.press_sequentially(value)
    page.keyboard.press("Tab")


def wait_until(check, what: str, timeout_s: float = 30) -> None:
    """Poll the database until ``check()`` holds (a flash message may be gone after a rerun)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        time.sleep(0.3)


def choose_in_form(page: Page, key: str, option: str) -> None:
    """Pick an option of a selectbox inside a form (no run starts until the form is sent)."""
    box = page.locator(f".st-key-{key}").get_by_role("combobox")
    box.click()
    box.fill(option)
    box.press("Enter")
    expect(box).to_have_value(option)


def test_the_buyer_edits_approves_and_sends_a_drafted_po(
    shared_server, db, open_page, supplier_smtp
):
    drafts = purchasing.draft_purchase_orders(db)
    drafts = drafts[drafts["status"] == "draft"]
    assert not drafts.empty, "the tiny demo has drafted purchase orders"
    first = drafts.iloc[0]  # the page offers this PO first; its first line is row 0
    po_id, line_id = int(first["po_id"]), int(first["po_line_id"])
    new_qty = int(first["qty"]) + int(first["pack_size"])
    with read_connection(db) as conn:
        po_number, supplier_email = conn.execute(
            select(PurchaseOrder.number, Supplier.email)
            .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
            .where(PurchaseOrder.id == po_id)
        ).one()
    assert supplier_email, f"the demo supplier of {po_number} has a mail address"

    buyer = open_page_as(open_page, shared_server, "buyer", "buyer-demo")
    go_to(buyer, "Replenishment")
    act(buyer, buyer.get_by_role("tab", name="Drafted POs", exact=True).click)
    grid = buyer.locator(f".st-key-replen_lines_{po_id}")
    expect(grid).to_be_visible()
    # Select the first cell (SKU), step right to Quantity, open its editor, replace, commit.
    # The grid draws on a canvas with no event to wait for: give each step a moment.
    grid.click(position={"x": GRID_FIRST_CELL_X, "y": GRID_FIRST_ROW_Y})
    buyer.wait_for_timeout(GRID_STEP_MS)
    buyer.keyboard.press("ArrowRight")
    buyer.keyboard.press("ArrowRight")
    buyer.keyboard.press("Enter")
    buyer.wait_for_timeout(GRID_STEP_MS)
    buyer.keyboard.press("Control+a")
    buyer.keyboard.type(str(new_qty))
    buyer.wait_for_timeout(GRID_STEP_MS)  # the editor takes the typed value before Enter
    act(buyer, lambda: buyer.keyboard.press("Enter"))
    # The unsaved edit survives a look at another tab (only the open tab is drawn).
    act(buyer, buyer.get_by_role("tab", name="Low stock", exact=True).click)
    expect(grid).to_have_count(0)
    act(buyer, buyer.get_by_role("tab", name="Drafted POs", exact=True).click)
    expect(grid).to_be_visible()
    assert line_qty(db, line_id) != new_qty  # not saved yet
    act(buyer, buyer.get_by_role("button", name="Save changes").click)
    wait_until(lambda: line_qty(db, line_id) == new_qty, "the new quantity saved")
    act(buyer, buyer.get_by_role("button", name="Approve").click)
    wait_until(lambda: po_status(db, po_id) == "approved", "the PO approved")
    buyer.locator(f".st-key-replen_send_tracking_{po_id} input").fill("TRK-BROWSER-1")
    act(buyer, buyer.get_by_role("button", name="Send to supplier").click)
    wait_until(lambda: po_status(db, po_id) == "sent", "the PO sent")

    with read_connection(db) as conn:
        status = conn.execute(
            select(PurchaseOrder.status, PurchaseOrder.approved_by, PurchaseOrder.sent_at).where(
                PurchaseOrder.id == po_id
            )
        ).one()
        qty = conn.execute(
            select(PurchaseOrderLine.qty_ordered).where(PurchaseOrderLine.id == line_id)
        ).scalar_one()
        shipment = conn.execute(
            select(Shipment.direction, Shipment.tracking).where(Shipment.po_id == po_id)
        ).one()
    assert (status.status, status.approved_by) == ("sent", "buyer")
    assert status.sent_at is not None
    assert qty == new_qty
    assert tuple(shipment) == ("inbound", "TRK-BROWSER-1")

    # The app's outbox worker does not run in tests: dispatch here, to the local SMTP server.
    dispatch_until_empty(db)
    to_supplier = [
        got
        for got in supplier_smtp.received
        if got.rcpt_tos == [supplier_email] and po_number in got.message["Subject"]
    ]
    assert len(to_supplier) == 1, [
        (g.rcpt_tos, g.message["Subject"]) for g in supplier_smtp.received
    ]
    mail = to_supplier[0].message
    with read_connection(db) as conn:
        lines = conn.execute(
            select(Product.sku, PurchaseOrderLine.qty_ordered)
            .join(Product, Product.id == PurchaseOrderLine.product_id)
            .where(PurchaseOrderLine.po_id == po_id)
            .order_by(Product.sku)
        ).all()
        outbox_status = conn.execute(
            select(OutboxMessage.status).where(
                OutboxMessage.ref_type == "purchase_order", OutboxMessage.ref_id == po_id
            )
        ).scalar_one()
    assert outbox_status == "sent"
    assert lines and (first["sku"], new_qty) in [tuple(line) for line in lines]
    files = {part.get_content_type(): part for part in mail.iter_attachments()}
    assert set(files) == {"application/pdf", "text/csv"}
    assert files["application/pdf"].get_filename() == f"{po_number}.pdf"
    pdf = PdfReader(io.BytesIO(files["application/pdf"].get_content()))
    pdf_text = "\n".join(page.extract_text() for page in pdf.pages)
    assert po_number in pdf_text
    for sku, _qty in lines:
        assert sku in pdf_text, (sku, pdf_text)
    sheet = list(csv.DictReader(io.StringIO(files["text/csv"].get_content())))
    assert [(row["sku"], int(row["quantity"])) for row in sheet] == [tuple(line) for line in lines]


def test_logistics_records_a_delay_and_the_customer_is_told(shared_server, db, open_page):
    waiting = backorder_on_inbound(db, "customer1")
    new_date = max(waiting.estimated_arrival, dt.date.today()) + dt.timedelta(days=12)

    logistics = open_page_as(open_page, shared_server, "logistics", "logistics-demo")
    go_to(logistics, "In transit")
    choose(logistics, "transit_inbound_pick", f"{waiting.shipment_number} —", exact=False)
    sid = waiting.shipment_id
    choose_in_form(logistics, f"transit_event_kind_{sid}", "Delayed")
    fill_date(logistics, f"transit_event_date_{sid}", new_date)
    logistics.locator(f".st-key-transit_event_note_{sid} input").fill("Ferry cancelled")
    act(logistics, logistics.get_by_role("button", name="Record event").click)
    wait_until(lambda: arrival_of(db, sid) == new_date, "the delay recorded")

    with read_connection(db) as conn:
        estimate = conn.execute(
            select(Backorder.estimated_date).where(Backorder.id == waiting.backorder_id)
        ).scalar_one()
        arrival = conn.execute(
            select(Shipment.estimated_arrival).where(Shipment.id == sid)
        ).scalar_one()
        # A customer's notices are addressed to the customer (role "customer"), not to a user.
        notices = conn.execute(
            select(Notification.subject, Notification.email_to).where(
                Notification.role == "customer",
                Notification.customer_id == waiting.customer_id,
                Notification.ref_type == "backorder",
                Notification.ref_id == waiting.backorder_id,
            )
        ).all()
    assert arrival == new_date
    assert estimate > waiting.estimated_date, (estimate, waiting.estimated_date)
    assert len(notices) == 1 and f"now expected {notices_text.day(estimate)}" in notices[0].subject

    customer = open_page_as(open_page, shared_server, "customer1", "customer1-demo")
    wait_for_settled(customer)
    customer.get_by_text("Inbox").first.click()
    expect(customer.get_by_text(notices[0].subject).first).to_be_visible()
