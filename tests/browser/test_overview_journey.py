"""The owner clicks a category bar on the Overview: the segment chart and the table follow it."""

from __future__ import annotations

import datetime as dt

from playwright.sync_api import Page, expect

from data.db import make_engine
from data.schema import utcnow
from queries import overview as ov
from tests.browser.harness import act, go_to, login, open_app, sqlite_url, wait_for_settled

CHARTS = '[data-testid="stVegaLiteChart"]'
TOOLTIP = "#vg-tooltip-element"
SCAN_STEP_PX = 3


def _top_category(database) -> str:
    """The category with the highest line backorder rate over the page's default 52 weeks."""
    engine = make_engine(sqlite_url(database))
    today = utcnow().date()
    rates = ov.rates_by(engine, "category", ov.Filters(today - dt.timedelta(weeks=52), today))
    engine.dispose()
    return str(rates.sort_values("line_rate", ascending=False).iloc[0]["category"])


def _point_at_bar(page: Page, chart, label: str) -> tuple[float, float]:
    """Screen position over the bar whose tooltip names ``label`` (the chart is a canvas)."""
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    assert box is not None
    x = box["x"] + box["width"] * 0.6  # the top bar is the longest (sorted by rate)
    y = box["y"] + 2
    while y < box["y"] + box["height"] / 2:
        page.mouse.move(x, y)
        page.wait_for_timeout(60)
        tip = page.locator(TOOLTIP)
        if tip.count() and tip.is_visible() and label in tip.inner_text():
            return x, y
        y += SCAN_STEP_PX
    raise AssertionError(f"no bar with a tooltip for {label!r} in the chart")


def _column_values(page: Page, column: str) -> list[str]:
    """The visible cells of ``column`` in the drill-down grid (its accessible table)."""
    # The only grid on the page; it draws its cells once it is on screen.
    grid = page.locator('[data-testid="stDataFrame"]')
    expect(grid).to_have_count(1)
    grid.scroll_into_view_if_needed()
    expect(grid.locator("thead th").filter(has_text=column)).to_have_count(1)
    headers = grid.evaluate("el => [...el.querySelectorAll('thead th')].map(th => th.textContent)")
    index = headers.index(column)
    return grid.evaluate(
        "(el, i) => [...el.querySelectorAll('tbody tr')].map(tr => tr.children[i]?.textContent)",
        index,
    )


def test_owner_clicks_a_category_and_the_segment_chart_and_table_follow(shared_server, open_page):
    category = _top_category(shared_server.database)
    page = open_page()
    open_app(page, shared_server.url)
    login(page, "owner", "owner-demo")
    go_to(page, "Overview")
    expect(page.get_by_text("By customer segment", exact=True)).to_be_visible()
    before = _column_values(page, "Category")
    assert len(set(before)) > 1, before  # the table starts with every category

    x, y = _point_at_bar(page, page.locator(CHARTS).first, category)
    act(page, lambda: page.mouse.click(x, y))
    wait_for_settled(page)

    # The segment chart is now for that category, and so is the table of lines.
    expect(page.get_by_text(f"By customer segment — category {category}")).to_be_visible()
    expect(page.get_by_text(f"category {category}", exact=False).last).to_be_visible()
    after = _column_values(page, "Category")
    assert after and set(after) == {category}, after
