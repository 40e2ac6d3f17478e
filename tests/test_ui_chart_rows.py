"""Rows converted to Arrow once by a cached read, then sent as they are on every run: charts
(ui.theme.chart_rows, draw) and tables (ui.components.table_rows, paged_table)."""

from __future__ import annotations

import io
import json

import pandas as pd
import pyarrow as pa
from streamlit.testing.v1 import AppTest

from ui.components import shown_table, table_rows
from ui.theme import ROWS_NAME, chart_rows


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "category": ["Dairy", "Produce", "Bakery"],
            "line_rate": [0.125, 0.5, float("nan")],
            "lines": [8, 2, 0],
            "week": pd.to_datetime(["2026-11-02", "2026-11-09", "2026-11-16"]),
        }
    )


def _decoded(data: bytes) -> pd.DataFrame:
    return pa.ipc.open_stream(io.BytesIO(data)).read_all().to_pandas()


def test_the_arrow_bytes_hold_the_chosen_columns_and_the_frame_stays_whole():
    frame = _frame()
    rows = chart_rows(frame, ["category", "line_rate"])
    pd.testing.assert_frame_equal(_decoded(rows.arrow), frame[["category", "line_rate"]])
    pd.testing.assert_frame_equal(rows.frame, frame)
    assert not rows.empty and chart_rows(frame.iloc[0:0]).empty
    pd.testing.assert_frame_equal(_decoded(chart_rows(frame).arrow), frame)


def _draws_a_chart():
    import pandas as pd
    import streamlit as st

    from ui.theme import chart_rows, draw

    frame = pd.DataFrame({"category": ["Dairy", "Produce"], "line_rate": [0.25, 0.5]})
    spec = {"mark": "bar", "encoding": {"y": {"field": "category", "type": "nominal"}}}
    draw(spec, chart_rows(frame), key="rates", width="stretch")
    st.session_state["spec_after"] = spec


def test_a_drawn_chart_sends_the_kept_bytes_as_its_named_data():
    at = AppTest.from_function(_draws_a_chart, default_timeout=30).run()
    assert not at.exception, [e.value for e in at.exception]
    (chart,) = at.get("vega_lite_chart")
    spec = json.loads(chart.proto.spec)
    assert spec["data"] == {"name": ROWS_NAME}
    assert spec["encoding"]["y"]["field"] == "category"
    assert [d.name for d in chart.proto.datasets] == [ROWS_NAME]
    expected = pd.DataFrame({"category": ["Dairy", "Produce"], "line_rate": [0.25, 0.5]})
    pd.testing.assert_frame_equal(_decoded(chart.proto.datasets[0].data.data), expected)
    assert not chart.proto.data.data  # no second copy of the rows
    # The spec the page keeps (chart_spec's) is not changed by drawing it.
    assert "data" not in at.session_state["spec_after"]


def test_table_rows_are_the_frame_as_arrow_in_the_order_asked():
    frame = _frame()
    table = table_rows(frame, ["lines", "category"])
    assert table.column_names == ["lines", "category"]
    pd.testing.assert_frame_equal(table.to_pandas(), frame[["lines", "category"]])


def _pages_a_table():
    import pandas as pd
    import streamlit as st

    from ui.components import paged_table, table_rows

    frame = pd.DataFrame({"order_number": ["SO-2", "SO-1"], "qty_short": [3, 5]})
    rows = table_rows(frame) if st.session_state.get("as_arrow") else frame
    if st.session_state.get("empty"):
        rows = rows[0:0] if isinstance(rows, pd.DataFrame) else rows.slice(0, 0)
    paged_table(rows, "lines", total=2, offset=0, export=lambda: frame, empty_message="None.")


def test_a_paged_table_shows_arrow_rows_as_it_shows_the_frame():
    shown = {}
    for as_arrow in (False, True):
        at = AppTest.from_function(_pages_a_table, default_timeout=30)
        at.session_state["as_arrow"] = as_arrow
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        (table,) = at.dataframe
        shown[as_arrow] = table.value.reset_index(drop=True)
        assert "Rows 1–2 of 2" in [c.value for c in at.caption]
    pd.testing.assert_frame_equal(shown[True], shown[False])
    assert list(shown[True]["order_number"]) == ["SO-2", "SO-1"]


def test_an_empty_arrow_page_says_so():
    at = AppTest.from_function(_pages_a_table, default_timeout=30)
    at.session_state["as_arrow"] = True
    at.session_state["empty"] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.dataframe
    assert any("None." in i.value for i in at.info), [i.value for i in at.info]


def test_a_shown_table_keeps_the_chosen_columns_as_frame_and_arrow():
    frame = _frame()
    shown = shown_table(frame, ["lines", "category"])
    pd.testing.assert_frame_equal(shown.frame, frame[["lines", "category"]])
    pd.testing.assert_frame_equal(shown.arrow.to_pandas(), frame[["lines", "category"]])
    assert len(shown) == 3 and not shown.empty
    assert shown_table(frame.iloc[0:0]).empty


def _shows_a_standard_table():
    import pandas as pd
    import streamlit as st

    from ui.components import shown_table, standard_table

    frame = pd.DataFrame({"order_number": ["SO-2", "SO-1", "SO-3"], "qty_short": [3, 5, 1]})
    if st.session_state.get("empty"):
        frame = frame.iloc[0:0]
    rows = shown_table(frame) if st.session_state.get("kept") else frame
    st.session_state["picked"] = standard_table(
        rows, "lines", select_row=True, empty_message="Nothing short."
    )


def test_a_standard_table_shows_a_shown_table_as_it_shows_the_frame():
    shown = {}
    for kept in (False, True):
        at = AppTest.from_function(_shows_a_standard_table, default_timeout=30)
        at.session_state["kept"] = kept
        at.session_state["lines"] = {"selection": {"rows": [1], "columns": []}}
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        (table,) = at.dataframe
        shown[kept] = table.value.reset_index(drop=True)
        assert "3 rows" in [c.value for c in at.caption]
        assert at.session_state["picked"] == 1
    pd.testing.assert_frame_equal(shown[True], shown[False])
    assert list(shown[True]["order_number"]) == ["SO-2", "SO-1", "SO-3"]
    at = AppTest.from_function(_shows_a_standard_table, default_timeout=30)
    at.session_state["kept"] = True
    at.session_state["empty"] = True
    at.run()
    assert not at.dataframe
    assert any("Nothing short." in i.value for i in at.info), [i.value for i in at.info]
