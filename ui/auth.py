"""Who is logged in and what they may see: the guard every page calls first.

The identity is the username that streamlit-authenticator put in the session after checking the
password; everything else (roles, linked customer or sales representative, whether the account
is still active) is read from the database on every run, so a disabled user or a changed role
takes effect on the next page view and nothing a browser sends can widen access.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from streamlit.errors import StreamlitAPIException

from data.db import read_connection
from data.schema import ROLES
from queries.users import user_by_username
from ui.db import engine
from ui.startup import freeze_long_lived

MAIN_SCRIPT = "app.py"
# Roles that may open every page (DESIGN: "the owner and the administrator may see all").
ALL_ACCESS_ROLES = frozenset({"owner", "admin"})

ROLE_LABELS: dict[str, str] = {
    "warehouse_manager": "Warehouse manager",
    "sales_rep": "Sales representative",
    "purchasing_manager": "Purchasing manager",
    "customer": "Customer",
    "warehouse_operator": "Warehouse operator",
    "logistics_manager": "Logistics manager",
    "finance_manager": "Finance manager",
    "customer_service": "Customer service",
    "marketing_manager": "Marketing manager",
    "owner": "Business owner",
    "admin": "Administrator",
}

# Page file -> roles it is for (owner and admin pass every guard on top of these).
PAGE_ROLES: dict[str, tuple[str, ...]] = {
    "pages/home.py": ROLES,
    "pages/stock_control.py": ("warehouse_manager",),
    "pages/pick_queue.py": ("warehouse_operator",),
    "pages/shop.py": ("customer",),
    "pages/replenishment.py": ("purchasing_manager",),
    "pages/in_transit.py": ("logistics_manager",),
    "pages/my_customers.py": ("sales_rep",),
    "pages/customer_desk.py": ("customer_service",),
    "pages/admin.py": ("admin",),
    "pages/overview.py": ("owner",),
    "pages/backorder_cost.py": ("finance_manager",),
    "pages/loyalty_impact.py": ("marketing_manager",),
}


@dataclass(frozen=True)
class CurrentUser:
    user_id: int
    username: str
    name: str
    roles: frozenset[str]
    customer_id: int | None
    sales_rep_id: int | None

    def has_any(self, *roles: str) -> bool:
        """True when the user holds one of ``roles``; owner and admin count as every role."""
        return bool(self.roles & ALL_ACCESS_ROLES) or bool(self.roles & set(roles))


def role_label(role: str) -> str:
    return ROLE_LABELS.get(role, role.replace("_", " ").capitalize())


def current_user() -> CurrentUser | None:
    """The logged-in, active user as the database knows them; None otherwise."""
    if st.session_state.get("authentication_status") is not True:
        return None
    username = st.session_state.get("username")
    if not isinstance(username, str) or not username.strip():
        return None
    with read_connection(engine()) as conn:
        record = user_by_username(conn, username)
    if record is None or not record.active:
        return None
    return CurrentUser(
        user_id=record.user_id,
        username=record.username,
        name=record.name,
        roles=record.roles,
        customer_id=record.customer_id,
        sales_rep_id=record.sales_rep_id,
    )


def require_role(*roles: str) -> CurrentUser:
    """Return the current user if they may see a page for ``roles``; otherwise refuse and stop."""
    freeze_long_lived()  # every page starts here, after its imports: once per process
    user = current_user()
    if user is None:
        _send_to_login()
        st.warning(
            "Please log in to see this page. [Go to the login page](/)", icon=":material/lock:"
        )
        st.stop()
    if not user.has_any(*roles):
        show_refusal(user, roles)
        st.stop()
    return user


def _send_to_login() -> None:
    """Right after a server starts, pages/ is served without app.py (STACK_NOTES): go to login.

    There app.py remembers the page asked for and returns to it after login. When app.py is not
    a page of this run (the normal case, and AppTest of a page), nothing happens here.
    """
    from ui.login import remember_requested_page  # here: ui.login builds on this module

    remember_requested_page()
    try:
        st.switch_page(MAIN_SCRIPT)
    except StreamlitAPIException:
        return


def show_refusal(user: CurrentUser, roles: tuple[str, ...]) -> None:
    """Say which roles a page is for and which the user holds (no data)."""
    wanted = ", ".join(role_label(r) for r in roles) or "nobody"
    held = ", ".join(role_label(r) for r in sorted(user.roles)) or "none"
    st.error(
        f"This page is for: {wanted}. Your role(s): {held}. "
        "Ask an administrator if you need access.",
        icon=":material/block:",
    )
