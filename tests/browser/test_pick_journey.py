"""The operator's journey on a tablet-sized screen: a wrong bin is refused, then picks along the route.

Runs in its own server (a fresh tiny demo), so the picks it books touch no other journey.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from data.db import make_engine
from data.schema import PickTask
from tests.browser.conftest import ARTIFACTS_DIR
from tests.browser.harness import (
    APP_RUN_TIMEOUT_MS,
    APP_WATCH_SCRIPT,
    StreamlitServer,
    act,
    copy_database,
    login,
    open_app,
    sqlite_url,
    wait_for_settled,
)

TABLET = {"width": 768, "height": 1024}
PICKS_ALONG_THE_ROUTE = 3
NEXT_TASK = re.compile(r"Go to bin (\S+) \(aisle \d+, bay \d+\) and take (\d+) × (\S+) ")


@pytest.fixture
def pick_server(chromium_ready, demo_template_db, tmp_path) -> Iterator[StreamlitServer]:
    database = copy_database(demo_template_db, tmp_path / "larder.db")
    server = StreamlitServer(database=database, log_path=tmp_path / "server.log").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def tablet(browser) -> Iterator[Page]:
    context = browser.new_context(viewport=TABLET)
    context.set_default_timeout(APP_RUN_TIMEOUT_MS)
    context.add_init_script(APP_WATCH_SCRIPT)
    page = context.new_page()
    yield page
    context.close()


def scan(page: Page, key: str, code: str) -> None:
    """Type a code into a scan box and press Enter, as a scanner does."""
    box = page.locator(f".st-key-{key} input")
    box.fill(code)
    expect(box).to_have_value(code)  # the code is in the box before Enter is pressed
    act(page, lambda: box.press("Enter"))


def next_task(page: Page) -> tuple[str, int, str]:
    line = page.get_by_text(re.compile(r"^Go to bin ")).inner_text()
    found = NEXT_TASK.search(line)
    assert found, line
    return found.group(1), int(found.group(2)), found.group(3)


def task_statuses(url: str) -> dict[int, str]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(PickTask.id, PickTask.status)).all()
    engine.dispose()
    return dict(rows)


def no_horizontal_scroll(page: Page) -> bool:
    return page.evaluate(
        """() => [document.documentElement, document.body,
                  document.querySelector('[data-testid="stMain"]'),
                  document.querySelector('[data-testid="stAppViewContainer"]')]
                 .filter(Boolean).every(el => el.scrollWidth <= el.clientWidth + 1)"""
    )


def test_operator_scans_a_wrong_bin_then_picks_along_the_route(pick_server, tablet):
    url = sqlite_url(pick_server.database)
    page = tablet
    open_app(page, pick_server.url)
    login(page, "operator", "operator-demo")
    open_app(page, pick_server.url, "/pick_queue")
    expect(page.get_by_role("heading", name="Pick queue", exact=True)).to_be_visible()
    wait_for_settled(page)
    assert no_horizontal_scroll(page), "the page scrolls sideways at 768 px"
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    # The screen as the operator sees it: a full-page shot would resize the page under the
    # journey that follows.
    page.screenshot(path=str(ARTIFACTS_DIR / "pick_queue_768.png"))

    before = task_statuses(url)
    bin_code, qty, sku = next_task(page)
    scan(page, "pick_bin_0", "Z99-99-9")
    expect(page.get_by_text("Wrong bin: you scanned Z99-99-9")).to_be_visible()
    expect(page.get_by_text(f"is in bin {bin_code}. Nothing was picked")).to_be_visible()
    assert task_statuses(url) == before, "a refused scan changed a pick task"

    for round_no in range(PICKS_ALONG_THE_ROUTE):
        bin_code, qty, sku = next_task(page)
        scan(page, f"pick_bin_{round_no}", bin_code)
        expect(page.get_by_text(f"Bin {bin_code} is right. Now scan the SKU")).to_be_visible()
        scan(page, f"pick_sku_{round_no}", sku)
        expect(page.get_by_text(f"Picked {qty} × {sku} from {bin_code}")).to_be_visible()
        expect(page.locator(f".st-key-pick_bin_{round_no + 1} input")).to_have_value("")

    after = task_statuses(url)
    picked = [t for t, status in after.items() if status == "picked" and before[t] == "open"]
    assert len(picked) == PICKS_ALONG_THE_ROUTE
    # The walking list strikes the picked stops through, in route order from the top.
    walk = page.locator("ol").first.inner_text()
    assert walk.count("✓ picked") == PICKS_ALONG_THE_ROUTE, walk
    assert no_horizontal_scroll(page), "the page scrolls sideways at 768 px after picking"
    page.locator('[data-testid="stVegaLiteChart"]').first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS_DIR / "pick_queue_768_route.png"))
    page.get_by_role("tab", name="Pack", exact=True).click()
    expect(
        page.get_by_text(f"{PICKS_ALONG_THE_ROUTE} picked tasks wait to be packed")
    ).to_be_visible()
    assert no_horizontal_scroll(page), "the Pack tab scrolls sideways at 768 px"
    page.get_by_role("tab", name="Queue", exact=True).click()
    expect(page.get_by_role("tab", name="Queue", exact=True)).to_have_attribute(
        "aria-selected", "true"
    )
    assert no_horizontal_scroll(page), "the Queue tab scrolls sideways at 768 px"
    page.screenshot(path=str(ARTIFACTS_DIR / "pick_queue_768_queue.png"))
