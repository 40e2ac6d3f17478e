"""The demand backtest's scoring over whole panels, against the one-series measures."""

from collections import defaultdict

import numpy as np
import pandas as pd

from models import metrics
from models.backtest import _score_panel, backtest_demand
from models.demand import to_panel


def test_panel_scoring_matches_the_one_series_measures():
    rng = np.random.default_rng(2)
    history = rng.poisson(3.0, (5, 30)).astype(float)
    history[1, :10] = np.nan  # a product that started late
    history[4] = 2.0  # never changed: no scale, skipped by the scaled measures
    actual = rng.poisson(3.0, (5, 6)).astype(float)
    fcs = {"mean": rng.uniform(1, 5, (5, 6)), "p90": rng.uniform(3, 8, (5, 6))}
    scaled, totals = defaultdict(list), np.zeros(5)
    rows = np.ones(5, dtype=bool)
    _score_panel(scaled, totals, actual, history, fcs, rows, (0.9,), ["p90"])
    for i in range(4):
        h = history[i][~np.isnan(history[i])]
        assert scaled["mase"][i] == np.float64(metrics.mase(actual[i], fcs["mean"][i], h))
        np.testing.assert_allclose(scaled["rmsse"][i], metrics.rmsse(actual[i], fcs["mean"][i], h))
        np.testing.assert_allclose(
            scaled["pinball_p90"][i],
            metrics.scaled_pinball_loss(actual[i], fcs["p90"][i], 0.9, h),
        )
        assert scaled["coverage_p90"][i] == metrics.coverage(actual[i], fcs["p90"][i])
    assert np.isnan(scaled["mase"][4]) and np.isnan(scaled["rmsse"][4])
    np.testing.assert_allclose(totals[3], np.sum((actual - fcs["mean"]) ** 2))


def test_backtest_reports_every_simple_method_with_rmse_and_coverage():
    rng = np.random.default_rng(9)
    n_items, n_weeks = 12, 90
    values = rng.poisson(rng.uniform(0.2, 6, n_items)[:, None], (n_items, n_weeks))
    periods = pd.period_range("2024-01-01", periods=n_weeks, freq="W-SUN").start_time
    frame = pd.DataFrame(
        {
            "item": np.repeat(np.arange(n_items), n_weeks),
            "date": np.tile(periods, n_items),
            "qty": values.ravel(),
        }
    )
    result = backtest_demand(to_panel(frame, "W"), 4, origins=2, model_params={"max_iter": 20})
    methods = result["methods"]
    expected = {"model", "global_model", "zero", "naive", "seasonal_naive", "ses", "tsb"}
    assert expected | {"moving_average_4", "croston", "croston_sba"} <= set(methods)
    assert all(methods[m]["rmse"] > 0 for m in methods)
    assert 0 < methods["model"]["coverage_p90"] <= 1
    # Flat Poisson demand: Larder's forecast is no worse than repeating last week.
    assert methods["model"]["rmsse"] < methods["naive"]["rmsse"]
    assert sum(result["chosen_methods"].values()) == n_items
