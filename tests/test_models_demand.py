"""The global demand model: panel building, quantile order, and beating seasonal naive."""

import numpy as np
import pandas as pd
import pytest

from models import metrics
from models.baselines import SeasonalNaive, forecast_history
from models.demand import GlobalDemandModel, period_start, to_panel
from models.synthetic import seasonal_history

HORIZON = 8


@pytest.fixture(scope="module")
def weekly():
    history = seasonal_history(n_items=60, n_periods=160, freq="W", seed=3)
    categories = history.drop_duplicates("item").set_index("item")["category"]
    return to_panel(history, "W"), categories


@pytest.fixture(scope="module")
def fitted(weekly):
    panel, categories = weekly
    origin = panel.values.shape[1] - HORIZON
    model = GlobalDemandModel(max_iter=50).fit(panel.until(origin), categories)
    return model, model.forecast(HORIZON), panel, origin


def test_weeks_start_on_monday():
    starts = period_start(pd.to_datetime(["2024-06-05", "2024-06-09", "2024-06-10"]), "W")
    assert [d.date().isoformat() for d in starts] == ["2024-06-03", "2024-06-03", "2024-06-10"]


def test_panel_sums_per_period_and_marks_time_before_the_first_record_unknown():
    history = pd.DataFrame(
        {
            "item": ["a", "a", "a", "b"],
            "date": ["2024-01-01", "2024-01-02", "2024-01-10", "2024-01-15"],
            "qty": [1, 2, 5, 4],
        }
    )
    panel = to_panel(history, "W")
    assert list(panel.items) == ["a", "b"]
    np.testing.assert_array_equal(panel.values[0], [3, 5, 0])
    assert np.isnan(panel.values[1, :2]).all() and panel.values[1, 2] == 4


def test_forecast_has_one_row_per_item_and_step(fitted):
    model, forecast, panel, _ = fitted
    assert len(forecast) == len(panel.items) * HORIZON
    assert forecast.groupby("item")["step"].apply(list).iloc[0] == list(range(1, HORIZON + 1))


def test_p90_is_never_below_p50_and_forecasts_are_not_negative(fitted):
    _, forecast, _, _ = fitted
    assert (forecast["p90"] >= forecast["p50"]).all()
    assert (forecast[["mean", "p50", "p90"]] >= 0).all().all()


def test_predictions_stay_in_the_range_of_the_data(fitted):
    _, forecast, panel, _ = fitted
    assert forecast["p90"].max() < 5 * np.nanmax(panel.values)


def test_short_histories_fall_back_to_a_simple_method(fitted):
    model, forecast, _, _ = fitted
    short = ~model.uses_model_
    assert short.any()
    methods = forecast.drop_duplicates("item")["method"].to_numpy()
    assert set(methods[short]) <= {"TSB", "MovingAverage"}
    assert set(methods[~short]) == {"model"}


def test_model_beats_seasonal_naive_on_a_seasonal_series(fitted):
    model, forecast, panel, origin = fitted
    actual = panel.values[:, origin : origin + HORIZON]
    ours, naive_p50, naive_p90 = [], [], []
    for i in np.flatnonzero(model.uses_model_):
        history = panel.values[i, :origin]
        fc = forecast_history(SeasonalNaive(52), history, HORIZON, (0.5, 0.9))
        mine = forecast[forecast["item"] == panel.items[i]]
        ours.append(
            (
                metrics.rmsse(actual[i], mine["mean"], history),
                metrics.scaled_pinball_loss(actual[i], mine["p90"], 0.9, history),
            )
        )
        naive_p50.append(metrics.rmsse(actual[i], fc["mean"], history))
        naive_p90.append(metrics.scaled_pinball_loss(actual[i], fc[0.9], 0.9, history))
    ours = np.array(ours)
    assert np.nanmean(ours[:, 0]) < 0.9 * np.nanmean(naive_p50)
    assert np.nanmean(ours[:, 1]) < 0.9 * np.nanmean(naive_p90)


def test_direct_strategy_learns_every_step_from_the_origin(weekly):
    panel, categories = weekly
    origin = panel.values.shape[1] - HORIZON
    model = GlobalDemandModel(max_iter=50, strategy="direct").fit(panel.until(origin), categories)
    forecast = model.forecast(HORIZON + 2)  # two steps past what it learned reuse the last one
    assert model.max_horizon_ == 8
    assert (forecast["p90"] >= forecast["p50"]).all()
    mine = forecast[forecast["step"] <= HORIZON]["mean"].to_numpy().reshape(-1, HORIZON)
    actual = panel.values[:, origin : origin + HORIZON]
    used = model.uses_model_
    last_year = panel.values[:, origin - 52 : origin - 52 + HORIZON]
    assert np.nanmean(np.abs(mine - actual)[used]) < np.nanmean(np.abs(last_year - actual)[used])


def test_an_unknown_strategy_is_refused(weekly):
    panel, _ = weekly
    with pytest.raises(ValueError, match="strategy"):
        GlobalDemandModel(strategy="magic").fit(panel)


def test_window_quantile_and_peak_match_numpy():
    from models.demand import _row_quantile_and_max

    block = np.array([[1, 2, 3, 4, np.nan], [np.nan] * 5, [5, np.nan, 1, np.nan, 3.0]])
    q90, peak = _row_quantile_and_max(block, 0.9)
    np.testing.assert_allclose(
        q90[[0, 2]], [np.nanquantile(block[0], 0.9), np.nanquantile(block[2], 0.9)]
    )
    np.testing.assert_array_equal(peak[[0, 2]], [4, 5])
    assert np.isnan(q90[1]) and np.isnan(peak[1])


def test_p90_covers_about_nine_in_ten_held_out_weeks_of_noisy_demand():
    rng = np.random.default_rng(11)
    n_items, n_periods, horizon = 80, 130, 8
    rate = rng.lognormal(0.3, 1.0, n_items)  # known Poisson noise around a flat level
    qty = rng.poisson(rate[:, None], (n_items, n_periods)).astype(float)
    periods = pd.period_range("2023-01-02", periods=n_periods, freq="W-SUN").start_time
    history = pd.DataFrame(
        {
            "item": np.repeat(np.arange(n_items), n_periods),
            "date": np.tile(periods, n_items),
            "qty": qty.ravel(),
        }
    )
    panel = to_panel(history, "W")
    origin = n_periods - horizon
    model = GlobalDemandModel(max_iter=50).fit(panel.until(origin), None)
    p90 = model.forecast(horizon)["p90"].to_numpy().reshape(n_items, horizon)
    held_out = panel.values[:, origin:]
    assert 0.84 <= np.mean(held_out <= p90) <= 0.96
