"""The in-app inbox in the sidebar: unread count, the newest messages, mark as read."""

from __future__ import annotations

import streamlit as st

from data.db import read_connection
from queries.notifications import inbox_messages, unread_count
from ui.auth import CurrentUser, role_label
from ui.components import error_state
from ui.db import engine
from ui.format import moment, plain

INBOX_SIZE = 20


def _mark_read(notification_ids: list[int], user_id: int) -> None:
    # Imported here, not at the top: the write side loads the estimate models (scikit-learn),
    # which the sidebar of every page would otherwise pay for before the login form shows.
    from operations.errors import LarderError

    try:
        from operations.notifications import mark_read
    except ImportError:  # the write side lands separately; say so instead of failing
        st.toast("Marking messages read is not available yet.")
        return
    try:
        mark_read(engine(), notification_ids=notification_ids, user_id=user_id)
    except LarderError as err:
        error_state(err)


def inbox(user: CurrentUser) -> None:
    """Show the user's inbox (their messages and their roles') inside the current container."""
    with read_connection(engine()) as conn:
        unread = unread_count(conn, user.user_id, user.roles, user.customer_id)
        messages = inbox_messages(
            conn, user.user_id, user.roles, user.customer_id, limit=INBOX_SIZE
        )
    title = f"Inbox · {unread} unread" if unread else "Inbox"
    with st.expander(title, icon=":material/notifications:", expanded=False):
        if not messages:
            st.caption("No messages yet. Alerts about your work will appear here.")
            return
        unread_ids = [m.notification_id for m in messages if m.read_at is None]
        if unread_ids and st.button(
            "Mark all as read", key="inbox_mark_all", icon=":material/done_all:"
        ):
            _mark_read(unread_ids, user.user_id)
            st.rerun()
        for message in messages:
            marker = "**●** " if message.read_at is None else ""
            # A customer's own notices need no "to Customers" line.
            shared = message.for_role and message.for_role != "customer"
            audience = f" · to {role_label(message.for_role)}s" if shared else ""
            # Subjects and bodies quote what people typed (a stock-count reason, a comment):
            # shown as text, never as live Markdown or HTML.
            st.markdown(f"{marker}**{plain(message.subject)}**")
            st.caption(f"{moment(message.created_at)}{audience}")
            if message.body:
                st.markdown(plain(message.body))
            if message.read_at is None and st.button(
                "Mark read", key=f"inbox_read_{message.notification_id}"
            ):
                _mark_read([message.notification_id], user.user_id)
                st.rerun()
