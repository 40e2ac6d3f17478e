"""Login with streamlit-authenticator against the users table, and the way back to a deep link.

One ``Authenticate`` per script run (a second one raises a duplicate widget id). Credentials are
rebuilt from the database each run, so a new, disabled or re-roled user counts at once; the dict
holds bcrypt hashes only (``auto_hash=False``) and is never written anywhere.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

import streamlit as st
import streamlit_authenticator as stauth

from data.db import read_connection
from queries.users import active_credentials
from ui.cookie_key import cookie_key
from ui.db import engine

COOKIE_NAME = "larder_auth"
COOKIE_EXPIRY_DAYS = 7
LOGIN_FORM_KEY = "larder_login"
LOGOUT_KEY = "larder_logout"  # "logout" is the library's own session key (STACK_NOTES)
RETURN_KEY = "larder_return_to"
COOKIE_PENDING_KEY = "larder_cookie_pending"
SLEEP_ENV_VAR = "LARDER_LOGIN_SLEEP"


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
    extra = {}
    sleep = os.environ.get(SLEEP_ENV_VAR, "").strip()
    if sleep:
        extra["login_sleep_time"] = float(sleep)
    return stauth.Authenticate(
        credentials(),
        cookie_name=COOKIE_NAME,
        cookie_key=cookie_key(),
        cookie_expiry_days=COOKIE_EXPIRY_DAYS,
        auto_hash=False,
        **extra,
    )


def show_login(authenticator: stauth.Authenticate) -> None:
    """The login form (or a silent re-login from the cookie), with a clear message on failure.

    The library strips spaces from both ends of the typed password
    (``operations.admin.as_typed_at_login``); passwords are checked against that same rule
    whenever one is set, so every stored password can be typed here.
    """
    heading = st.container()
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
        st.error(f"{err} — your account may have been disabled. Ask an administrator.")
    except ValueError:
        # bcrypt 5 raises on a typed password over 72 bytes; no stored password is that long.
        st.session_state["authentication_status"] = False
    status = st.session_state.get("authentication_status")
    if status is True:
        return
    with heading:
        st.title("Larder")
        st.caption("The backorder desk. Log in to see your page.")
    if status is False:
        st.error("Username or password is incorrect.", icon=":material/error:")


def remember_requested_page() -> None:
    """Before login, remember which page the browser asked for (upstream issue #179)."""
    if RETURN_KEY in st.session_state:
        return
    url = st.context.url
    if not url:
        return
    last = urlparse(url).path.rstrip("/").rsplit("/", 1)[-1]
    if last:
        st.session_state[RETURN_KEY] = last


def return_to_requested_page(pages: list, current) -> None:
    """After login, go to the remembered page if the user may open it."""
    target = st.session_state.pop(RETURN_KEY, None)
    if not target or getattr(current, "url_path", None) == target:
        return
    for page in pages:
        if page.url_path == target:
            st.switch_page(page)
