"""One Altair theme for every chart: readable type, a calm palette, no chart borders; chart specs
made once (:func:`chart_spec`) and drawn with rows turned into Arrow bytes by the cached read that
made them (:func:`chart_rows`, :func:`draw`)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st
from streamlit.dataframe_util import convert_anything_to_arrow_bytes

from ui.code_digest import code_digest

THEME_NAME = "larder"
FONT = "Source Sans Pro, Helvetica, Arial, sans-serif"
# Colour-blind-safe categorical palette (Okabe-Ito), starting with the brand green.
PALETTE = [
    "#1b7f5b",
    "#e69f00",
    "#0072b2",
    "#d55e00",
    "#cc79a7",
    "#56b4e9",
    "#009e73",
    "#f0e442",
    "#000000",
]
ALERT = "#c0392b"
MUTED = "#6b7280"


@alt.theme.register(THEME_NAME, enable=True)
def larder_theme() -> alt.theme.ThemeConfig:
    """The Larder chart theme (registered and enabled on import)."""
    return {
        "config": {
            "font": FONT,
            "view": {"stroke": None, "continuousWidth": 600, "continuousHeight": 300},
            "range": {"category": PALETTE},
            "axis": {
                "labelFontSize": 13,
                "titleFontSize": 13,
                "titleFontWeight": 600,
                "gridColor": "#e5e7eb",
                "domainColor": MUTED,
                "tickColor": MUTED,
                "labelColor": "#374151",
                "titleColor": "#111827",
            },
            "legend": {"labelFontSize": 13, "titleFontSize": 13, "titleFontWeight": 600},
            "title": {"fontSize": 16, "fontWeight": 600, "anchor": "start", "color": "#111827"},
            "bar": {"color": PALETTE[0]},
            "line": {"color": PALETTE[0], "strokeWidth": 2},
            "point": {"color": PALETTE[0]},
            "area": {"color": PALETTE[0]},
        }
    }


def enable() -> None:
    """Make sure the Larder theme is the active one (idempotent)."""
    alt.theme.enable(THEME_NAME)


# Specs kept per chart builder: one per choice of labels and fields (never per data).
SPEC_CACHE_ENTRIES = 64
# Where this is "1" (the test suite sets it) every spec is checked against the Vega-Lite schema
# as it is made. A server skips that check: it is two thirds of turning a chart into its spec,
# some 20 ms of the Overview's first run, and every chart of every page is made in the tests.
CHECK_CHARTS_ENV = "LARDER_CHECK_CHARTS"


def check_charts() -> bool:
    """Whether chart specs are checked against the Vega-Lite schema as they are made."""
    return os.environ.get(CHECK_CHARTS_ENV) == "1"


def chart_spec(build: Callable[..., alt.TopLevelMixin]) -> Callable[..., dict]:
    """Cache the Vega-Lite spec of the chart ``build(*args)`` makes, without data, per arguments.

    Making an Altair chart validates every part of it against the Vega-Lite schema, about ten
    milliseconds a chart, after every write that changes its data. ``build`` makes the chart
    from its labels and fields only (``alt.Chart()`` without data; its arguments must not be
    the data), so the spec is made once per process and choice; the page draws it with
    ``st.vega_lite_chart(data, spec, ...)``, which sends the data as ``st.altair_chart`` does.
    """

    def spec(*args: Any, **kwargs: Any) -> dict:
        made = build(*args, **kwargs).to_dict(validate=check_charts())
        made.pop("data", None)  # Altair's placeholder for a chart without data
        made.pop("datasets", None)
        return made

    # st.cache_data tells functions apart by module and name; page scripts all run as __main__.
    spec.__module__ = build.__module__
    spec.__qualname__ = (
        f"{Path(build.__code__.co_filename).stem}.{build.__qualname__}__spec_{code_digest(build)}"
    )
    return st.cache_data(show_spinner=False, max_entries=SPEC_CACHE_ENTRIES)(spec)


# The name a chart's rows go by in its spec (Vega-Lite's named data).
ROWS_NAME = "rows"


@dataclasses.dataclass(frozen=True, eq=False)  # frames do not compare as one truth value
class ChartRows:
    """A chart's rows twice: as a frame for the page to look into, and as the Arrow bytes that
    Streamlit sends to the browser.

    Streamlit turns a chart's frame into Arrow bytes on every run that draws it, some
    milliseconds a chart. A cached read that returns ``chart_rows(frame)`` converts once per
    change of its data; every run in between sends the bytes it kept.
    """

    frame: pd.DataFrame
    arrow: bytes

    @property
    def empty(self) -> bool:
        return self.frame.empty


def chart_rows(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> ChartRows:
    """``frame`` with its Arrow bytes (of ``columns`` alone when given: what the chart uses)."""
    sent = frame if columns is None else frame[list(columns)]
    return ChartRows(frame, convert_anything_to_arrow_bytes(sent))


def draw(spec: dict, rows: ChartRows, **options: Any) -> Any:
    """``st.vega_lite_chart`` of ``spec`` (from :func:`chart_spec`) over ``rows``, sending the
    bytes ``rows`` holds as the chart's named data, as ``st.altair_chart`` sends its frames."""
    named = {**spec, "data": {"name": ROWS_NAME}, "datasets": {ROWS_NAME: rows.arrow}}
    return st.vega_lite_chart(spec=named, **options)


def _warm_up() -> None:
    """Make one tiny chart now, at import (server start): the first chart of a process loads
    the Vega-Lite schema, builds its validator and looks up the dataframe plugins, some 70 ms
    that the first page with a chart would otherwise pay in its first run. Like the pages'
    specs (:func:`chart_spec`) it has no data."""
    alt.Chart().mark_line(point=True).encode(
        x=alt.X("x:O", axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("y:Q", axis=alt.Axis(format="%")),
        tooltip=[alt.Tooltip("y:Q", format=".1f")],
    ).to_dict()


_warm_up()
