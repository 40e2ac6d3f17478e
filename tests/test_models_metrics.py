"""Forecast accuracy measures on hand-computed values."""

import math

import pytest

from models import metrics

ACTUAL = [2.0, 0.0, 4.0, 2.0]
FORECAST = [1.0, 1.0, 2.0, 2.0]
HISTORY = [1.0, 3.0, 2.0, 4.0]  # naive diffs 2, 1, 2: MAE 5/3, MSE 3


def test_mae():
    assert metrics.mae(ACTUAL, FORECAST) == pytest.approx(1.0)


def test_mase_divides_by_in_sample_naive_mae():
    assert metrics.mase(ACTUAL, FORECAST, HISTORY) == pytest.approx(1.0 / (5 / 3))


def test_mase_with_season_uses_seasonal_differences():
    # diffs at lag 2: |2-1|, |4-3| = 1, 1
    assert metrics.mase(ACTUAL, FORECAST, HISTORY, season=2) == pytest.approx(1.0)


def test_rmsse():
    # errors 1, -1, 2, 0: MSE 1.5; naive MSE (4 + 1 + 4) / 3 = 3
    assert metrics.rmsse(ACTUAL, FORECAST, HISTORY) == pytest.approx(math.sqrt(0.5))


def test_scaled_measures_are_nan_for_a_constant_history():
    assert math.isnan(metrics.mase(ACTUAL, FORECAST, [5, 5, 5]))


def test_wape():
    assert metrics.wape(ACTUAL, FORECAST) == pytest.approx(4 / 8)


def test_bias_is_positive_when_over_forecasting():
    assert metrics.bias([1, 1], [2, 3]) == pytest.approx(1.5)
    assert metrics.bias(ACTUAL, FORECAST) == pytest.approx(-2 / 8)


@pytest.mark.parametrize(
    ("quantile", "expected"),
    [
        # errors y - f: 1, -1, 2, 0
        (0.5, (0.5 + 0.5 + 1.0 + 0) / 4),
        (0.9, (0.9 + 0.1 + 1.8 + 0) / 4),
        (0.1, (0.1 + 0.9 + 0.2 + 0) / 4),
    ],
)
def test_pinball_loss(quantile, expected):
    assert metrics.pinball_loss(ACTUAL, FORECAST, quantile) == pytest.approx(expected)


def test_pinball_loss_rejects_a_quantile_outside_zero_one():
    with pytest.raises(ValueError, match="quantile"):
        metrics.pinball_loss(ACTUAL, FORECAST, 1.5)


def test_scaled_pinball_loss():
    assert metrics.scaled_pinball_loss(ACTUAL, FORECAST, 0.5, HISTORY) == pytest.approx(
        0.5 / (5 / 3)
    )


def test_coverage_counts_actuals_at_or_below_the_bound():
    assert metrics.coverage([1, 2, 3, 4], [1, 1, 5, 5]) == pytest.approx(0.75)


def test_mismatched_lengths_are_an_error():
    with pytest.raises(ValueError, match="3 values"):
        metrics.mae([1, 2, 3], [1, 2])
