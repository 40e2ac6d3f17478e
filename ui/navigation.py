"""Which pages exist, how they are titled, and which of them a user's roles open."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ui.auth import PAGE_ROLES, CurrentUser

REPO_ROOT = Path(__file__).resolve().parent.parent
# Key in st.session_state where app.py leaves this run's st.Page objects (for st.page_link).
NAV_PAGES_KEY = "larder_nav_pages"
# Pages that show one linked customer's own data: in the menu only for holders of the customer
# role. The owner and the administrator may still open them by URL (the guard lets them), but
# without a linked customer there is nothing to see, so the menu does not offer a dead end.
CUSTOMER_OWN_PAGES = frozenset({"pages/shop.py"})


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
        "pages/pick_queue.py",
        "Pick queue",
        ":material/shopping_cart_checkout:",
        "Warehouse",
        "Open picks by priority, the walking route of the next batch, scan to pick and pack.",
    ),
    PageSpec(
        "pages/replenishment.py",
        "Replenishment",
        ":material/shopping_cart:",
        "Purchasing",
        "Low stock, drafted purchase orders to approve and send, late POs, supplier record.",
    ),
    PageSpec(
        "pages/in_transit.py",
        "In transit",
        ":material/local_shipping:",
        "Logistics",
        "Inbound POs and outbound shipments on the way, tracking events, carriers' record.",
    ),
    PageSpec(
        "pages/shop.py",
        "Shop",
        ":material/storefront:",
        "Customers",
        "Browse the catalogue with live availability, order, follow your orders.",
    ),
    PageSpec(
        "pages/overview.py",
        "Overview",
        ":material/monitoring:",
        "Analytics",
        "Backorder rates by category, segment and period, root causes and revenue at risk.",
    ),
    PageSpec(
        "pages/backorder_cost.py",
        "Backorder cost",
        ":material/payments:",
        "Analytics",
        "What backorders cost: expediting, split freight, credits, handling, lost sales.",
    ),
    PageSpec(
        "pages/loyalty_impact.py",
        "Loyalty impact",
        ":material/favorite:",
        "Analytics",
        "Retention, NPS and sentiment of customers who met backorders, and a win-back list.",
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


def menu_pages_for(user: CurrentUser) -> list[PageSpec]:
    """The pages offered in ``user``'s menu: those they may open, less other people's own pages."""
    return [
        spec
        for spec in pages_for(user)
        if spec.path not in CUSTOMER_OWN_PAGES or "customer" in user.roles
    ]
