"""Which pages exist, how they are titled, and which of them a user's roles open."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ui.auth import PAGE_ROLES, CurrentUser

REPO_ROOT = Path(__file__).resolve().parent.parent
# Key in st.session_state where app.py leaves this run's st.Page objects (for st.page_link).
NAV_PAGES_KEY = "larder_nav_pages"


@dataclass(frozen=True)
class PageSpec:
    path: str  # relative to the repository root, as in PAGE_ROLES
    title: str
    icon: str  # a Material icon name
    section: str
    summary: str


PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/home.py", "Home", ":material/home:", "Larder", "Who you are and where to go."),
    PageSpec(
        "pages/stock_control.py",
        "Stock control",
        ":material/inventory:",
        "Warehouse",
        "Live stock, low-stock alerts, thresholds and the backorder report.",
    ),
    PageSpec(
        "pages/shop.py",
        "Shop",
        ":material/storefront:",
        "Customers",
        "Browse the catalogue with live availability, order, follow your orders.",
    ),
    PageSpec(
        "pages/my_customers.py",
        "My customers",
        ":material/handshake:",
        "Customers",
        "Your customers' backorders, their risk, substitutes, priority orders and updates.",
    ),
    PageSpec(
        "pages/customer_desk.py",
        "Customer desk",
        ":material/support_agent:",
        "Customers",
        "Find a customer or order, its timeline, record calls and answer questions.",
    ),
    PageSpec(
        "pages/admin.py",
        "Admin",
        ":material/admin_panel_settings:",
        "Administration",
        "Users and roles, settings and the audit trail.",
    ),
)


def url_path(spec: PageSpec) -> str:
    """The URL path Streamlit gives a file page (its file name without .py)."""
    return Path(spec.path).stem


def existing_pages() -> list[PageSpec]:
    return [spec for spec in PAGES if page_exists(spec)]


def page_exists(spec: PageSpec) -> bool:
    return (REPO_ROOT / spec.path).is_file()


def pages_for(user: CurrentUser) -> list[PageSpec]:
    """The pages ``user`` may open, in menu order (only pages whose file is present)."""
    return [
        spec for spec in PAGES if page_exists(spec) and user.has_any(*PAGE_ROLES.get(spec.path, ()))
    ]
