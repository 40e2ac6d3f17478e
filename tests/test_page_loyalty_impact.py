"""AppTest of the Loyalty impact page on the tiny seeded database."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from data.db import make_engine
from data.schema import utcnow
from queries import loyalty as lo
from tests import apptest_support
from tests.apptest_support import app_test
from ui.components import pct, qty

fresh_caches = apptest_support.fresh_caches
fresh_db_url = apptest_support.fresh_db_url
seeded_db_url = apptest_support.seeded_db_url
seeded_template = apptest_support.seeded_template

PAGE = "pages/loyalty_impact.py"


@pytest.fixture
def db(seeded_db_url):
    engine = make_engine(seeded_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def scored_db(fresh_db_url, monkeypatch):
    """A database whose feedback comments the sentiment model has scored (VADER, no reviews)."""
    from models.train import SENTIMENT_REVIEWS_ENV, train_sentiment

    monkeypatch.delenv(SENTIMENT_REVIEWS_ENV, raising=False)
    engine = make_engine(fresh_db_url)
    train_sentiment(engine)
    yield engine
    engine.dispose()


def _run(at=None):
    at = at or app_test(PAGE, "marketing")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _metric(at, label: str) -> str:
    (found,) = [m for m in at.metric if m.label == label]
    return found.value


def _customers(db):
    today = utcnow().date()
    return lo.customer_exposure(
        db, today - dt.timedelta(days=365), today, retention_days=lo.retention_days(db)
    )


def test_groups_are_compared_with_their_sizes_and_the_caveat(db):
    at = _run()
    groups = lo.compare_groups(_customers(db)).set_index("group")
    assert _metric(at, "Met backorders") == qty(groups.loc["Met backorders", "customers"])
    assert _metric(at, "Retention, met backorders") == pct(
        groups.loc["Met backorders", "retention"]
    )
    assert any("not proof of cause" in w.value for w in at.warning)
    (table,) = [d.value for d in at.dataframe if "judged" in d.value.columns]
    assert set(table["group"]) == {"Met backorders", "No backorders"}
    assert table["customers"].sum() == len(_customers(db))


def _sentiment_notes(at) -> list[str]:
    return [c.value for c in at.caption if c.value.startswith("Sentiment shows")]


def test_blank_sentiment_says_which_model_scores_it_and_what_runs_it(db):
    waiting = lo.unscored_comments(db)
    assert waiting > 0  # the seeded feedback has comments, none scored yet
    at = _run()
    (table,) = [d.value for d in at.dataframe if "judged" in d.value.columns]
    assert table["sentiment"].isna().all()
    note = lo.SENTIMENT_UNSCORED.format(comments=qty(waiting))
    assert _sentiment_notes(at) == [note]
    assert "sentiment model" in note and "retrain-models" in note
    assert "python -m models.train --only sentiment" in note
    at = _open(at, "Over time")
    assert _sentiment_notes(at) == [note]


def test_no_sentiment_note_once_the_comments_are_scored(scored_db):
    assert lo.unscored_comments(scored_db) == 0
    at = _run()
    (table,) = [d.value for d in at.dataframe if "judged" in d.value.columns]
    # Each group shows the mean of its scored comments (blank only for a group that wrote none
    # in the window, which some days' demo has).
    shown = table.set_index("group")["sentiment"].sort_index()
    expected = lo.compare_groups(_customers(scored_db)).set_index("group")["sentiment"]
    pd.testing.assert_series_equal(
        shown, expected.sort_index(), check_names=False, check_dtype=False
    )
    assert shown.notna().any()
    assert _sentiment_notes(at) == []
    at = _open(at, "Over time")
    assert _sentiment_notes(at) == []


def _charts(at):
    def walk(node):
        for child in getattr(node, "children", {}).values():
            yield child
            yield from walk(child)

    return [c for c in walk(at.main) if c.type == "vega_lite_chart"]


def _open(at, section: str):
    at.session_state["loyalty_section"] = section
    return _run(at)


def test_the_first_screen_draws_only_the_comparison_and_a_tab_draws_its_section(db):
    at = _run()
    assert [t.label for t in at.tabs] == ["Comparison", "Over time", "Win-back list"]
    assert [d for d in at.dataframe if "judged" in d.value.columns]
    assert not [d for d in at.dataframe if "sales_rep" in d.value.columns]
    assert not _charts(at)
    assert not [m for m in at.metric if m.label.startswith("Reputation index")]

    at = _open(at, "Over time")
    today = utcnow().date()
    monthly = lo.feedback_by_month(db, today - dt.timedelta(days=365), today)
    assert not monthly.empty
    latest = monthly.iloc[-1]
    assert (
        _metric(at, f"Reputation index, {latest['month']}") == f"{latest['reputation']:.0f} / 100"
    )
    assert len(_charts(at)) == 1
    assert not [d for d in at.dataframe if "judged" in d.value.columns]
    # The tiles above the tabs stay on every tab.
    groups = lo.compare_groups(_customers(db)).set_index("group")
    assert _metric(at, "Met backorders") == qty(groups.loc["Met backorders", "customers"])


def test_the_win_back_list_is_exportable(db):
    at = _open(_run(), "Win-back list")
    customers = _customers(db)
    expected = lo.win_back_list(db, customers, retention_days=lo.retention_days(db))
    tables = [d.value for d in at.dataframe if "sales_rep" in d.value.columns]
    if expected.empty:
        assert not tables
    else:
        (win_back,) = tables
        assert list(win_back["customer"]) == list(expected["customer"])


def test_comparing_by_segment_gives_a_row_per_segment_and_group(db):
    at = _run()
    at.radio(key="loyalty_compare_by").set_value("Segment")
    at = _run(at)
    (table,) = [d.value for d in at.dataframe if "judged" in d.value.columns]
    expected = lo.compare_groups(_customers(db), by="segment")
    assert len(table) == len(expected)
    assert set(table["segment"]) == set(expected["segment"])


def test_a_chosen_segment_narrows_the_comparison_and_the_win_back_list(db):
    at = _run()
    customers = _customers(db)
    segment = customers["segment"].value_counts().index[0]
    at.multiselect(key="loyalty_segments").set_value([segment])
    at = _run(at)
    mine = customers[customers["segment"] == segment]
    (table,) = [d.value for d in at.dataframe if "judged" in d.value.columns]
    assert table["customers"].sum() == len(mine) < len(customers)
    at = _open(at, "Win-back list")
    expected = lo.win_back_list(db, mine, retention_days=lo.retention_days(db))
    tables = [d.value for d in at.dataframe if "sales_rep" in d.value.columns]
    if expected.empty:
        assert not tables
    else:
        (win_back,) = tables
        assert list(win_back["customer"]) == list(expected["customer"])
        assert set(win_back["segment"]) == {segment}


@pytest.mark.parametrize("username", ["finance", "manager", "customer1"])
def test_other_roles_are_refused(username):
    at = app_test(PAGE, username)
    at.run()
    assert [e.value for e in at.error if e.value.startswith("This page is for")]
    assert not at.metric
