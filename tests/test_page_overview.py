"""AppTest of the Overview page on the tiny seeded database."""

from __future__ import annotations

import datetime as dt
import io
import json

import pandas as pd
import pyarrow as pa
import pytest

from data.db import make_engine
from data.schema import utcnow
from queries import overview as ov
from tests import apptest_support
from tests.apptest_support import app_test
from ui.components import money, pct, qty
from ui.format import points

fresh_caches = apptest_support.fresh_caches
seeded_db_url = apptest_support.seeded_db_url
seeded_template = apptest_support.seeded_template

PAGE = "pages/overview.py"


@pytest.fixture
def db(seeded_db_url):
    engine = make_engine(seeded_db_url)
    yield engine
    engine.dispose()


def _filters() -> ov.Filters:
    today = utcnow().date()
    return ov.Filters(today - dt.timedelta(weeks=52), today)


def _run(at=None):
    at = at or app_test(PAGE, "owner")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _metric(at, label: str):
    (found,) = [m for m in at.metric if m.label == label]
    return found


def _lines_table(at):
    (found,) = [d.value for d in at.dataframe if "cause" in d.value.columns]
    return found


def _shows_first_page_of(at, expected):
    """The table holds the newest lines of ``expected`` and says how many there are in all."""
    lines = _lines_table(at)
    shown = min(len(expected), ov.DRILL_ROWS)
    assert len(lines) == shown
    columns = ["order_number", "sku", "qty_short"]
    assert lines[columns].reset_index(drop=True).equals(expected[columns].head(shown))
    captions = [c.value for c in at.caption]
    assert f"Rows 1–{shown} of {qty(len(expected))}" in captions, captions
    return lines


def test_the_owner_sees_the_kpis_of_the_rollup(db):
    at = _run()
    kpis = ov.rate_kpis(db, _filters())
    assert _metric(at, "Backorder rate").value == pct(kpis.line_rate)
    assert _metric(at, "Fill rate").value == pct(kpis.fill_rate)
    on_time, _ = ov.on_time_delivery(db, _filters())
    assert _metric(at, "On-time delivery").value == pct(on_time)
    risk = ov.open_backorders_at_risk(db)
    assert _metric(at, "Revenue at risk").value == money(risk["at_risk"].sum())


def test_the_change_of_the_backorder_rate_is_shown_in_points(db):
    today = utcnow().date()
    window = ov.Filters(today - dt.timedelta(weeks=8), today)
    kpis = ov.rate_kpis(db, window)
    assert kpis.rate_change is not None
    at = app_test(PAGE, "owner")
    at.run()
    at.date_input(key="overview_range").set_value((window.start, window.end))
    at = _run(at)
    shown = _metric(at, "Backorder rate").delta
    assert shown == points(kpis.rate_change)
    assert shown.endswith(" pts") and shown[0] in "+-"


def test_the_table_lists_every_backordered_line_of_the_weeks(db):
    at = _run()
    expected = ov.backorder_lines(db, _filters())
    assert len(expected) > ov.DRILL_ROWS
    lines = _shows_first_page_of(at, expected)
    assert lines["category"].nunique() > 1
    # The second page holds the next lines.
    at.number_input(key="overview_lines_page").set_value(2)
    at = _run(at)
    second = _lines_table(at)
    rows = expected.iloc[ov.DRILL_ROWS : 2 * ov.DRILL_ROWS]
    assert list(second["order_number"]) == list(rows["order_number"])


def test_a_selected_category_filters_the_segment_chart_and_the_table(db):
    category = ov.rates_by(db, "category", _filters()).sort_values("bo_lines").iloc[-1]["category"]
    at = _run()  # the chart exists; then the owner clicks a bar
    at.session_state["overview_category_chart"] = {
        "selection": {"category_pick": [{"category": category}]}
    }
    at = _run(at)
    headings = [m.value for m in at.markdown]
    assert f"**By customer segment** — category {category}" in headings
    expected = ov.backorder_lines(db, ov.Filters(_filters().start, _filters().end, (category,)))
    lines = _shows_first_page_of(at, expected)
    assert set(lines["category"]) == {category}


def _chart_rows(at, field: str) -> pd.DataFrame:
    """The rows the bar chart of ``field`` (its y axis) sends to the browser."""
    charts = [c.proto for c in at.get("vega_lite_chart")]
    (chart,) = [c for c in charts if json.loads(c.spec)["encoding"]["y"].get("field") == field]
    (dataset,) = chart.datasets
    return pa.ipc.open_stream(io.BytesIO(dataset.data.data)).read_all().to_pandas()


def test_the_bar_charts_send_the_rates_and_a_picked_category_narrows_the_segments(db):
    at = _run()
    columns = ["lines", "bo_lines", "line_rate", "unit_rate"]
    for field in ("category", "segment"):
        sent = _chart_rows(at, field).set_index(field)[columns].sort_index()
        direct = ov.rates_by(db, field, _filters()).set_index(field)[columns].sort_index()
        pd.testing.assert_frame_equal(sent, direct, check_names=False)
    category = ov.rates_by(db, "category", _filters()).sort_values("lines").iloc[-1]["category"]
    at.session_state["overview_category_chart"] = {
        "selection": {"category_pick": [{"category": category}]}
    }
    at = _run(at)
    narrowed = ov.Filters(_filters().start, _filters().end, (category,))
    sent = _chart_rows(at, "segment").set_index("segment")[columns].sort_index()
    direct = ov.rates_by(db, "segment", narrowed).set_index("segment")[columns].sort_index()
    pd.testing.assert_frame_equal(sent, direct, check_names=False)
    assert sent["lines"].sum() < _chart_rows(at, "category")["lines"].sum()


def test_a_selected_cause_lists_only_its_lines(db):
    at = _run()
    at.session_state["overview_cause_chart"] = {
        "selection": {"cause_pick": [{"group": "Produce", "root_cause": "late_supplier"}]}
    }
    at = _run(at)
    expected = ov.backorder_lines(
        db, ov.Filters(_filters().start, _filters().end, ("Produce",)), causes=("late_supplier",)
    )
    lines = _shows_first_page_of(at, expected)
    assert set(lines["cause"]) <= {"Late supplier"}


def test_a_date_range_with_no_orders_explains_itself():
    at = _run()
    long_ago = utcnow().date() - dt.timedelta(days=4 * 365)
    at.date_input(key="overview_range").set_value((long_ago, long_ago + dt.timedelta(days=30)))
    at = _run(at)
    infos = [i.value for i in at.info]
    assert any("No orders in these weeks" in text for text in infos), infos
    assert _metric(at, "Backorder rate").value == "—"


@pytest.mark.parametrize("username", ["finance", "marketing", "manager"])
def test_other_roles_are_refused(username):
    at = app_test(PAGE, username)
    at.run()
    assert [e.value for e in at.error if e.value.startswith("This page is for")]
    assert not at.metric


def test_each_cause_has_its_own_colour_and_unknown_is_grey():
    at = _run()
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    scales = [s["encoding"]["color"]["scale"] for s in specs if "cause" in json.dumps(s)]
    assert len(scales) == 2  # share by category and by period
    for scale in scales:
        assert scale["domain"] == list(ov.CAUSE_LABELS.values())
        assert len(set(scale["range"])) == len(scale["range"]) == len(ov.CAUSE_LABELS)
        assert scale["range"][scale["domain"].index("Unknown")] == "#9ca3af"
