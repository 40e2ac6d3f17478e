"""Vega-Lite specs of altair charts with their data, to be kept by a cached read.

Building an altair chart and turning it into a spec costs tens of milliseconds per chart, more
than the rest of a page's run once its reads are cached; a live fragment would pay it again on
every refresh. A page's cached read returns ``vega_spec(chart)`` instead, keyed by what the
chart is made of, and the page draws it with ``st.vega_lite_chart(spec=...)`` as
``st.altair_chart`` would: the data frames travel as named Arrow datasets, converted once with
the spec.
"""

from __future__ import annotations

import threading
from contextlib import nullcontext
from typing import Any

import altair as alt
from streamlit.dataframe_util import convert_anything_to_arrow_bytes

from ui.theme import check_charts

try:  # the lock Streamlit holds while altair's global theme and data transformer are switched
    from streamlit.elements.vega_charts import _altair_globals_lock as _globals_lock
except ImportError:  # pragma: no cover - a Streamlit without it
    _globals_lock = threading.Lock()

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
