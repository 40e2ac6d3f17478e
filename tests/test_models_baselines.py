"""Baseline forecasters: known answers on tiny series, and the scikit-learn contract."""

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from models.baselines import (
    TSB,
    CrostonSBA,
    MovingAverage,
    SeasonalNaive,
    fallback_for,
    forecast_history,
    is_intermittent,
)
from models.leadtime import DurationDistribution


def _fit(estimator, history):
    y = np.asarray(history, dtype=float)
    return estimator.fit(np.zeros((y.size, 1)), y)


def _ahead(steps):
    return np.zeros((steps, 1))


def test_seasonal_naive_repeats_the_last_season_exactly():
    model = _fit(SeasonalNaive(season_length=3), [9, 9, 9, 1, 2, 3])
    np.testing.assert_array_equal(model.predict(_ahead(7)), [1, 2, 3, 1, 2, 3, 1])


def test_seasonal_naive_with_less_than_a_season_repeats_the_last_value():
    model = _fit(SeasonalNaive(season_length=7), [4, 5])
    np.testing.assert_array_equal(model.predict(_ahead(3)), [5, 5, 5])


def test_moving_average_is_the_mean_of_the_window():
    model = _fit(MovingAverage(window=3), [100, 1, 2, 6])
    np.testing.assert_allclose(model.predict(_ahead(2)), [3.0, 3.0])


def test_croston_sba_on_a_known_intermittent_series():
    # First demand (3) after 3 periods seeds size 3, interval 3; the next (6) comes 4 later:
    # size 3 + 0.5 * 3 = 4.5, interval 3 + 0.5 * 1 = 3.5; SBA = (1 - 0.25) * 4.5 / 3.5.
    model = _fit(CrostonSBA(alpha=0.5), [0, 0, 3, 0, 0, 0, 6])
    assert model.size_ == pytest.approx(4.5)
    assert model.interval_ == pytest.approx(3.5)
    np.testing.assert_allclose(model.predict(_ahead(2)), [0.75 * 4.5 / 3.5] * 2)


def test_croston_without_any_demand_forecasts_zero():
    model = _fit(CrostonSBA(), [0, 0, 0])
    np.testing.assert_array_equal(model.predict(_ahead(2)), [0, 0])


def test_tsb_probability_decays_while_no_demand_comes():
    # Starts at p = 1/3 (one demand in three periods), size 4; the demand lifts p to 2/3,
    # each quiet period halves it: 1/3, then 1/6.
    model = _fit(TSB(alpha=0.5, beta=0.5), [4, 0, 0])
    assert model.probability_ == pytest.approx(1 / 6)
    assert model.size_ == pytest.approx(4.0)
    np.testing.assert_allclose(model.predict(_ahead(1)), [4.0 / 6])


def test_quantile_forecast_adds_the_residual_quantile_and_stays_non_negative():
    model = _fit(MovingAverage(window=1), [0, 0, 0, 10, 0, 0, 0, 0])
    assert model.predict_quantile(_ahead(1), 0.5)[0] == 0.0
    assert model.predict_quantile(_ahead(1), 0.99)[0] > 5.0


@pytest.mark.parametrize(
    ("history", "expected"),
    [([0, 0, 5, 0, 0, 0, 2, 0], TSB), ([5, 6, 4, 7, 5, 6], MovingAverage)],
)
def test_fallback_picks_tsb_for_intermittent_items(history, expected):
    assert isinstance(fallback_for(np.array(history, dtype=float), 52), expected)


def test_is_intermittent_ignores_unknown_periods():
    assert not is_intermittent(np.array([np.nan, np.nan, 3, 4, 0, 5]))


def test_forecast_history_of_an_empty_history_is_zero():
    out = forecast_history(MovingAverage(), np.array([np.nan, np.nan]), 3, (0.9,))
    np.testing.assert_array_equal(out[0.9], [0, 0, 0])


# Row i of X is the forecast i + 1 periods ahead, so for a method whose forecast changes with
# the step, predicting a subset or a shuffle of rows is, by design, forecasting other steps.
_STEP_DEPENDENT = {
    "check_methods_subset_invariance": "row i is the forecast i+1 periods ahead; a subset "
    "of rows asks for other horizons",
    "check_methods_sample_order_invariance": "row order is the forecast horizon",
}


def _expected_failures(estimator):
    return _STEP_DEPENDENT if isinstance(estimator, SeasonalNaive) else {}


@parametrize_with_checks(
    [SeasonalNaive(), MovingAverage(), CrostonSBA(), TSB(), DurationDistribution()],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_contract(estimator, check):
    check(estimator)
