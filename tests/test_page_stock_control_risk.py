"""AppTest of the backorder-risk list on Stock control, before and after the model is trained."""

from __future__ import annotations

import pytest

from data.db import make_engine
from models.train import train_all
from tests import apptest_support
from tests.apptest_support import app_test
from tests.read_tracking import StatementLog
from ui.risk_list import SECTION_KEY

fresh_caches = apptest_support.fresh_caches
fresh_db_url = apptest_support.fresh_db_url
seeded_template = apptest_support.seeded_template

PAGE = "pages/stock_control.py"


def _run(username: str, *, opened: bool = True):
    at = app_test(PAGE, username)
    if opened:
        at.session_state[SECTION_KEY] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _risk_expander(at):
    (found,) = [e for e in at.expander if e.label.startswith("Backorder risk")]
    return found


def _risk_table(at):
    (found,) = [d.value for d in at.dataframe if "drivers" in d.value.columns]
    return found


@pytest.fixture
def trained(fresh_db_url):
    engine = make_engine(fresh_db_url)
    runs = train_all(
        engine, kinds=("backorder_risk",), log=lambda _line: None, model_params={"max_iter": 30}
    )
    assert runs["backorder_risk"].status == "ok", runs["backorder_risk"].metrics
    engine.dispose()
    return runs["backorder_risk"]


@pytest.mark.parametrize("username", ["manager", "owner"])
def test_the_risk_list_shows_products_by_risk_with_drivers_and_the_rule(trained, username):
    at = _run(username)
    assert _risk_expander(at).label == "Backorder risk, next 4 weeks"
    assert not at.error  # nobody allowed on the page is refused
    table = _risk_table(at)
    assert 0 < len(table) <= 15
    assert list(table["risk"]) == sorted(table["risk"], reverse=True)
    assert table["risk"].between(0, 1).all()
    assert set(table["rule"]) <= {"Below reorder point", "Not triggered"}
    assert table["drivers"].str.len().gt(0).all()
    caption = " ".join(c.value for c in at.caption)
    assert f"model run {trained.id}" in caption
    # The rest of the page is still there.
    assert [t.label for t in at.tabs][:4] == ["Stock", "Thresholds", "Backorder report", "Trends"]


def test_before_any_training_the_rule_alone_is_listed(fresh_db_url):
    at = _run("manager")
    assert _risk_expander(at).label == "Backorder risk: no risk model yet"
    assert any("No risk model is trained yet" in c.value for c in at.caption)
    table = _risk_table(at)
    assert table["risk"].isna().all()
    # Products the rule flags come first.
    flagged = list(table["rule"] == "Below reorder point")
    assert flagged == sorted(flagged, reverse=True)


def test_closed_the_section_scores_nothing_and_opened_it_lists_the_products(trained):
    at = _run("manager", opened=False)
    assert _risk_expander(at).label == "Backorder risk, next 4 weeks"
    assert not [d for d in at.dataframe if "drivers" in d.value.columns]
    with StatementLog() as log:
        at.run()
    assert "risk_list._risk_list" not in log.reads_run()
    at.session_state[SECTION_KEY] = True
    with StatementLog() as log:
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "risk_list._risk_list" in log.reads_run()
    assert 0 < len(_risk_table(at)) <= 15


def test_a_role_without_the_page_sees_no_risk_list(fresh_db_url):
    at = app_test(PAGE, "buyer")
    at.run()
    assert not [e for e in at.expander if e.label.startswith("Backorder risk")]
    assert not [d for d in at.dataframe if "drivers" in d.value.columns]
