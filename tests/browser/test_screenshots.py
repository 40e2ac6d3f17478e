"""The screenshot machinery works: each role page is shot at 1440x900 without errors."""

from __future__ import annotations

from PIL import Image

from tests.browser.harness import VIEWPORT
from tests.browser.screenshots import SHOTS, take_screenshots

# A blank or half-drawn page has a handful of colours; a drawn table and text have hundreds.
MIN_COLOURS = 64


def test_screenshots_of_the_role_pages(shared_server, browser, tmp_path):
    saved = take_screenshots(browser, shared_server.url, tmp_path)
    assert [p.name for p in saved] == [shot.file_name for shot in SHOTS]
    for path in saved:
        with Image.open(path) as image:
            assert image.size == (VIEWPORT["width"], VIEWPORT["height"])
            colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
            assert len(colours) >= MIN_COLOURS, f"{path.name} looks blank"
