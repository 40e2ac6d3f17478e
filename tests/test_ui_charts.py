"""Charts drawn from a kept Vega-Lite spec: the same chart as st.altair_chart would send."""

from __future__ import annotations

import io

import altair as alt
import pandas as pd
import pyarrow as pa
import pytest

import ui.theme  # noqa: F401  the Larder theme is active on every page
from ui.charts import vega_spec


def _frame(n: int = 5) -> pd.DataFrame:
    return pd.DataFrame({"week": [f"w{i}" for i in range(n)], "rate": [i / 10 for i in range(n)]})


def _chart(df: pd.DataFrame) -> alt.Chart:
    return alt.Chart(df).mark_bar().encode(x="week:O", y=alt.Y("rate:Q", title="Rate"))


def _decoded(data: bytes) -> pd.DataFrame:
    return pa.ipc.open_stream(io.BytesIO(data)).read_all().to_pandas()


def test_the_spec_is_the_one_streamlit_would_send():
    from streamlit.elements.vega_charts import _convert_altair_to_vega_lite_spec

    df = _frame()
    ours = vega_spec(_chart(df))
    theirs = _convert_altair_to_vega_lite_spec(_chart(df))
    assert ours["mark"] == theirs["mark"] and ours["encoding"] == theirs["encoding"]
    assert ours.get("config") == theirs.get("config")  # the Larder theme is applied alike
    (name,) = ours["datasets"]
    assert ours["data"] == {"name": name}
    pd.testing.assert_frame_equal(_decoded(ours["datasets"][name]), df)


def _badly_sorted(df: pd.DataFrame) -> alt.Chart:
    # Altair accepts this when the chart is made; only the schema check of the spec refuses it.
    return alt.Chart(df).mark_bar().encode(x=alt.X("week:N", sort="upwards"), y="rate:Q")


def test_the_tests_check_every_spec_against_the_schema():
    assert ui.theme.check_charts()  # tests/conftest.py turns the check on for the whole suite
    with pytest.raises(alt.utils.schemapi.SchemaValidationError):
        vega_spec(_badly_sorted(_frame()))
    spec_of = ui.theme.chart_spec(
        lambda: alt.Chart().mark_bar().encode(x=alt.X("week:N", sort="upwards"), y="rate:Q")
    )
    with pytest.raises(alt.utils.schemapi.SchemaValidationError):
        spec_of()


def test_a_server_makes_specs_without_the_schema_check(monkeypatch):
    monkeypatch.delenv(ui.theme.CHECK_CHARTS_ENV)
    assert not ui.theme.check_charts()
    assert vega_spec(_badly_sorted(_frame()))["encoding"]["x"]["sort"] == "upwards"
