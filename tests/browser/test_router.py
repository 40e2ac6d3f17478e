"""The router in a real browser: a logged-in user typing a URL gets that page, its refusal, or
"No such page", never Home without a word; a reload stays on its page, every time.

The first run of a page load logs in from the cookie; the cookie component then reruns the
script. Both runs must agree on the page, which is what these tests pin down.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.harness import (
    StreamlitServer,
    go_to,
    login,
    open_app,
    password_box,
    path_of,
    wait_for_settled,
)

RELOADS = 3  # the Home landing was a race: one reload passing proves little


def logged_in(open_page, server: StreamlitServer, username: str) -> Page:
    page = open_page()
    open_app(page, server.url)
    login(page, username, f"{username}-demo")
    return page


def visit(page: Page, server: StreamlitServer, path: str) -> None:
    page.goto(server.url + path)
    wait_for_settled(page)
    expect(password_box(page)).to_have_count(0)


@pytest.mark.parametrize(
    ("username", "path", "wanted"),
    [
        ("customer1", "/admin", "Administrator"),
        ("customer1", "/stock_control", "Warehouse manager"),
        ("sales1", "/admin", "Administrator"),
    ],
)
def test_a_forbidden_url_is_refused_in_words(shared_server, open_page, username, path, wanted):
    page = logged_in(open_page, shared_server, username)
    visit(page, shared_server, path)
    expect(page.get_by_text(f"This page is for: {wanted}.")).to_be_visible()
    expect(page.get_by_role("heading", name="Welcome", exact=False)).to_have_count(0)
    assert path_of(page) == path


def test_an_unknown_url_says_no_such_page_and_links_home(shared_server, open_page):
    page = logged_in(open_page, shared_server, "manager")
    visit(page, shared_server, "/stock_controll")
    expect(page.get_by_text("No such page: /stock_controll.")).to_be_visible()
    # Streamlit's own "Page not found" dialog does not come up on top of it.
    expect(page.get_by_text("Page not found")).to_have_count(0)
    link = page.locator('[data-testid="stMain"]').get_by_role("link", name="Go to Home")
    link.click()
    wait_for_settled(page)
    expect(page.get_by_role("heading", name="Welcome, Morgan Hale")).to_be_visible()


def test_an_unknown_url_opened_logged_out_says_so_after_login(shared_server, open_page):
    page = open_page()
    open_app(page, shared_server.url, "/reports")
    login(page, "manager", "manager-demo")
    expect(page.get_by_text("No such page: /reports.")).to_be_visible()


def test_reloads_keep_the_user_on_the_page_every_time(shared_server, open_page):
    page = logged_in(open_page, shared_server, "manager")
    go_to(page, "Stock control")
    for _ in range(RELOADS):
        page.reload()
        wait_for_settled(page)
        expect(page.get_by_role("heading", name="Stock control", exact=True)).to_be_visible()
        expect(password_box(page)).to_have_count(0)
        assert path_of(page) == "/stock_control"
