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


# --- per-product choice and calibrated quantiles ---------------------------------------------


def _long(values: np.ndarray, freq: str, start: str = "2024-01-01") -> pd.DataFrame:
    """A long frame of a items x periods matrix (NaN cells are left out)."""
    from models.demand import PANDAS_PERIOD

    n_items, n_periods = values.shape
    periods = pd.period_range(start, periods=n_periods, freq=PANDAS_PERIOD[freq]).start_time
    frame = pd.DataFrame(
        {
            "item": np.repeat(np.arange(n_items), n_periods),
            "date": np.tile(periods, n_items),
            "qty": values.ravel(),
        }
    )
    return frame.dropna()


def test_public_holidays_are_marked_in_days_and_weeks():
    from models.calendar import calendar_features

    days = pd.date_range("2024-12-23", periods=5)  # Christmas and Boxing Day in Britain
    marked = calendar_features(days, "D", "GB")
    np.testing.assert_array_equal(marked["holidays"], [0, 0, 1, 1, 0])
    np.testing.assert_array_equal(marked["holidays_next"], [0, 1, 1, 0, 0])
    assert calendar_features(pd.DatetimeIndex(["2024-07-01"]), "W", "US")["holidays"][0] == 1
    assert calendar_features(pd.DatetimeIndex(["2024-07-01"]), "W", "GB")["holidays"][0] == 0


def test_conformal_quantile_takes_the_rank_that_guarantees_coverage():
    from models.demand import conformal_quantile

    scores = np.arange(1.0, 20.0)  # 19 scores: the 0.9 rank is ceil(20 * 0.9) = 18
    assert conformal_quantile(scores, 0.9) == 18.0
    assert conformal_quantile(scores, 0.5) == 10.0
    assert conformal_quantile(np.array([]), 0.9) == 0.0


def test_the_choice_picks_the_simple_method_where_it_is_obviously_better():
    from models.demand import DemandForecaster

    rng = np.random.default_rng(4)
    n_days = 200
    weekday = np.arange(n_days) % 7
    noisy = rng.poisson(np.where(weekday >= 5, 2.0, 6.0)[None, :] * rng.uniform(1, 3, (30, 1)))
    exact = np.tile([5, 9, 9, 9, 12, 0, 0], n_days // 7 + 1)[:n_days]  # the same every week
    values = np.vstack([noisy, exact[None, :]]).astype(float)
    panel = to_panel(_long(values, "D"), "D")
    select = DemandForecaster(combine="select", pooled_share=0.0, model_params={"max_iter": 30})
    select.fit(panel)
    assert select.method_[-1] == "seasonal_naive"
    blend = DemandForecaster(model_params={"max_iter": 30}).fit(panel)
    assert blend.method_[-1] == "seasonal_naive"
    weights = blend.weights_.iloc[-1]
    assert weights["seasonal_naive"] >= 0.5 and weights.sum() == pytest.approx(1.0)
    forecast = blend.forecast(14)
    assert (forecast.drop_duplicates("item")["method"].to_numpy() == blend.method_).all()
    assert blend.method_counts()["seasonal_naive"] >= 1


def test_intermittent_items_get_an_intermittent_method_or_zero():
    from models.demand import DemandForecaster

    rng = np.random.default_rng(6)
    # One sale of 1-3 units about every ten weeks: sparse demand, like most catalogue tails.
    values = (rng.random((40, 150)) < 0.1) * rng.integers(1, 4, (40, 150))
    panel = to_panel(_long(values.astype(float), "W"), "W")
    model = DemandForecaster(model_params={"max_iter": 30}).fit(panel)
    intermittent = np.isin(model.method_, ["zero", "croston", "croston_sba", "tsb"])
    assert intermittent.mean() >= 0.75
    forecast = model.forecast(8)
    # The expected demand is 0.1 sales a week of 2 units on average: 0.2 a week.
    assert 0.1 <= forecast["mean"].mean() <= 0.3


@pytest.mark.parametrize("seed", [1, 2])
def test_calibrated_p90_covers_nine_in_ten_held_out_days(seed):
    from models.demand import DemandForecaster

    rng = np.random.default_rng(seed)
    n_items, n_days, horizon = 80, 300, 28
    level = rng.lognormal(0.5, 1.0, n_items)
    weekday = np.array([1.0, 1.1, 1.1, 1.2, 1.5, 0.5, 0.3])[np.arange(n_days) % 7]
    # Over-dispersed demand (gamma-Poisson), so plain Poisson bands would be too narrow.
    rate = rng.gamma(2.0, (level[:, None] * weekday[None, :]) / 2.0)
    values = rng.poisson(rate).astype(float)
    panel = to_panel(_long(values, "D"), "D")
    origin = n_days - horizon
    model = DemandForecaster(horizon=horizon, model_params={"max_iter": 30})
    model.fit(panel.until(origin))
    forecast = model.forecast(horizon)
    p90 = forecast["p90"].to_numpy().reshape(n_items, horizon)
    p50 = forecast["p50"].to_numpy().reshape(n_items, horizon)
    held_out = panel.values[:, origin:]
    assert 0.86 <= np.mean(held_out <= p90) <= 0.94
    # Counts tie with a whole-number P50 often, so "at or below" runs a little over half.
    assert 0.45 <= np.mean(held_out <= p50) <= 0.62
    assert (p90 >= p50).all() and (p50 >= 0).all()


def test_refresh_forecasts_from_the_longer_history_without_fitting_again(weekly):
    panel, categories = weekly
    model = GlobalDemandModel(max_iter=20, quantiles=()).fit(panel.until(140), categories)
    trees = model.models_["mean"]
    model.refresh(panel)
    assert model.models_["mean"] is trees
    forecast = model.forecast(4)
    assert forecast["period"].min() > panel.periods[-1]


def test_empirical_quantile_base_keeps_the_shape_of_lumpy_demand():
    from models.demand import DemandForecaster

    one_in_five = np.tile([0, 0, 0, 0, 5.0], 30)  # 150 weeks, a sale of 5 every fifth week
    steady = np.full(150, 4.0) + np.tile([1, -1.0], 75)
    panel = to_panel(_long(np.vstack([one_in_five, steady]), "W"), "W")
    model = DemandForecaster(quantile_base="empirical", use_model=False).fit(panel)
    forecast = model.forecast(4)
    lumpy = forecast[forecast["item"] == 0]
    assert np.allclose(lumpy["mean"], 1.0, atol=0.3)
    assert (lumpy["p50"] == 0).all()  # four weeks in five sell nothing
    assert (lumpy["p90"] >= 4.0).all()
    with pytest.raises(ValueError, match="quantile_base"):
        DemandForecaster(quantile_base="magic", use_model=False).fit(panel)
