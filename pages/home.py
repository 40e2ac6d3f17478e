"""Home: who you are, what your roles are, and the pages you can open."""

from __future__ import annotations

import streamlit as st

from data.schema import ROLES
from ui.auth import require_role, role_label
from ui.components import empty_state
from ui.format import plain
from ui.navigation import NAV_PAGES_KEY, menu_pages_for

user = require_role(*ROLES)

st.title(f"Welcome, {plain(user.name)}")
st.write(
    f"You are logged in as **{plain(user.username)}** with the role(s) "
    f"**{', '.join(role_label(r) for r in sorted(user.roles))}**."
)

nav_pages = st.session_state.get(NAV_PAGES_KEY, {})
st.subheader("Your pages")
work_pages = [spec for spec in menu_pages_for(user) if not spec.path.endswith("home.py")]
if not work_pages:
    empty_state(
        "There is no page for your role(s) yet.",
        "Pages arrive role by role; ask an administrator if you expected one.",
    )
for spec in work_pages:
    page = nav_pages.get(spec.path)
    if page is not None:
        st.page_link(page, label=spec.title, icon=spec.icon, help=spec.summary)
    else:  # run on its own (tests): no menu to link into
        st.markdown(f"- **{spec.title}** — {spec.summary}")
    st.caption(spec.summary)
