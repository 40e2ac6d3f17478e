"""Login with streamlit-authenticator against the users table, and the way back to a deep link.

One ``Authenticate`` per script run (a second one raises a duplicate widget id). Credentials are
rebuilt from the database each run, so a new, disabled or re-roled user counts at once; the dict
holds bcrypt hashes only (``auto_hash=False``) and is never written anywhere.
"""

from __future__ import annotations

import os
import re
from urllib.parse import unquote, urlparse

import streamlit as st
import streamlit_authenticator as stauth

from data.db import read_connection
from queries.users import active_credentials
from ui.cookie_key import cookie_key
from ui.db import engine
from ui.format import plain

COOKIE_NAME = "larder_auth"
COOKIE_EXPIRY_DAYS = 7
LOGIN_FORM_KEY = "larder_login"
LOGOUT_KEY = "larder_logout"  # "logout" is the library's own session key (STACK_NOTES)
RETURN_KEY = "larder_return_to"
COOKIE_PENDING_KEY = "larder_cookie_pending"
SLEEP_ENV_VAR = "LARDER_LOGIN_SLEEP"
# The library sleeps this long in every logged-out run, a wait meant for cookie components that
# answer late. Version 0.4.2 reads the cookie from st.context.cookies, which the browser sends
# with the first run, so the wait only slows the login form down (0.7 s per run by default).
LOGIN_SLEEP_S = 0.0
# A path segment we may register as a page of its own (Streamlit refuses some characters).
PAGE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.~-]{1,80}$")


def credentials() -> dict:
    """{"usernames": {username: {name, email, password (bcrypt hash), roles}}} of active users."""
    with read_connection(engine()) as conn:
        users = active_credentials(conn)
    return {
        "usernames": {
            # the library lower-cases what is typed, so the keys must be lower-case too
            u.username.lower(): {
                "name": u.name,
                "email": u.email,
                "password": u.password_hash,
                "roles": list(u.roles),
            }
            for u in users
        }
    }


def build_authenticator() -> stauth.Authenticate:
    """The one authenticator of this run."""
    sleep = os.environ.get(SLEEP_ENV_VAR, "").strip()
    return stauth.Authenticate(
        credentials(),
        cookie_name=COOKIE_NAME,
        cookie_key=cookie_key(),
        cookie_expiry_days=COOKIE_EXPIRY_DAYS,
        auto_hash=False,
        login_sleep_time=float(sleep) if sleep else LOGIN_SLEEP_S,
    )


def show_login(authenticator: stauth.Authenticate) -> bool:
    """The login form (or a silent re-login from the cookie), with a clear message on failure.

    Returns True when the session was logged in from the re-login cookie in this run (no form
    was drawn), False otherwise.

    The library strips spaces from both ends of the typed password
    (``operations.admin.as_typed_at_login``); passwords are checked against that same rule
    whenever one is set, so every stored password can be typed here.
    """
    heading = st.container()
    was_in = st.session_state.get("authentication_status") is True
    has_cookie = bool(authenticator.cookie_controller.get_cookie())
    try:
        authenticator.login(
            location="main",
            key=LOGIN_FORM_KEY,
            fields={"Form name": "Log in", "Login": "Login"},
        )
    except stauth.LoginError as err:
        # A cookie for a user who was disabled or removed since: forget it.
        authenticator.cookie_controller.delete_cookie()
        st.session_state["authentication_status"] = None
        st.error(f"{plain(str(err))} — your account may have been disabled. Ask an administrator.")
    except ValueError:
        # bcrypt 5 raises on a typed password over 72 bytes; no stored password is that long.
        st.session_state["authentication_status"] = False
    status = st.session_state.get("authentication_status")
    if status is True:
        return has_cookie and not was_in
    with heading:
        st.title("Larder")
        st.caption("The backorder desk. Log in to see your page.")
    if status is False:
        st.error("Username or password is incorrect.", icon=":material/error:")
    return False


def requested_page() -> str:
    """The last segment of the path the browser shows ("" for the app's root).

    Streamlit trims the path of a page it already knows in this session, so this names the page
    of a fresh page load, or a path that no page of the session has.
    """
    url = st.context.url
    if not url:
        return ""
    path = urlparse(url).path.strip("/")
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    if base and (path == base or path.startswith(base + "/")):
        path = path[len(base) :].strip("/")  # served under a prefix: that is the app's root
    return unquote(path.rsplit("/", 1)[-1]) if path else ""


def is_page_name(name: str) -> bool:
    """True when ``name`` can be registered as a page's url_path."""
    return bool(PAGE_NAME_PATTERN.match(name))


def remember_requested_page() -> None:
    """Before login, remember the page asked for: the library alone lands every login on Home."""
    if RETURN_KEY in st.session_state:
        return
    last = requested_page()
    if last:
        st.session_state[RETURN_KEY] = last


def return_to_requested_page(pages: list, current) -> None:
    """After login, go to the page the browser asked for: the user's own or its refusal.

    ``pages`` holds every page of this run's navigation, hidden ones included, so a forbidden
    page shows its refusal and an unknown path its "no such page" notice instead of Home.
    """
    target = st.session_state.pop(RETURN_KEY, None) or requested_page()
    if not target or getattr(current, "url_path", None) == target:
        return
    for page in pages:
        if page.url_path == target:
            st.switch_page(page)
