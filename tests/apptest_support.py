"""AppTest fixtures shared by every page test: a seeded database and a primed AppTest.

Bring the fixtures into a test module by assignment (pytest finds fixtures by name; an
assignment, unlike an import, does not trip ruff's F811 when a test takes the fixture)::

    from tests import apptest_support
    from tests.apptest_support import app_test

    fresh_caches = apptest_support.fresh_caches  # autouse: clears Streamlit caches
    seeded_db_url = apptest_support.seeded_db_url

``seeded_db_url`` (per module) and ``fresh_db_url`` (per test, for tests that write) point
``DATABASE_URL`` at a copy of one tiny seeded SQLite file built once per test process.
``fresh_caches`` clears Streamlit's process-wide caches around each test (STACK_NOTES: they leak).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
from sqlalchemy import Engine, insert

from data.db import make_engine
from data.migrate import upgrade

REPO_ROOT = Path(__file__).resolve().parent.parent
APP_TIMEOUT_S = 30

# The demo users (username -> (password, roles)); the seed and the tests agree on these.
DEMO_USERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "manager": ("manager-demo", ("warehouse_manager",)),
    "sales1": ("sales1-demo", ("sales_rep",)),
    "buyer": ("buyer-demo", ("purchasing_manager",)),
    "customer1": ("customer1-demo", ("customer",)),
    "customer2": ("customer2-demo", ("customer",)),
    "operator": ("operator-demo", ("warehouse_operator",)),
    "logistics": ("logistics-demo", ("logistics_manager",)),
    "finance": ("finance-demo", ("finance_manager",)),
    "service": ("service-demo", ("customer_service",)),
    "marketing": ("marketing-demo", ("marketing_manager",)),
    "owner": ("owner-demo", ("owner",)),
    "admin": ("admin-demo", ("admin",)),
}


def user_for_role(role: str) -> str:
    """The demo username holding exactly ``role``."""
    for username, (_password, roles) in DEMO_USERS.items():
        if roles == (role,):
            return username
    raise KeyError(role)


def _seed_by_hand(engine: Engine) -> None:
    """A minimal seed used until data.demo lands: demo users, two customers, a few products."""
    from data.schema import (
        Customer,
        Product,
        SalesRep,
        Stock,
        StockLedger,
        Supplier,
        User,
        UserRole,
        Warehouse,
    )

    with engine.begin() as conn:
        conn.execute(insert(Warehouse).values(id=1, code="MAIN", name="Main warehouse"))
        conn.execute(
            insert(Supplier).values(id=1, code="SUP1", name="Fresh Foods Ltd", lead_time_days=5)
        )
        conn.execute(
            insert(SalesRep),
            [
                {"id": 1, "code": "REP1", "name": "Sam Sales", "region": "North"},
                {"id": 2, "code": "REP2", "name": "Robin Rep", "region": "South"},
            ],
        )
        conn.execute(
            insert(Customer),
            [
                {"id": 1, "code": "C0001", "name": "Bistro Uno", "segment": "Restaurant",
                 "region": "North", "tier": "gold", "sales_rep_id": 1},
                {"id": 2, "code": "C0002", "name": "Hotel Due", "segment": "Hotel",
                 "region": "South", "tier": "silver", "sales_rep_id": 2},
            ],
        )  # fmt: skip
        products = [
            {"id": i, "sku": f"SKU{i:04d}", "name": name, "category": cat, "use": use,
             "unit": "each", "cost": 1 + i, "price": 2 + i, "supplier_id": 1,
             "reorder_point": 10, "safety_stock": 5, "order_up_to": 40}
            for i, (name, cat, use) in enumerate(
                [("Flour 25kg", "Dry goods", "flour"), ("Milk 1l", "Dairy", "milk"),
                 ("Oat milk 1l", "Dairy", "milk"), ("Napkins 500", "Disposables", "napkin")],
                start=1,
            )
        ]  # fmt: skip
        conn.execute(insert(Product), products)
        stock = {1: 50, 2: 3, 3: 20, 4: 0}
        conn.execute(
            insert(Stock),
            [{"product_id": p, "warehouse_id": 1, "on_hand": q} for p, q in stock.items()],
        )
        conn.execute(
            insert(StockLedger),
            [
                {"product_id": p, "warehouse_id": 1, "on_hand_delta": q, "reason": "opening"}
                for p, q in stock.items()
                if q
            ],
        )
        salt = bcrypt.gensalt(rounds=4)  # fast hashes: this is test data
        for user_id, (username, (password, roles)) in enumerate(DEMO_USERS.items(), start=1):
            conn.execute(
                insert(User).values(
                    id=user_id,
                    username=username,
                    name=username.capitalize(),
                    email=f"{username}@example.com",
                    password_hash=bcrypt.hashpw(password.encode(), salt).decode(),
                    customer_id={"customer1": 1, "customer2": 2}.get(username),
                    sales_rep_id=1 if username == "sales1" else None,
                )
            )
            conn.execute(insert(UserRole), [{"user_id": user_id, "role": r} for r in roles])


def seed_tiny(engine: Engine) -> None:
    """Seed ``engine`` (already migrated) with the tiny demo data."""
    try:
        from data.demo import generate
    except ImportError:
        _seed_by_hand(engine)
        return
    generate(engine, scale="tiny")


def build_seeded_file(path: Path) -> Path:
    """Create a migrated, tiny-seeded SQLite file at ``path``."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    seed_tiny(engine)
    engine.dispose()  # the last connection closing folds the WAL into the main file
    assert not path.with_name(path.name + "-wal").exists(), "WAL left behind: copy incomplete"
    return path


