"""What a server process does once, at its first page run: freeze what its imports made.

The first page run of a process comes after the app's imports (pandas, SQLAlchemy, Streamlit,
the schema, the engine's module :mod:`ui.db`) and the page's own; the chart theme
(:mod:`ui.theme`: altair, the Vega-Lite schema and its validator) is imported here when that page
has no chart, so the one freeze covers both. Everything they made lives as long as the process.
"""

from __future__ import annotations

import gc
import threading

_frozen = False
_lock = threading.Lock()


def freeze_long_lived() -> None:
    """Keep what the imports made out of the collector's full passes, once per process.

    A full pass otherwise walks those hundreds of thousands of objects (0.1-0.4 s each, measured
    on the 2-core machine) in the middle of some page run. One freeze, after both :mod:`ui.db`
    and :mod:`ui.theme` are loaded: a freeze later on would also keep whatever garbage the
    sessions have left by then out of the collector for good. The login form does not call it,
    so its first run loads no altair.
    """
    global _frozen
    if _frozen:
        return
    with _lock:
        if _frozen:
            return
        import ui.db  # noqa: F401  the engine's module and what it imports
        import ui.theme  # noqa: F401  the chart theme, altair and its schema

        gc.freeze()
        _frozen = True
