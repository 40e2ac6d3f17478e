"""The one freeze of a server process: after the app's imports and the chart theme, once."""

from __future__ import annotations

import json
import subprocess
import sys

CODE = """
import gc, json, sys
import ui.auth, ui.login
before = {"frozen": gc.get_freeze_count(), "altair": "altair" in sys.modules}
from ui.startup import freeze_long_lived
freeze_long_lived()
first = gc.get_freeze_count()
kept = [[n] for n in range(50_000)]  # made after the freeze: stays with the collector
freeze_long_lived()
import altair as alt
print(json.dumps({
    "before": before,
    "first": first,
    "again": gc.get_freeze_count(),
    "theme": alt.theme.active,
    "db": "ui.db" in sys.modules,
}))
"""


def test_the_first_page_run_freezes_the_imports_and_the_chart_theme_once():
    shown = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, check=True
    ).stdout
    got = json.loads(shown.strip().splitlines()[-1])
    # The login path's imports freeze nothing and load no altair.
    assert got["before"] == {"frozen": 0, "altair": False}
    # The first call loads the chart theme and freezes what every import made.
    assert got["theme"] == "larder" and got["db"]
    assert got["first"] > 100_000
    # A second call freezes nothing more: the lists made in between stay collectable.
    assert got["again"] == got["first"]
