"""The logged-in user's own account: change my password."""

from __future__ import annotations

import bcrypt
import streamlit as st

from data.db import read_connection
from queries.users import password_hash_of
from ui.auth import CurrentUser
from ui.components import error_state
from ui.db import engine


def _change_password(user: CurrentUser, current: str, new: str, repeat: str) -> None:
    """Check the current password and the repeat, then let the write side validate and store."""
    # Imported here: the write side pulls in the estimate models (scikit-learn), which the
    # login form and Home never need; importing them up front delayed the first login form.
    from operations.admin import PASSWORD_MAX_BYTES as MAX_PASSWORD_BYTES
    from operations.admin import reset_password
    from operations.errors import ValidationError

    with read_connection(engine()) as conn:
        stored = password_hash_of(conn, user.user_id)
    typed = current.encode()
    # bcrypt 5 raises on more than 72 bytes; no valid password is that long anyway.
    if not stored or len(typed) > MAX_PASSWORD_BYTES or not bcrypt.checkpw(typed, stored.encode()):
        raise ValidationError("Your current password is not right: nothing was changed.")
    if new != repeat:
        raise ValidationError("The new password and its repeat differ: nothing was changed.")
    # The write side applies the one password rule (operations.admin.check_password), which
    # matches what the login form does to a typed password.
    reset_password(engine(), user_id=user.user_id, new_password=new, actor=user.username)


def change_password_form(user: CurrentUser) -> None:
    """A small form: current password, new password (8 to 72 bytes), repeat."""
    with st.form("my_password", clear_on_submit=True, border=False):
        current = st.text_input("Current password", type="password", key="my_password_current")
        new = st.text_input(
            "New password",
            type="password",
            key="my_password_new",
            help="8 to 72 bytes (accented letters count as two).",
        )
        repeat = st.text_input("Repeat new password", type="password", key="my_password_repeat")
        submitted = st.form_submit_button("Change password", icon=":material/key:")
    if submitted:
        from operations.errors import LarderError  # see _change_password

        try:
            _change_password(user, current, new, repeat)
        except LarderError as err:
            error_state(err)
        else:
            st.success("Your password is changed. Use it next time you log in.")