_template: Path | None = None


def seeded_template_file(tmp_path_factory) -> Path:
    """One seeded database file per test process, copied by the fixtures below."""
    global _template
    if _template is None or not _template.exists():
        _template = build_seeded_file(tmp_path_factory.mktemp("template") / "larder.db")
    return _template


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory) -> Path:
    return seeded_template_file(tmp_path_factory)


def _use_copy(template: Path, directory: Path) -> Iterator[str]:
    target = directory / "larder.db"
    shutil.copyfile(template, target)
    url = f"sqlite:///{target}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATABASE_URL", url)
        mp.setenv("LARDER_LOGIN_SLEEP", "0")
        mp.setenv("LARDER_COOKIE_KEY", "test-cookie-key-" + "0" * 32)
        yield url


# These fixtures take only pytest's own fixtures, so importing them by name is enough.
@pytest.fixture(scope="module")
def seeded_db_url(tmp_path_factory) -> Iterator[str]:
    """DATABASE_URL of a tiny seeded database shared by one test module (read-only tests)."""
    template = seeded_template_file(tmp_path_factory)
    yield from _use_copy(template, tmp_path_factory.mktemp("module_db"))


@pytest.fixture
def fresh_db_url(tmp_path_factory, tmp_path) -> Iterator[str]:
    """DATABASE_URL of a tiny seeded database of this test's own (tests that write)."""
    yield from _use_copy(seeded_template_file(tmp_path_factory), tmp_path)


def clear_streamlit_caches() -> None:
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    """Streamlit caches are process-wide; clear them around every test."""
    clear_streamlit_caches()
    yield
    clear_streamlit_caches()


def app_test(page_path: str, username: str | None = None, *, authenticated: bool = True):
    """An AppTest of ``page_path`` (relative to the repo root) as if ``username`` had logged in.

    ``username=None`` is a logged-out visitor. ``authenticated=False`` with a username mimics a
    session whose username is set but whose login never succeeded.
    """
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO_ROOT / page_path), default_timeout=APP_TIMEOUT_S)
    if username is not None:
        at.session_state["username"] = username
        at.session_state["authentication_status"] = True if authenticated else None
    return at


def data_elements(at) -> list:
    """Every element of a run that shows data: tables, dataframes, metrics, charts."""
    found = []
    for kind in ("dataframe", "table", "metric", "json"):
        found.extend(at.get(kind))
    found.extend(e for e in at.get("arrow_vega_lite_chart"))
    return found


def run_through_app(at):
    """Run ``at`` again from app.py (the router), not from the page the last run ended on.

    AppTest resets Streamlit's "pages/ folder" flag before every run, so a second run of an
    app that used st.navigation executes the current page file by itself (STACK_NOTES), and
    app.py's sidebar (inbox, account, logout) never runs. Asking for no page makes AppTest
    start from the main script again, which then lands on the default page.
    """
    at._page_hash = ""
    at._finished_page_script_hash = ""
    return at.run()


def assert_home_of(at, username: str) -> None:
    """``at`` shows the Home page of ``username`` (logged in, no error)."""
    assert not at.exception, [e.value for e in at.exception]
    titles = [t.value for t in at.title]
    assert len(titles) == 1 and titles[0].startswith("Welcome, "), titles
    texts = [m.value for m in at.main.markdown]
    assert any(f"You are logged in as **{username}**" in text for text in texts), texts
