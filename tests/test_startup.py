"""The freezes of a server process: after the first page's imports, and once more after the
chart theme's when a page without charts came first."""

from __future__ import annotations

import json
import subprocess
import sys

CODE = """
import gc, json, sys
import ui.auth, ui.login
before = {"frozen": gc.get_freeze_count(), "altair": "altair" in sys.modules}
from ui.startup import freeze_long_lived
freeze_long_lived()  # a page without charts
first = gc.get_freeze_count()
no_altair = "altair" not in sys.modules
kept = [[n] for n in range(50_000)]  # made after the freeze: stays with the collector
freeze_long_lived()
again = gc.get_freeze_count()
import ui.theme  # a chart page
import altair as alt
freeze_long_lived()
charts = gc.get_freeze_count()
more = [[n] for n in range(50_000)]
freeze_long_lived()
print(json.dumps({
    "before": before,
    "first": first,
    "no_altair": no_altair,
    "again": again,
    "charts": charts,
    "after_charts": gc.get_freeze_count(),
    "theme": alt.theme.active,
    "db": "ui.db" in sys.modules,
}))
"""


def test_page_runs_freeze_the_imports_once_and_the_chart_theme_once():
    shown = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, check=True
    ).stdout
    got = json.loads(shown.strip().splitlines()[-1])
    # The login path's imports freeze nothing and load no altair.
    assert got["before"] == {"frozen": 0, "altair": False}
    # The first call freezes what every import made, and loads no chart library to do so.
    assert got["db"] and got["no_altair"]
    assert got["first"] > 100_000
    # A second call freezes nothing more: the lists made in between stay collectable.
    assert got["again"] == got["first"]
    # The chart theme loaded later is frozen once too, and nothing after it.
    assert got["theme"] == "larder"
    assert got["charts"] > got["again"] + 10_000
    assert got["after_charts"] == got["charts"]
