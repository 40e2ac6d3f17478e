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

import pytest
from sqlalchemy import Engine
from streamlit import config as streamlit_config

from data import demo
from data.db import make_engine
from data.migrate import upgrade

REPO_ROOT = Path(__file__).resolve().parent.parent
APP_TIMEOUT_S = 30

# .streamlit/config.toml hides error details from users; a failing test should show them.
streamlit_config.set_option("client.showErrorDetails", "full")

# The demo users as {username: (password, roles)}, from the demo generator that seeds the tests.
DEMO_USERS: dict[str, tuple[str, tuple[str, ...]]] = {
    user.username: (user.password, user.roles) for user in demo.DEMO_USERS
}


def user_for_role(role: str) -> str:
    """The demo username holding exactly ``role``."""
    for username, (_password, roles) in DEMO_USERS.items():
        if roles == (role,):
            return username
    raise KeyError(role)


def seed_tiny(engine: Engine) -> None:
    """Seed ``engine`` (already migrated) with the tiny demo data."""
    demo.generate(engine, scale="tiny")


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
    # Streamlit 1.67 names Altair and Vega-Lite charts "vega_lite_chart"; older ones "arrow_...".
    found.extend(at.get("arrow_vega_lite_chart"))
    found.extend(at.get("vega_lite_chart"))
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
