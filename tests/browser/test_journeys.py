"""Journeys through the real app in Debian's chromium: order, live stock, deep links, reloads.

The shared server serves the ordering journey, the reload and the wrong-role tests; the deep-link
test starts a server of its own per page, because the danger it guards against (pages/ served
without app.py) exists only before any session has run ``st.navigation``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, func, select

from data.db import make_engine
from data.schema import (
    Backorder,
    Customer,
    Order,
    OrderLine,
    Product,
    Stock,
    Supplier,
    User,
)
from data.settings import get_setting
from tests.browser.harness import (
    REPO_ROOT,
    StreamlitServer,
    act,
    choose,
    choose_radio,
    dataframe_with_column,
    go_to,
    login,
    open_app,
    open_tab,
    password_box,
    path_of,
    sqlite_url,
    table_cell,
    type_and_enter,
    wait_for_settled,
)
from ui.format import day

PAGE_FILES = sorted(p for p in (REPO_ROOT / "pages").glob("*.py") if not p.name.startswith("_"))
# Elements that would show data: grids, static tables, metrics, charts, JSON.
DATA_SELECTORS = (
    '[data-testid="stDataFrame"], [data-testid="stTable"], [data-testid="stMetric"], '
    '[data-testid="stVegaLiteChart"], [data-testid="stArrowVegaLiteChart"], '
    '[data-testid="stJson"]'
)
# Units ordered beyond what is available, so the order line is partly backordered.
SHORT_BY = 3
# The backorder grid at its default height draws about ten rows; stay well below.
MAX_REPORT_ROWS_DRAWN = 8
# What a loaded 2-core machine may add to the refresh interval: one fragment run plus drawing.
REFRESH_SLACK_S = 5


@pytest.fixture(scope="module")
def db(shared_server) -> Engine:
    """The shared server's database, for reading what the pages should show."""
    engine = make_engine(sqlite_url(shared_server.database))
    yield engine
    engine.dispose()


def private_strings(engine: Engine) -> list[str]:
    """Text only a logged-in user may see: every product SKU and every customer's name."""
    with engine.connect() as conn:
        skus = list(conn.execute(select(Product.sku)).scalars())
        customers = list(conn.execute(select(Customer.name)).scalars())
    return skus + customers


@dataclass(frozen=True)
class Pick:
    sku: str
    name: str
    category: str
    supplier: str
    available: int


def product_to_short(engine: Engine) -> Pick:
    """An in-stock product nobody waits for, whose category and supplier have the fewest open
    backorders.

    The manager filters the report by that category and supplier; few rows keep the new
    backorder among the rows the grid draws (it draws only visible rows, oldest first).
    """
    available = func.sum(Stock.on_hand - Stock.reserved)
    open_per_group = (
        select(
            Product.category,
            Product.supplier_id,
            func.count(Backorder.id).label("waiting"),
        )
        .join(Backorder, (Backorder.product_id == Product.id) & (Backorder.status == "open"))
        .group_by(Product.category, Product.supplier_id)
        .subquery()
    )
    waiting = func.coalesce(open_per_group.c.waiting, 0)
    waiting_for_product = select(Backorder.product_id).where(Backorder.status == "open")
    statement = (
        select(Product.sku, Product.name, Product.category, Supplier.name, available, waiting)
        .join(Stock, Stock.product_id == Product.id)
        .join(Supplier, Supplier.id == Product.supplier_id)
        .outerjoin(
            open_per_group,
            (open_per_group.c.category == Product.category)
            & (open_per_group.c.supplier_id == Product.supplier_id),
        )
        .where(Product.active.is_(True), Product.id.not_in(waiting_for_product))
        .group_by(Product.id, Supplier.name, open_per_group.c.waiting)
        .having(available > 0, available < 1000)
        .order_by(waiting, available, Product.sku)
        .limit(1)
    )
    with engine.connect() as conn:
        *fields, already_waiting = conn.execute(statement).one()
    assert already_waiting < MAX_REPORT_ROWS_DRAWN, (
        f"every candidate's category and supplier already have {already_waiting} open "
        "backorders: the new one might not be drawn in the manager's report"
    )
    return Pick(*fields)


