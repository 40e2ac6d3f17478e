"""Fixtures for the browser tests: a seeded database, real servers and Debian's chromium.

Every test in this folder is marked ``browser``. Where /usr/bin/chromium is missing they skip
with the reason locally and fail in CI (``CI=true``), where the set-up installs it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser.harness import (
    REPO_ROOT,
    StreamlitServer,
    copy_database,
    launch_chromium,
    new_page,
    require_chromium,
    seed_demo_database,
)

BROWSER_DIR = Path(__file__).resolve().parent
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts" / "browser"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(BROWSER_DIR):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, attach the end of each server's log (tracebacks are only logged there)."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    if report.failed:
        for name in ("shared_server", "fresh_server"):
            server = item.funcargs.get(name) if hasattr(item, "funcargs") else None
            if isinstance(server, StreamlitServer):
                report.sections.append((f"{name} log (last 4000 chars)", server.log()[-4000:]))
    return report


@pytest.fixture(scope="session")
def chromium_ready() -> None:
    """Skip (locally) or fail (in CI) with the reason when chromium is not installed."""
    require_chromium()


@pytest.fixture(scope="session")
def demo_template_db(tmp_path_factory) -> Path:
    """The tiny demo database, generated once per test process and copied per server."""
    return seed_demo_database(tmp_path_factory.mktemp("template") / "larder.db")


def _run_server(template: Path, folder: Path) -> Iterator[StreamlitServer]:
    database = copy_database(template, folder / "larder.db")
    server = StreamlitServer(database=database, log_path=folder / "streamlit.log").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def shared_server(chromium_ready, demo_template_db, tmp_path_factory) -> Iterator[StreamlitServer]:
    """One server for the tests that do not need a fresh start."""
    yield from _run_server(demo_template_db, tmp_path_factory.mktemp("shared_server"))


@pytest.fixture
def fresh_server(chromium_ready, demo_template_db, tmp_path) -> Iterator[StreamlitServer]:
    """A server started for this test alone: no session has run ``st.navigation`` on it yet."""
    yield from _run_server(demo_template_db, tmp_path)


@pytest.fixture(scope="session")
def browser(chromium_ready) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser, request) -> Iterator:
    """Factory: a new page in its own browser context (own cookies); all closed at the end.

    When the test fails, each page's last state is saved under test-artifacts/browser/.
    """
    pages: list[Page] = []

    def factory() -> Page:
        page = new_page(browser)
        pages.append(page)
        return page

    yield factory
    failed = (
        getattr(request.node, "report_call", None) is not None and request.node.report_call.failed
    )
    for number, page in enumerate(pages):
        if failed:
            ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
            page.screenshot(path=ARTIFACTS_DIR / f"{name}-{number}.png")
        page.context.close()
