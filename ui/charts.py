"""Altair charts whose Vega-Lite spec is built once per distinct data, not on every run.

Building an altair chart and turning it into a spec costs tens of
milliseconds per chart, more than the rest of a page's run once its reads are cached; a live
fragment pays it again on every refresh. ``cached_chart(build, *args)`` keeps the spec that
``build(*args)`` gives for each distinct ``args`` (data frames are compared by content) and
draws it as ``st.altair_chart`` would: the data frames travel as named Arrow datasets, converted
once with the spec.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import altair as alt
import streamlit as st
from streamlit.dataframe_util import convert_anything_to_arrow_bytes

from ui.code_digest import code_digest
from ui.theme import check_charts

try:  # the lock Streamlit holds while altair's global theme and data transformer are switched
    from streamlit.elements.vega_charts import _altair_globals_lock as _globals_lock
except ImportError:  # pragma: no cover - a Streamlit without it
    _globals_lock = threading.Lock()

SPEC_TTL_S = 600
SPEC_ENTRIES = 256
_TRANSFORMER = "larder_named_frames"


def _named_frame(data: Any, datasets: dict[str, Any]) -> dict[str, str]:
    """Altair data transformer: keep the frame aside and refer to it by name."""
    name = f"larder_data_{len(datasets)}"
    datasets[name] = data
    return {"name": name}


alt.data_transformers.register(_TRANSFORMER, _named_frame)


def vega_spec(chart: alt.TopLevelMixin) -> dict:
    """The Vega-Lite spec of ``chart``, its data frames under ``datasets`` by name."""
    datasets: dict[str, Any] = {}
    with _globals_lock:
        # As Streamlit does: the "default" theme's fixed sizes do not suit the page.
        theme = alt.theme.enable("none") if alt.theme.active == "default" else nullcontext()
        with theme, alt.data_transformers.enable(_TRANSFORMER, datasets=datasets):
            spec = chart.to_dict(validate=check_charts())
    # Kept as Arrow bytes, as Streamlit sends them: no conversion on the runs that reuse it.
    arrow = {name: convert_anything_to_arrow_bytes(data) for name, data in datasets.items()}
    spec["datasets"] = {**spec.get("datasets", {}), **arrow}
    return spec


@st.cache_data(ttl=SPEC_TTL_S, max_entries=SPEC_ENTRIES, show_spinner=False)
def _spec(_build: Callable[..., alt.TopLevelMixin], name: str, args: tuple) -> dict:
    return vega_spec(_build(*args))


def cached_chart(build: Callable[..., alt.TopLevelMixin], *args: Any, **draw: Any) -> None:
    """Draw ``build(*args)``, building its spec only for ``args`` not seen before.

    ``build`` must depend on nothing but ``args`` (and constants); ``draw`` goes to
    ``st.vega_lite_chart`` (``width="stretch"``, say).
    """
    name = f"{Path(build.__code__.co_filename).stem}.{build.__qualname__}.{code_digest(build)}"
    st.vega_lite_chart(spec=_spec(build, name, args), **draw)