def refresh_seconds(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(get_setting(conn, "refresh_seconds"))


def latest_backorder(engine: Engine, username: str, sku: str):
    """(qty, estimated_date, order number) of the newest backorder of ``username`` for ``sku``."""
    statement = (
        select(Backorder.qty, Backorder.estimated_date, Order.number)
        .join(OrderLine, OrderLine.id == Backorder.order_line_id)
        .join(Order, Order.id == OrderLine.order_id)
        .join(User, User.customer_id == Backorder.customer_id)
        .join(Product, Product.id == Backorder.product_id)
        .where(User.username == username, Product.sku == sku)
        .order_by(Backorder.id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        return conn.execute(statement).one_or_none()


def open_page_as(new_page, server: StreamlitServer, username: str, password: str) -> Page:
    page = new_page()
    open_app(page, server.url)
    login(page, username, password)
    return page


def assert_no_data(page: Page, private: list[str]) -> None:
    expect(page.locator(DATA_SELECTORS)).to_have_count(0)
    text = page.locator("body").inner_text()
    shown = [value for value in private if value in text]
    assert not shown, f"data on a page for a logged-out visitor: {shown[:5]}"


def test_customer_backorder_reaches_the_managers_live_stock_page(shared_server, db, open_page):
    """(a) + (b): the customer orders more than is in stock; the manager's open page updates."""
    pick = product_to_short(db)
    ordered = pick.available + SHORT_BY
    interval = refresh_seconds(db)

    # (b) The warehouse manager is on the stock page before the order exists.
    manager = open_page_as(open_page, shared_server, "manager", "manager-demo")
    go_to(manager, "Stock control")
    type_and_enter(manager, "stock_search", pick.sku)
    stock_table = dataframe_with_column(manager, "Available")
    expect(table_cell(stock_table, pick.sku, "Available")).to_have_text(str(pick.available))
    expect(table_cell(stock_table, pick.sku, "Backordered")).to_have_text("0")
    open_tab(manager, "Backorder report")
    choose(manager, "report_category", pick.category)
    choose(manager, "report_supplier", pick.supplier)
    choose(manager, "report_age", "Up to 7 days")
    manager.evaluate("window.__larderNotReloaded = true")
    navigations: list[str] = []
    manager.on("framenavigated", lambda frame: navigations.append(frame.url))

    # (a) The customer orders more than is available and accepts the backorder.
    customer = open_page_as(open_page, shared_server, "customer1", "customer1-demo")
    go_to(customer, "Shop")
    type_and_enter(customer, "shop_search", pick.sku)
    choose(customer, "shop_pick", f"({pick.sku})", exact=False)
    type_and_enter(customer, "shop_qty", str(ordered))
    act(customer, customer.get_by_role("button", name="Add to cart").click)
    open_tab(customer, "Cart")
    expect(
        customer.get_by_text(f"Only {pick.available} in stock: {SHORT_BY} short")
    ).to_be_visible()
    choose_radio(customer, "shop_backorder_choice", "Accept the backorder")
    act(customer, customer.get_by_role("button", name="Place order").click)
    placed_at = time.monotonic()

    found = latest_backorder(db, "customer1", pick.sku)
    assert found is not None, "placing the order created no backorder"
    backordered, expected_date, order_number = found
    assert backordered == SHORT_BY
    assert expected_date is not None, "the backorder has no expected date"
    expect(customer.get_by_text(f"Order {order_number} placed")).to_be_visible()
    confirmation = customer.get_by_test_id("stMainBlockContainer")  # the inbox says it too
    expect(
        confirmation.get_by_text(
            f"{pick.sku}: {SHORT_BY} on backorder, expected {day(expected_date)}"
        )
    ).to_be_visible()

    # (b) Without a reload, within one refresh interval (plus a run's time), the manager sees
    # the product short and the new backorder in the report.
    budget_ms = (interval + REFRESH_SLACK_S) * 1000
    report = dataframe_with_column(manager, "Open qty")
    expect(table_cell(report, order_number, "Open qty")).to_have_text(
        str(SHORT_BY), timeout=budget_ms
    )
    open_tab(manager, "Stock")
    expect(table_cell(stock_table, pick.sku, "Available")).to_have_text("0", timeout=budget_ms)
    expect(table_cell(stock_table, pick.sku, "Backordered")).to_have_text(str(SHORT_BY))
    expect(table_cell(stock_table, pick.sku, "Status")).to_have_text("Backorders")
    seen_after = time.monotonic() - placed_at
    assert manager.evaluate("window.__larderNotReloaded === true"), "the stock page was reloaded"
    assert navigations == [], f"the stock page navigated: {navigations}"
    print(f"manager saw the backorder {seen_after:.1f} s after the order (refresh {interval} s)")


@pytest.mark.parametrize("page_file", PAGE_FILES, ids=lambda p: p.stem)
def test_deep_link_after_fresh_start_shows_login_and_no_data(
    page_file: Path, fresh_server, demo_template_db, open_page
):
    """(c) The first visitor after a start opens a page's URL directly, logged out."""
    page = open_page()
    open_app(page, fresh_server.url, f"/{page_file.stem}")
    refusal = page.get_by_text(re.compile("Please log in"))
    expect(password_box(page).or_(refusal).first).to_be_visible()
    engine = make_engine(sqlite_url(demo_template_db))
    try:
        private = private_strings(engine)
    finally:
        engine.dispose()
    assert_no_data(page, private)


def test_reload_keeps_the_user_on_the_page(shared_server, open_page):
    """(d) A reload on a sub-page logs back in from the cookie and stays on that page."""
    page = open_page_as(open_page, shared_server, "manager", "manager-demo")
    go_to(page, "Stock control")
    assert path_of(page) == "/stock_control"
    page.reload()
    wait_for_settled(page)
    expect(page.get_by_role("heading", name="Stock control")).to_be_visible()
    expect(password_box(page)).to_have_count(0)
    assert path_of(page) == "/stock_control"


def test_customer_opening_admin_by_url_is_refused(shared_server, db, open_page):
    """(e) A logged-in customer who types the admin page's URL gets no admin page."""
    page = open_page_as(open_page, shared_server, "customer1", "customer1-demo")
    page.goto(shared_server.url + "/admin")
    wait_for_settled(page)
    if password_box(page).count():  # the cookie did not log us back in: log in on /admin
        login(page, "customer1", "customer1-demo")
    expect(password_box(page)).to_have_count(0)
    # Either the page's guard refuses, or the router never offers the page (lands on Home).
    refused = page.get_by_text("This page is for").or_(
        page.get_by_role("heading", name=re.compile("^Welcome"))
    )
    expect(refused.first).to_be_visible()
    expect(page.get_by_role("heading", name="Admin", exact=True)).to_have_count(0)
    with db.connect() as conn:
        others = list(
            conn.execute(select(User.username).where(User.username != "customer1")).scalars()
        )
    text = page.locator('[data-testid="stMain"]').inner_text()
    assert not [u for u in others if re.search(rf"\b{re.escape(u)}\b", text)]


def test_logout_forgets_the_login_cookie(shared_server, open_page):
    """After logging out, a reload shows the login form, not the page (the cookie is gone)."""
    page = open_page_as(open_page, shared_server, "manager", "manager-demo")
    go_to(page, "Stock control")
    act(page, page.get_by_role("button", name="Log out").click)
    expect(password_box(page)).to_be_visible()
    page.reload()
    wait_for_settled(page)
    expect(password_box(page)).to_be_visible()
    expect(page.get_by_role("heading", name="Stock control")).to_have_count(0)
    expect(page.locator(DATA_SELECTORS)).to_have_count(0)
