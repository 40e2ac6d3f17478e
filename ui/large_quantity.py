"""The "these quantities are right" box shown after the write side questioned a large line.

An order line far above the product's usual size is refused with ``ConfirmationNeeded`` until
the person placing it confirms. The box appears only once it has been asked for, stays until the
order goes through, and its value is passed as ``confirm_large``.
"""

from __future__ import annotations

import streamlit as st

LABEL = "Yes, these quantities are right: place the order with them"
HELP = "Some lines are far larger than this product is usually ordered in."


class LargeQuantityBox:
    """One page's box; ``prefix`` keeps its session keys apart from other pages'."""

    def __init__(self, prefix: str) -> None:
        self.asked_key = f"{prefix}_large_asked"
        self.key = f"{prefix}_confirm_large"

    def value(self) -> bool:
        """Draw the box if it was asked for; whether it is ticked."""
        if not st.session_state.get(self.asked_key, False):
            return False
        return st.checkbox(LABEL, key=self.key, help=HELP)

    def ask(self) -> None:
        """The write side asked: show the box from now on (drawn now if it was not)."""
        if not st.session_state.get(self.asked_key, False):
            st.session_state[self.asked_key] = True
            st.checkbox(LABEL, key=self.key, help=HELP)

    def forget(self) -> None:
        """The order went through: the next one starts without the box."""
        st.session_state.pop(self.asked_key, None)
        st.session_state.pop(self.key, None)
