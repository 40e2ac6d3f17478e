"""Building altair charts cheaply, and their Vega-Lite specs with their data for a cached read.

Every encoding is given as altair's channel object (``alt.X("x:Q")``, ``alt.Tooltip(...)``, a
value channel from :func:`conditional`), and layers are made with ``alt.layer``. A channel given
as a string or a plain dict (``"x:Q"``, ``alt.value(...)``, ``alt.condition(...)``) makes altair
look its class up among all of its schema classes, 4 to 10 ms a channel on the 2-core machine;
each ``+`` of a layered chart copies every layer before it. Both give the same spec.

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


def conditional(channel: type, test: Any, if_true: Any, if_false: Any) -> Any:
    """The value channel ``channel`` (``alt.ColorValue``, ``alt.OpacityValue``...) at
    ``if_true`` where ``test`` (a selection or a predicate) holds and ``if_false`` elsewhere:
    ``alt.condition``'s channel, built as the object it stands for."""
    return channel(**alt.condition(test, alt.value(if_true), alt.value(if_false)))
