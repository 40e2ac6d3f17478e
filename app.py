"""Larder: the router. Page config, login, the pages your roles open, then the chosen page."""

from __future__ import annotations

import streamlit as st

from ui.account import change_password_form
from ui.auth import current_user, role_label
from ui.inbox import inbox
from ui.login import (
    LOGOUT_KEY,
    build_authenticator,
    remember_requested_page,
    return_to_requested_page,
    show_login,
)
from ui.navigation import NAV_PAGES_KEY, pages_for


def _logged_out_page() -> None:
    """What a visitor who is not logged in gets: the login form above, nothing else."""


def main() -> None:
    st.set_page_config(page_title="Larder", page_icon=":material/inventory_2:", layout="wide")
    authenticator = build_authenticator()
    if st.session_state.get("authentication_status") is not True:
        remember_requested_page()
        show_login(authenticator)
        if st.session_state.get("authentication_status") is True:
            st.rerun()  # logged in by the form: start again with the user's pages
    user = current_user()
    if user is None:
        if st.session_state.get("authentication_status") is True:
            # Authenticated earlier, but the account was disabled or removed since.
            authenticator.logout(location="unrendered")
            st.error("Your account is not active any more. Ask an administrator.")
            show_login(authenticator)
        st.navigation(
            [st.Page(_logged_out_page, title="Log in", icon=":material/login:", url_path="login")],
            position="hidden",
        ).run()
        return

    specs = pages_for(user)
    sections: dict[str, list] = {}
    pages = []
    for spec in specs:
        page = st.Page(
            spec.path, title=spec.title, icon=spec.icon, default=spec.path.endswith("home.py")
        )
        sections.setdefault(spec.section, []).append(page)
        pages.append(page)
    current = st.navigation(sections)
    return_to_requested_page(pages, current)
    st.session_state[NAV_PAGES_KEY] = {
        spec.path: page for spec, page in zip(specs, pages, strict=True)
    }

    with st.sidebar:
        st.markdown(f"**{user.name}**")
        st.caption(", ".join(role_label(r) for r in sorted(user.roles)))
        inbox(user)
        with st.expander("My account", icon=":material/person:"):
            change_password_form(user)
        authenticator.logout("Log out", location="sidebar", key=LOGOUT_KEY)
    if st.session_state.get("authentication_status") is not True:
        st.rerun()  # just logged out
    current.run()


main()
