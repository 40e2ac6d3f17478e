"""Larder: the router. Page config, login, the pages your roles open, then the chosen page.

Every known page URL is registered in every run: the user's own pages in the menu, the others
hidden and answering with a refusal (or, logged out, with the login form above). A path that
names no page is registered too, as a hidden page saying "No such page", so Streamlit neither
shows its own "page not found" dialog nor drops the user on Home without a word. After logging
in on ``/stock_control`` the user is on the stock page.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from ui.account import change_password_form
from ui.auth import PAGE_ROLES, CurrentUser, current_user, role_label, show_refusal
from ui.format import plain
from ui.inbox import inbox
from ui.login import (
    COOKIE_PENDING_KEY,
    LOGOUT_KEY,
    build_authenticator,
    is_page_name,
    remember_requested_page,
    requested_page,
    return_to_requested_page,
    show_login,
)
from ui.navigation import NAV_PAGES_KEY, existing_pages, menu_pages_for, pages_for, url_path

# Paths asked for in this session that name no page (kept, so every rerun still finds them).
UNKNOWN_PATHS_KEY = "larder_unknown_paths"
UNKNOWN_PATHS_KEPT = 10


def _logged_out_page() -> None:
    """A visitor who is not logged in gets the login form drawn above, and nothing else."""


def _no_role_page() -> None:
    st.info("Your account has no role yet, so there is no page for you. Ask an administrator.")


def _refusal_page(user: CurrentUser, path: str) -> Callable[[], None]:
    def refuse() -> None:
        show_refusal(user, PAGE_ROLES[path])

    return refuse


def _no_such_page(path: str, home) -> Callable[[], None]:
    def say_so() -> None:
        st.warning(
            f"No such page: /{plain(path)}. The address may be mistyped or out of date.",
            icon=":material/search_off:",
        )
        if home is not None:
            st.page_link(home, label="Go to Home", icon=":material/home:")

    return say_so


def _unknown_paths() -> list[str]:
    """Paths of this session that name no page, the one in the browser now included."""
    known = {url_path(spec) for spec in existing_pages()}
    paths: list[str] = st.session_state.setdefault(UNKNOWN_PATHS_KEY, [])
    asked = requested_page()
    if asked and asked not in known and is_page_name(asked) and asked not in paths:
        paths.append(asked)
        del paths[:-UNKNOWN_PATHS_KEPT]
    return list(paths)


def _logged_out_navigation():
    pages = [st.Page(_logged_out_page, title="Log in", icon=":material/login:", default=True)]
    pages += [
        st.Page(_logged_out_page, title=spec.title, url_path=url_path(spec), visibility="hidden")
        for spec in existing_pages()
    ]
    pages += [
        st.Page(_logged_out_page, title="No such page", url_path=path, visibility="hidden")
        for path in _unknown_paths()
    ]
    return st.navigation(pages, position="hidden")


def _sidebar(user: CurrentUser, top) -> None:
    with top:
        st.markdown(f"**{plain(user.name)}**")
        st.caption(", ".join(role_label(r) for r in sorted(user.roles)))
        inbox(user)
        with st.expander("My account", icon=":material/person:"):
            change_password_form(user)


def _logged_out_by_button(authenticator) -> bool:
    """The Log out button; True when it was just pressed (the session is then logged out).

    No st.rerun() afterwards: the cookie is deleted by a component that must reach the browser
    in this very run, so the same run goes on to show the login form.
    """
    slot = st.sidebar.empty()
    if not slot.button("Log out", key=LOGOUT_KEY, icon=":material/logout:"):
        return False
    slot.empty()
    authenticator.logout(location="unrendered")
    return True


def main() -> None:
    st.set_page_config(page_title="Larder", page_icon=":material/inventory_2:", layout="wide")
    authenticator = build_authenticator()
    if st.session_state.get("authentication_status") is not True:
        remember_requested_page()
        by_cookie = show_login(authenticator)
        if st.session_state.get("authentication_status") is True and not by_cookie:
            st.session_state[COOKIE_PENDING_KEY] = True
            st.rerun()  # logged in by the form: start again with the user's pages
        # Logged in from the cookie, no form drawn: go on in this run. A rerun here would end
        # the run before st.navigation, so the browser would hold the main script as its page,
        # and the cookie component's own rerun would then land on Home instead of the page
        # that was reloaded or asked for.
    elif st.session_state.pop(COOKIE_PENDING_KEY, False):
        # Set the re-login cookie again in a run that no st.rerun() cuts short.
        authenticator.cookie_controller.set_cookie()
    user = current_user()
    if user is not None:
        sidebar_top = st.sidebar.container()
        if _logged_out_by_button(authenticator):
            user = None
            show_login(authenticator)
    if user is None:
        if st.session_state.get("authentication_status") is True:
            # Authenticated earlier, but the account was disabled or removed since.
            authenticator.logout(location="unrendered")
            st.error("Your account is not active any more. Ask an administrator.")
            show_login(authenticator)
        _logged_out_navigation().run()
        return

    allowed = pages_for(user)
    if not allowed:  # an account with no role yet: nothing to show but the sidebar
        _sidebar(user, sidebar_top)
        st.navigation([st.Page(_no_role_page, title="Home", icon=":material/home:")]).run()
        return
    in_menu = menu_pages_for(user)
    sections: dict[str, list] = {}
    own_pages = {}
    hidden = []
    for spec in allowed:
        if spec in in_menu:
            page = st.Page(
                spec.path, title=spec.title, icon=spec.icon, default=spec.path.endswith("home.py")
            )
            sections.setdefault(spec.section, []).append(page)
        else:  # allowed, but not offered: reachable by its URL only
            page = st.Page(spec.path, title=spec.title, icon=spec.icon, visibility="hidden")
            hidden.append(page)
        own_pages[spec.path] = page
    hidden += [
        st.Page(
            _refusal_page(user, spec.path),
            title=spec.title,
            url_path=url_path(spec),
            visibility="hidden",
        )
        for spec in existing_pages()
        if spec not in allowed
    ]
    home = next((page for path, page in own_pages.items() if path.endswith("home.py")), None)
    hidden += [
        st.Page(_no_such_page(path, home), title="No such page", url_path=path, visibility="hidden")
        for path in _unknown_paths()
    ]
    if hidden:  # in the last section shown, so no section header stands over hidden pages only
        sections[in_menu[-1].section].extend(hidden)
    current = st.navigation(sections)
    return_to_requested_page([*own_pages.values(), *hidden], current)
    st.session_state[NAV_PAGES_KEY] = own_pages
    _sidebar(user, sidebar_top)
    current.run()


main()
