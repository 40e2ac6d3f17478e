"""Journeys through the customer desks in Debian's chromium.

The representative offers a substitute and the customer sees the swapped line in the Shop;
customer service finds an order by phone number, records a call, answers it, and the
response-time figure moves.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from sqlalchemy import func, select, update

import operations
from data.db import make_engine, write_session
from data.schema import Communication, Customer, Order, Product, Stock, Substitute, User
from queries import customer_desks as desks
from tests.browser.harness import (
    act,
    dataframe_with_column,
    go_to,
    login,
    messages_received,
    open_app,
    open_tab,
    sqlite_url,
    type_and_enter,
    wait_for_answer,
    wait_for_settled,
)


@pytest.fixture
def db(fresh_server):
    engine = make_engine(sqlite_url(fresh_server.database))
    yield engine
    engine.dispose()


def open_page_as(new_page, server, username: str) -> Page:
    page = new_page()
    open_app(page, server.url)
    login(page, username, f"{username}-demo")
    return page


def choose_typed(page: Page, key: str, text: str) -> None:
    """Type ``text`` into a selectbox (long lists draw only some options) and pick the match."""
    box = page.locator(f".st-key-{key}").get_by_role("combobox")
    if text in box.input_value():  # already chosen: choosing it again starts no run
        return
    for attempt in (1, 2):
        box.click()
        box.fill(text)
        before = messages_received(page)
        page.get_by_role("option", name=re.compile(re.escape(text))).first.click()
        try:
            wait_for_answer(page, before, timeout_ms=15_000)
            break
        except PlaywrightTimeoutError:
            if text in box.input_value():
                # Chosen, and its run is slow: wait until the app is idle and stays idle.
                wait_for_settled(page)
                break
            # The page redrawn at that moment closed the open list and the click landed
            # nowhere: the choice is still to be made.
            if attempt == 2:
                raise
    wait_for_settled(page)


def choose_in_form(page: Page, key: str, text: str) -> None:
    """Pick the option containing ``text`` in a selectbox inside a form (no run follows)."""
    box = page.locator(f".st-key-{key}").get_by_role("combobox")
    if text in box.input_value():
        return
    box.click()
    box.fill(text)
    page.get_by_role("option", name=re.compile(re.escape(text))).first.click()
    expect(box).to_have_value(re.compile(re.escape(text)))


def _free(engine) -> dict[int, int]:
    with engine.connect() as conn:
        return dict(
            conn.execute(
                select(Stock.product_id, func.sum(Stock.on_hand - Stock.reserved)).group_by(
                    Stock.product_id
                )
            ).all()
        )


def _rep_backorder_with_substitute(engine) -> tuple[str, str, str, str]:
    """customer1 made a customer of sales1, an open backorder of theirs, a listed substitute.

    Returns (order number, backordered SKU, substitute SKU, customer name).
    """
    with engine.connect() as conn:
        rep = conn.execute(select(User.sales_rep_id).where(User.username == "sales1")).scalar_one()
        customer = conn.execute(
            select(User.customer_id).where(User.username == "customer1")
        ).scalar_one()
        products = conn.execute(
            select(Product.id, Product.sku, Product.allergens).where(Product.active.is_(True))
        ).all()
    free = _free(engine)
    plain = [p for p in products if not p.allergens]
    original = plain[0]
    substitute = next(p for p in plain[1:] if free.get(p.id, 0) >= 5)
    with write_session(engine) as session:
        session.execute(update(Customer).where(Customer.id == customer).values(sales_rep_id=rep))
        session.add(Substitute(product_id=original.id, substitute_id=substitute.id))
        # A listed substitute serves the same use as the product it stands in for.
        session.execute(
            update(Product)
            .where(Product.id == substitute.id)
            .values(use=select(Product.use).where(Product.id == original.id).scalar_subquery())
        )
    placed = operations.place_order(
        engine,
        customer_id=customer,
        lines=[(original.sku, max(free.get(original.id, 0), 0) + 3)],
        actor="setup",
        backorder_choice="accept_backorder",
    )
    with engine.connect() as conn:
        name = conn.execute(select(Customer.name).where(Customer.id == customer)).scalar_one()
    return placed.number, original.sku, substitute.sku, name


def test_rep_offers_a_substitute_and_the_customer_sees_the_swapped_line(
    fresh_server, db, open_page
):
    number, original, substitute, _name = _rep_backorder_with_substitute(db)
    rep = open_page_as(open_page, fresh_server, "sales1")
    go_to(rep, "My customers")
    choose_typed(rep, "mc_offer_for", number)
    expect(
        rep.get_by_role("heading", name=f"Alternatives for {original} on {number}")
    ).to_be_visible()
    # Widgets inside the offer form start no run until the form is submitted.
    choose_in_form(rep, "mc_sub", substitute)
    rep.locator(".st-key-mc_sub_qty input").fill("3")
    rep.locator(".st-key-mc_sub_answer label").filter(has_text="Accepted").click()
    act(rep, rep.get_by_role("button", name="Record the answer").click)
    expect(rep.get_by_text(re.compile(rf"{number}: 3 x {substitute}"))).to_be_visible()

    customer = open_page_as(open_page, fresh_server, "customer1")
    go_to(customer, "Shop")
    open_tab(customer, "My orders")
    choose_typed(customer, "my_order_pick", number)
    lines = dataframe_with_column(customer, "Backordered")
    expect(lines.locator("tbody tr").filter(has_text=substitute)).to_have_count(1)
    expect(lines.locator("tbody tr").filter(has_text=original)).to_have_count(1)


def _open_order_with_phone(engine) -> tuple[str, str]:
    with engine.connect() as conn:
        row = conn.execute(
            select(Order.number, Customer.phone)
            .join(Customer, Customer.id == Order.customer_id)
            .where(Order.status == "open", Customer.phone.is_not(None))
            .order_by(Order.placed_at.desc())
        ).first()
    return row.number, row.phone


def _metric_value(page: Page, label: str) -> str:
    metric = page.locator('[data-testid="stMetric"]').filter(has_text=label)
    return metric.locator('[data-testid="stMetricValue"]').inner_text()


def test_service_finds_an_order_by_phone_records_a_call_and_the_response_time_moves(
    fresh_server, db, open_page
):
    number, phone = _open_order_with_phone(db)
    page = open_page_as(open_page, fresh_server, "service")
    go_to(page, "Customer desk")
    target = desks.desk_settings(db)["response_target_hours"]
    before = desks.service_kpis(db, target_hours=target)["avg_response_hours"]
    type_and_enter(page, "cd_search", phone)
    choose_typed(page, "cd_open_order", number)
    expect(page.get_by_role("heading", name=re.compile(re.escape(number)))).to_be_visible()
    open_tab(page, "Calls and messages")
    page.locator(".st-key-cd_direction label").filter(has_text="inbound").click()
    page.locator(".st-key-cd_subject input").fill("Asked when the rest arrives")
    act(page, page.get_by_role("button", name="Record", exact=True).click)
    expect(
        page.get_by_text("Recorded the inbound phone: Asked when the rest arrives.")
    ).to_be_visible()
    wait_for_settled(page)
    # The order view stays open after the rerun; answer the question just recorded.
    open_tab(page, "Calls and messages")
    question = page.get_by_text(re.compile("Open question.*Asked when the rest arrives"))
    expect(question).to_be_visible()
    with db.connect() as conn:
        question_id = conn.execute(select(func.max(Communication.id))).scalar_one()
    act(page, page.locator(f".st-key-cd_answer_{question_id} button").click)
    expect(page.get_by_text("Answered: Asked when the rest arrives.")).to_be_visible()
    # The answer counts at once: the mean moves, and the tile shows the new one.
    after = desks.service_kpis(db, target_hours=target)["avg_response_hours"]
    assert after != before
    expect(
        page.locator('[data-testid="stMetric"]')
        .filter(has_text="Average response time")
        .locator('[data-testid="stMetricValue"]')
    ).to_have_text(f"{after:.1f} h")


def test_a_url_naming_another_reps_customer_shows_only_the_reps_own(fresh_server, db, open_page):
    with db.connect() as conn:
        rep = conn.execute(select(User.sales_rep_id).where(User.username == "sales1")).scalar_one()
        others = conn.execute(
            select(Customer.id, Customer.code, Customer.name).where(Customer.sales_rep_id != rep)
        ).all()
        own = set(conn.execute(select(Customer.name).where(Customer.sales_rep_id == rep)).scalars())
    page = open_page_as(open_page, fresh_server, "sales1")
    stranger = others[0]
    page.goto(
        f"{fresh_server.url}/my_customers?customer_id={stranger.id}&customer={stranger.code}"
        f"&mc_customer={stranger.id}&q={stranger.name}"
    )
    wait_for_settled(page)
    expect(page.get_by_role("heading", name="My customers")).to_be_visible()
    choose_typed(page, "mc_customer", sorted(own)[0])
    text = page.locator("body").inner_text()
    assert [o.code for o in others if o.code in text] == []
    # A name that is part of one of the rep's own customers' names proves nothing either way.
    distinct = [o.name for o in others if not any(o.name in name for name in own)]
    assert [name for name in distinct if name in text] == []
