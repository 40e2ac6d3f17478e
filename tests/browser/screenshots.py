"""Screenshots of the role pages at 1440x900, taken with the browser tests' machinery.

    .venv/bin/python -m tests.browser.screenshots            # writes docs/screenshots/*.png

starts its own server on a fresh tiny demo database; the browser tests call
:func:`take_screenshots` against their shared server to prove the same code works.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, expect, sync_playwright

from tests.browser.harness import (
    REPO_ROOT,
    StreamlitServer,
    chromium_problem,
    go_to,
    launch_chromium,
    login,
    new_page,
    open_app,
    wait_for_settled,
)

SCREENSHOT_DIR = REPO_ROOT / "docs" / "screenshots"
# Anything like this on a page means it is not fit to show.
BROKEN_SELECTORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'


@dataclass(frozen=True)
class Shot:
    file_name: str
    username: str
    password: str
    page_title: str
    heading: str


SHOTS = (
    Shot("stock_control.png", "manager", "manager-demo", "Stock control", "Stock control"),
    Shot("shop.png", "customer1", "customer1-demo", "Shop", "Shop"),
    Shot("overview.png", "owner", "owner-demo", "Overview", "Overview"),
    Shot("pick_queue.png", "operator", "operator-demo", "Pick queue", "Pick queue"),
)


def take_screenshots(browser: Browser, base_url: str, out_dir: Path) -> list[Path]:
    """Log in as each page's user, open the page, wait until drawn, save a viewport shot."""
    out_dir.mkdir(parents=True, exist_ok=True)
    saved = []
    for shot in SHOTS:
        page = new_page(browser)
        try:
            open_app(page, base_url)
            login(page, shot.username, shot.password)
            go_to(page, shot.page_title)
            expect(page.get_by_role("heading", name=shot.heading, exact=True)).to_be_visible()
            grids = page.locator('[data-testid="stDataFrame"] canvas')
            if grids.count():
                expect(grids.first).to_be_visible()
            wait_for_settled(page)
            broken = page.locator(BROKEN_SELECTORS)
            if broken.count():
                raise AssertionError(
                    f"{shot.page_title} shows an error: {broken.first.inner_text()[:300]}"
                )
            path = out_dir / shot.file_name
            page.screenshot(path=path)
            saved.append(path)
        finally:
            page.context.close()
    return saved


def main() -> int:
    problem = chromium_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    from tests.browser.harness import seed_demo_database

    with tempfile.TemporaryDirectory(prefix="larder-shots-") as folder:
        database = seed_demo_database(Path(folder) / "larder.db")
        server = StreamlitServer(database=database, log_path=Path(folder) / "streamlit.log")
        server.start()
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                try:
                    for path in take_screenshots(browser, server.url, SCREENSHOT_DIR):
                        print(path.relative_to(REPO_ROOT))
                finally:
                    browser.close()
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
