"""Delivery promises replayed over the tiny demo wholesaler's history."""

import datetime as dt

import pytest

from data.demo import generate
from models.promise_backtest import delivery_backtest, fit_promise_models

TODAY = dt.date(2026, 11, 24)


@pytest.fixture
def demo(sqlite_engine):
    generate(sqlite_engine, scale="tiny", seed=7, today=TODAY)
    return sqlite_engine


def test_replayed_promises_are_scored_with_a_late_case_that_covers_more(demo):
    result = delivery_backtest(demo, test_days=60)
    assert result["tested"] > 50
    assert result["window_end"] <= TODAY.isoformat()
    # The late case is the point of a late case: more deliveries arrive by it than by the likely.
    assert result["delivery_late_coverage"] > result["delivery_likely_coverage"]
    assert 0 < result["delivery_likely_mae_days"] < 10


def test_models_learn_only_from_history_before_the_window(demo):
    early = fit_promise_models(demo, before=dt.datetime(2026, 9, 1))
    full = fit_promise_models(demo)
    assert early.lead.n_ < full.lead.n_
    assert early.transit.n_ < full.transit.n_
