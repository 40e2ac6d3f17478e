"""The Admin page's Jobs tab and the Models tab's methods, through AppTest."""

from __future__ import annotations

import pytest

from data.db import make_engine
from jobs.registry import JobContext
from jobs.runner import run_job
from tests import apptest_support
from tests.apptest_support import app_test

fresh_caches = apptest_support.fresh_caches
fresh_db_url = apptest_support.fresh_db_url


@pytest.fixture
def db(fresh_db_url):
    engine = make_engine(fresh_db_url)
    yield engine
    engine.dispose()


def admin_page(tab: str):
    """The Admin page with ``tab`` open (only the open tab is drawn)."""
    at = app_test("pages/admin.py", "admin")
    at.session_state["admin_tab"] = tab
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def table(at, column: str):
    """The first dataframe on the page that has ``column``."""
    return next(df.value for df in at.dataframe if column in df.value.columns)


def test_jobs_tab_shows_the_schedule_and_explains_no_runs_yet(db):
    at = admin_page("Jobs")
    assert "Jobs" in [tab.label for tab in at.tabs]
    schedule = table(at, "every_minutes").set_index("job")
    assert schedule.loc["reestimate-backorders", "every_minutes"] == 15
    assert schedule.loc["retrain-models", "last_outcome"] == "never run"
    assert any(info.value.startswith("No job has run on this database yet.") for info in at.info)


def test_jobs_tab_lists_a_run_with_what_it_changed(db):
    result = run_job(db, "reestimate-backorders", JobContext(log=lambda _: None))
    assert result.outcome == "ok"
    at = admin_page("Jobs")
    runs = table(at, "counts")
    row = runs.loc[runs["job"] == "reestimate-backorders"].iloc[0]
    assert row["outcome"] == "ok"
    assert f"open backorders {result.counts['open_backorders']}" in row["counts"]
    schedule = table(at, "every_minutes").set_index("job")
    assert schedule.loc["reestimate-backorders", "last_outcome"] == "ok"


def test_models_tab_says_which_simple_method_is_in_use_before_training(db):
    at = admin_page("Models")
    overview = table(at, "result").set_index("model")
    assert (
        overview.loc["Supplier lead time", "method"] == "simple: each supplier's quoted lead time"
    )
    assert overview.loc["Carrier transit time", "method"].startswith("simple: ")
