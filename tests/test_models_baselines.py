"""Baseline forecasters: known answers on tiny series, and the scikit-learn contract."""

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from models.baselines import (
    TSB,
    Croston,
    CrostonSBA,
    MovingAverage,
    Naive,
    SeasonalNaive,
    SimpleExponentialSmoothing,
    fallback_for,
    forecast_history,
    is_intermittent,
    panel_croston,
    panel_moving_average,
    panel_naive,
    panel_seasonal_mean,
    panel_seasonal_naive,
    panel_ses,
    panel_tsb,
    panel_zero,
    simple_methods,
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


def test_croston_classic_on_a_known_intermittent_series():
    # The same sizes and intervals as SBA above, without the (1 - alpha / 2) correction.
    model = _fit(Croston(alpha=0.5), [0, 0, 3, 0, 0, 0, 6])
    np.testing.assert_allclose(model.predict(_ahead(3)), [4.5 / 3.5] * 3)


def test_croston_fitted_values_change_only_after_a_demand():
    # alpha 0.5: nothing known before the first demand (0), then 3 / 3 = 1 until the next
    # demand, which moves it to 4.5 / 3.5.
    _, fitted = panel_croston(np.array([[0, 0, 3, 0, 0, 0, 6, 0.0]]), 1, 0.5, "classic")
    np.testing.assert_allclose(fitted[0], [0, 0, 0, 1, 1, 1, 1, 4.5 / 3.5])


def test_ses_with_a_fixed_alpha_matches_the_hand_computed_level():
    # Level 2, then 2 + 0.5 * (4 - 2) = 3, 3 + 0.5 * 3 = 4.5, 4.5 + 0.5 * 3.5 = 6.25.
    model = _fit(SimpleExponentialSmoothing(alpha=0.5), [2, 4, 6, 8])
    np.testing.assert_allclose(model.predict(_ahead(2)), [6.25, 6.25])
    np.testing.assert_allclose(model.residuals_, [2, 3, 3.5])


def test_ses_picks_a_high_alpha_for_a_wandering_series_and_a_low_one_for_noise():
    rng = np.random.default_rng(3)
    wander = np.cumsum(rng.normal(0, 5, 200)) + 500
    noise = 50 + rng.normal(0, 5, 200)
    assert _fit(SimpleExponentialSmoothing(), wander).alpha_ >= 0.5
    assert _fit(SimpleExponentialSmoothing(), noise).alpha_ <= 0.1


def test_naive_repeats_the_last_value():
    np.testing.assert_array_equal(_fit(Naive(), [3, 9, 4]).predict(_ahead(2)), [4, 4])


def test_panel_methods_on_rows_that_start_late():
    values = np.array([[np.nan, np.nan, 1, 2, 3, 4, 5, 6, 7.0], [2, 0, 0, 4, 0, 0, 0, 0, 0.0]])
    np.testing.assert_array_equal(panel_zero(values, 2)[0], np.zeros((2, 2)))
    np.testing.assert_array_equal(panel_naive(values, 2)[0], [[7, 7], [0, 0]])
    np.testing.assert_array_equal(
        panel_seasonal_naive(values, 4, 3)[0], [[5, 6, 7, 5], [0, 0, 0, 0]]
    )
    np.testing.assert_array_equal(panel_moving_average(values, 1, 4)[0], [[5.5], [0]])
    # Same phase of the last two seasons of three: period 9 averages periods 6 and 3.
    np.testing.assert_array_equal(
        panel_seasonal_mean(values, 4, 3, 2)[0], [[3.5, 4.5, 5.5, 3.5], [2, 0, 0, 2]]
    )
    forecast, fitted = panel_ses(values, 1, (1.0,))  # alpha 1 is the naive method
    np.testing.assert_array_equal(forecast[:, 0], [7, 0])
    assert np.isnan(fitted[0, :3]).all() and fitted[0, 3] == 1


@pytest.mark.parametrize(
    ("estimator", "kernel"),
    [
        (CrostonSBA(alpha=0.2), lambda v, h: panel_croston(v, h, 0.2, "sba")),
        (TSB(alpha=0.2, beta=0.3), lambda v, h: panel_tsb(v, h, 0.2, 0.3)),
        (MovingAverage(window=5), lambda v, h: panel_moving_average(v, h, 5)),
        (SeasonalNaive(season_length=7), lambda v, h: panel_seasonal_naive(v, h, 7)),
    ],
)
def test_panel_methods_agree_with_the_one_series_estimators(estimator, kernel):
    rng = np.random.default_rng(8)
    values = rng.poisson(0.6, (6, 40)).astype(float)
    values[:, :3] = np.nan  # every row starts late, as new products do
    values[2, :20] = np.nan
    forecast, _ = kernel(values, 5)
    for i, row in enumerate(values):
        expected = forecast_history(estimator, row, 5)["mean"]
        np.testing.assert_allclose(forecast[i], expected, err_msg=f"row {i}")


def test_daily_methods_include_a_day_of_week_mean():
    assert "weekday_mean_4" in simple_methods(7, "D")
    assert "weekday_mean_4" not in simple_methods(52, "W")
    assert {"zero", "naive", "ses", "croston", "croston_sba", "tsb"} <= set(simple_methods(12, "M"))


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
    [
        SeasonalNaive(),
        MovingAverage(),
        CrostonSBA(),
        TSB(),
        Naive(),
        SimpleExponentialSmoothing(),
        Croston(),
        DurationDistribution(),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_contract(estimator, check):
    check(estimator)
