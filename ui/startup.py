"""What a server process does at a page run's start: freeze what its imports made, once each.

The first page run of a process comes after the app's imports (pandas, SQLAlchemy, Streamlit,
the schema, the engine's module :mod:`ui.db`) and the page's own. A chart page has also imported
the chart theme (:mod:`ui.theme`: altair, the Vega-Lite schema and its validator); a page without
charts has not, and does not load it only to freeze it. Everything these imports made lives as
long as the process.
"""

from __future__ import annotations

import gc
import sys
import threading

CHART_THEME = "ui.theme"

_frozen = False  # a first freeze has run
_frozen_with_charts = False  # a freeze has run with the chart theme loaded
_lock = threading.Lock()


def _done(charts: bool) -> bool:
    return _frozen_with_charts or (_frozen and not charts)


def freeze_long_lived() -> None:
    """Keep what the imports made out of the collector's full passes.

    A full pass otherwise walks those hundreds of thousands of objects (0.1-0.4 s each, measured
    on the 2-core machine) in the middle of some page run. At most two freezes per process: at
    the first page run, and at the first run with the chart theme loaded when that came later.
    A later freeze would also keep whatever garbage the sessions have left by then out of the
    collector for good, so there are no others. Called by :func:`ui.auth.require_role`, after
    the page's imports (:mod:`ui.db` among them); the login form does not call it.
    """
    global _frozen, _frozen_with_charts
    charts = CHART_THEME in sys.modules
    if _done(charts):
        return
    with _lock:
        if _done(charts):
            return
        gc.freeze()
        _frozen = True
        _frozen_with_charts = charts
