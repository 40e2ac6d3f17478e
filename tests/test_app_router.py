"""The router (app.py): forbidden and unknown URLs say so, menus offer no dead ends.

A browser that opens a URL starts a session whose first run sees the path in ``st.context.url``
and asks Streamlit for the page of that name. AppTest gives the URL through
``at.context["url"]``; the page asked for is its page hash, which ``st.Page`` derives from the
url_path (tests/browser/test_router.py drives the same in a real browser).
"""

from __future__ import annotations

import pytest
from streamlit.util import calc_hash

from tests import apptest_support
from tests.apptest_support import app_test, assert_home_of, data_elements

fresh_caches = apptest_support.fresh_caches
seeded_db_url = apptest_support.seeded_db_url

BASE = "http://localhost:8501"


def opened_at(path: str, username: str | None):
    at = app_test("app.py", username)
    at.context = {"url": BASE + path}
    if path.strip("/"):
        at._page_hash = calc_hash(path.strip("/"))  # the page the browser asks for
    return at.run()


def warnings_and_errors(at) -> list[str]:
    return [w.value for w in at.warning] + [e.value for e in at.error]


@pytest.mark.parametrize(
    ("username", "path", "wanted"),
    [
        ("customer1", "/admin", "Administrator"),
        ("customer1", "/stock_control", "Warehouse manager"),
        ("sales1", "/admin", "Administrator"),
    ],
)
def test_a_forbidden_url_shows_the_refusal_not_home(seeded_db_url, username, path, wanted):
    at = opened_at(path, username)
    assert not at.exception, [e.value for e in at.exception]
    assert [t for t in warnings_and_errors(at) if t.startswith(f"This page is for: {wanted}.")]
    assert not [t.value for t in at.title if t.value.startswith("Welcome")]
    assert data_elements(at) == []


def test_an_unknown_url_says_no_such_page_with_a_link_home(seeded_db_url):
    at = opened_at("/no_such_thing", "manager")
    assert not at.exception, [e.value for e in at.exception]
    assert [t for t in warnings_and_errors(at) if t.startswith("No such page: /no_such_thing")]
    assert [link.label for link in at.get("page_link")] == ["Go to Home"]
    assert not at.title
    assert data_elements(at) == []


def test_an_unknown_url_before_login_says_no_such_page_after_login(seeded_db_url):
    at = opened_at("/stocks", None)
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    next(t for t in at.text_input if t.label == "Username").input("manager")
    next(t for t in at.text_input if t.label == "Password").input("manager-demo")
    next(b for b in at.button if b.label == "Login").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t for t in warnings_and_errors(at) if t.startswith("No such page: /stocks")]


def test_the_root_url_still_lands_on_home(seeded_db_url):
    at = opened_at("/", "manager")
    assert_home_of(at, "manager")


def test_an_allowed_url_opens_its_page(seeded_db_url):
    at = opened_at("/stock_control", "manager")
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == ["Stock control"]


@pytest.mark.parametrize("username", ["owner", "admin"])
def test_owner_and_admin_menus_leave_out_the_shop(seeded_db_url, username):
    at = opened_at("/", username)
    assert_home_of(at, username)
    offered = [link.label for link in at.get("page_link")]
    assert "Shop" not in offered
    assert "Stock control" in offered and "Admin" in offered


def test_the_customer_menu_offers_the_shop(seeded_db_url):
    at = opened_at("/", "customer1")
    assert [link.label for link in at.get("page_link")] == ["Shop"]


def test_the_owner_may_still_open_the_shop_by_url(seeded_db_url):
    at = opened_at("/shop", "owner")
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == ["Shop"]
    assert not [t for t in warnings_and_errors(at) if t.startswith("This page is for")]


def test_the_root_under_a_url_prefix_is_home_not_an_unknown_page(seeded_db_url):
    from streamlit import config

    config.set_option("server.baseUrlPath", "larder")
    try:
        at = opened_at("/larder/", "manager")
    finally:
        config.set_option("server.baseUrlPath", "")
    assert_home_of(at, "manager")
