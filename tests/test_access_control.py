"""Every page, opened directly, for every role and for a logged-out visitor.

Pages are discovered from the pages/ folder, so a new page is covered (and must be given its
roles in ``ui.auth.PAGE_ROLES``) without touching this file. A refused visitor must see the
refusal and nothing else: no table, no metric, no chart, no text from the page.
"""

from __future__ import annotations

import pytest
from sqlalchemy import update

from data.db import make_engine
from data.schema import ROLES, User
from tests import apptest_support
from tests.apptest_support import (
    DEMO_USERS,
    REPO_ROOT,
    app_test,
    assert_home_of,
    data_elements,
    user_for_role,
)
from ui.auth import ALL_ACCESS_ROLES, PAGE_ROLES

# Fixtures shared by the AppTest modules (assigned, not imported, so they are found by name).
fresh_caches = apptest_support.fresh_caches
fresh_db_url = apptest_support.fresh_db_url
seeded_db_url = apptest_support.seeded_db_url


PAGE_FILES = sorted(p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "pages").glob("*.py"))
VISITORS = [*ROLES, None]  # None: not logged in

LOGIN_REFUSAL = "Please log in"
ROLE_REFUSAL = "This page is for"


def allowed(page: str, role: str | None) -> bool:
    if role is None:
        return False
    return role in ALL_ACCESS_ROLES or role in PAGE_ROLES[page]


def element_types(node) -> list[str]:
    """Types of every element under ``node`` (depth first)."""
    found = []
    for child in getattr(node, "children", {}).values():
        found.append(getattr(child, "type", type(child).__name__))
        found.extend(element_types(child))
    return found


def refusals(at) -> list[str]:
    texts = [w.value for w in at.warning] + [e.value for e in at.error]
    return [t for t in texts if t.startswith((LOGIN_REFUSAL, ROLE_REFUSAL))]


def assert_refused_with_nothing_else(at, expected: str) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert [t for t in refusals(at) if t.startswith(expected)], refusals(at)
    assert data_elements(at) == []
    # The refusal is the only element the page drew (main area and sidebar).
    assert element_types(at.main) in (["warning"], ["error"]), element_types(at.main)
    assert element_types(at.sidebar) == []


def test_every_page_has_its_roles_declared():
    assert PAGE_FILES, "no pages found"
    missing = [page for page in PAGE_FILES if page not in PAGE_ROLES]
    assert missing == [], f"add these pages to ui.auth.PAGE_ROLES: {missing}"


def test_every_page_is_in_the_menu_catalogue():
    from ui.navigation import PAGES

    missing = [page for page in PAGE_FILES if page not in {spec.path for spec in PAGES}]
    assert missing == [], f"add these pages to ui.navigation.PAGES: {missing}"


@pytest.mark.parametrize("page", PAGE_FILES)
@pytest.mark.parametrize("role", VISITORS, ids=lambda r: r or "logged_out")
def test_page_access_by_role(seeded_db_url, page, role):
    at = app_test(page, None if role is None else user_for_role(role))
    at.run()
    if allowed(page, role):
        assert not at.exception, [e.value for e in at.exception]
        assert refusals(at) == []
        assert at.title or at.header, "an allowed visitor should see the page's heading"
    elif role is None:
        assert_refused_with_nothing_else(at, LOGIN_REFUSAL)
    else:
        assert_refused_with_nothing_else(at, ROLE_REFUSAL)


@pytest.mark.parametrize("page", PAGE_FILES)
@pytest.mark.parametrize("status", [None, False, "yes"])
def test_username_without_successful_login_is_refused(seeded_db_url, page, status):
    at = app_test(page)
    at.session_state["username"] = "admin"  # the strongest account, but never logged in
    at.session_state["authentication_status"] = status
    at.run()
    assert_refused_with_nothing_else(at, LOGIN_REFUSAL)


@pytest.mark.parametrize("page", PAGE_FILES)
def test_unknown_username_is_refused(seeded_db_url, page):
    at = app_test(page, "nobody_by_this_name")
    at.run()
    assert_refused_with_nothing_else(at, LOGIN_REFUSAL)


@pytest.mark.parametrize("page", PAGE_FILES)
def test_inactive_user_is_refused(fresh_db_url, page):
    disable("admin", fresh_db_url)
    at = app_test(page, "admin")
    at.run()
    assert_refused_with_nothing_else(at, LOGIN_REFUSAL)


def test_roles_come_from_the_database_not_the_session(seeded_db_url):
    # streamlit-authenticator also leaves a "roles" entry in the session; it must not count.
    at = app_test("pages/admin.py", "manager")
    at.session_state["roles"] = ["admin"]
    at.run()
    assert_refused_with_nothing_else(at, ROLE_REFUSAL)


def log_in(at, username: str, password: str):
    username_box = next(t for t in at.text_input if t.label == "Username")
    password_box = next(t for t in at.text_input if t.label == "Password")
    username_box.input(username)
    password_box.input(password)
    next(b for b in at.button if b.label == "Login").click()
    return at.run()


def test_login_form_lands_on_home(seeded_db_url):
    at = app_test("app.py")
    at.run()
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert data_elements(at) == []
    log_in(at, "manager", DEMO_USERS["manager"][0])
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["authentication_status"] is True
    assert_home_of(at, "manager")


def test_login_is_case_insensitive_for_the_username(seeded_db_url):
    at = app_test("app.py")
    at.run()
    log_in(at, "  Customer1 ", DEMO_USERS["customer1"][0])
    assert_home_of(at, "customer1")


def test_wrong_password_shows_an_error_and_no_page(seeded_db_url):
    at = app_test("app.py")
    at.run()
    log_in(at, "manager", "not-the-password")
    assert at.session_state["authentication_status"] is False
    assert [e.value for e in at.error] == ["Username or password is incorrect."]
    assert [t.value for t in at.title] == ["Larder"]
    assert data_elements(at) == []


def test_overlong_password_is_just_a_wrong_password(seeded_db_url):
    at = app_test("app.py")
    at.run()
    log_in(at, "manager", "x" * 100)  # bcrypt 5 raises on more than 72 bytes
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["authentication_status"] is False
    assert [e.value for e in at.error] == ["Username or password is incorrect."]


def disable(username: str, url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(update(User).where(User.username == username).values(active=False))
    engine.dispose()


def test_disabled_user_cannot_log_in(fresh_db_url):
    disable("finance", fresh_db_url)
    at = app_test("app.py")
    at.run()
    log_in(at, "finance", DEMO_USERS["finance"][0])
    assert at.session_state["authentication_status"] is not True
    assert [e.value for e in at.error] == ["Username or password is incorrect."]


def test_user_disabled_during_the_session_is_refused_their_next_page(fresh_db_url):
    at = app_test("app.py")
    at.run()
    log_in(at, "finance", DEMO_USERS["finance"][0])
    assert_home_of(at, "finance")
    disable("finance", fresh_db_url)
    # AppTest reruns the page file itself here (as a fresh server would): its guard refuses and
    # sends the visitor to app.py, which logs the disabled session out.
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["authentication_status"] is None
    assert "Your account is not active any more. Ask an administrator." in [
        e.value for e in at.error
    ]
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert data_elements(at) == []


def test_app_logs_out_a_session_whose_user_was_disabled(fresh_db_url):
    disable("finance", fresh_db_url)
    at = app_test("app.py", "finance")  # a session that logged in before the change
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["authentication_status"] is None
    assert "Your account is not active any more. Ask an administrator." in [
        e.value for e in at.error
    ]
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert data_elements(at) == []
    assert element_types(at.sidebar) == []
