"""Simple forecasting methods: the fallbacks for thin histories and the bar the model must beat.

Every method is a scikit-learn regressor with one time-series convention: ``fit(X, y)`` takes
the history ``y`` in time order (``X`` holds one row per period and is only checked for shape,
the methods do not use features), and ``predict(X)`` returns the forecast for ``len(X)``
periods after the end of the history, row ``i`` being ``i + 1`` periods ahead.
``predict_quantile(X, q)`` adds the ``q`` quantile of the method's in-sample one-step errors,
so a baseline gives a P90 as well as a point forecast.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data


class _HistoryForecaster(RegressorMixin, BaseEstimator):
    """Shared plumbing: validation, residual quantiles and the non-negativity of the history."""

    def fit(self, X, y):
        """Learn from the history ``y`` (time order); returns self."""
        X, y = validate_data(self, X, y, y_numeric=True)
        y = np.asarray(y, dtype=float)
        self.nonnegative_ = bool(np.all(y >= 0))
        self._learn(y)
        return self

    def predict(self, X) -> np.ndarray:
        """Forecast ``len(X)`` periods ahead of the history."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self._forecast(X.shape[0])

    def predict_quantile(self, X, quantile: float) -> np.ndarray:
        """The ``quantile`` forecast: point forecast plus the residual quantile."""
        point = self.predict(X)
        shift = float(np.quantile(self.residuals_, quantile)) if self.residuals_.size else 0.0
        out = point + shift
        return np.maximum(out, 0.0) if self.nonnegative_ else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # They ignore X by design, so R^2 against X-driven targets is meaningless.
        tags.regressor_tags.poor_score = True
        return tags

    def _learn(self, y: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _forecast(self, steps: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class SeasonalNaive(_HistoryForecaster):
    """Repeat the last full season: step h takes the value one season before it."""

    def __init__(self, season_length: int = 7):
        self.season_length = season_length

    def _learn(self, y: np.ndarray) -> None:
        m = int(self.season_length)
        if m < 1:
            raise ValueError(f"season_length must be at least 1, got {self.season_length}")
        # With less than a season of history, the last value stands in for the season.
        self.last_season_ = y[-m:].copy() if y.size >= m else np.repeat(y[-1], m)
        self.residuals_ = y[m:] - y[:-m] if y.size > m else np.diff(y)

    def _forecast(self, steps: int) -> np.ndarray:
        m = self.last_season_.size
        return self.last_season_[np.arange(steps) % m].astype(float)


class MovingAverage(_HistoryForecaster):
    """The mean of the last ``window`` periods, flat over the horizon."""

    def __init__(self, window: int = 4):
        self.window = window

    def _learn(self, y: np.ndarray) -> None:
        w = int(self.window)
        if w < 1:
            raise ValueError(f"window must be at least 1, got {self.window}")
        self.level_ = float(np.mean(y[-w:]))
        if y.size > 1:
            csum = np.concatenate([[0.0], np.cumsum(y)])
            t = np.arange(1, y.size)
            start = np.maximum(t - w, 0)
            fitted = (csum[t] - csum[start]) / (t - start)
            self.residuals_ = y[1:] - fitted
        else:
            self.residuals_ = np.zeros(0)

    def _forecast(self, steps: int) -> np.ndarray:
        return np.full(steps, self.level_)


class CrostonSBA(_HistoryForecaster):
    """Croston's method with the Syntetos-Boylan bias correction, for intermittent demand.

    Demand sizes and the intervals between demands are smoothed separately, each updated
    only when a demand occurs; the forecast per period is ``(1 - alpha/2) * size / interval``.
    """

    def __init__(self, alpha: float = 0.1):
        self.alpha = alpha

    def _learn(self, y: np.ndarray) -> None:
        a = float(self.alpha)
        if not 0 < a <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        size = interval = None
        since = 0
        fitted = np.zeros(y.size)
        for t, value in enumerate(y):
            fitted[t] = 0.0 if size is None else (1 - a / 2) * size / interval
            since += 1
            if value != 0:
                if size is None:  # the first demand seeds both averages
                    size, interval = value, float(since)
                else:
                    size += a * (value - size)
                    interval += a * (since - interval)
                since = 0
        self.size_ = 0.0 if size is None else float(size)
        self.interval_ = 1.0 if interval is None else float(interval)
        self.level_ = (1 - a / 2) * self.size_ / self.interval_
        self.residuals_ = (y - fitted)[1:]

    def _forecast(self, steps: int) -> np.ndarray:
        return np.full(steps, self.level_)


class TSB(_HistoryForecaster):
    """Teunter-Syntetos-Babai: smooths the probability of a demand every period and its size.

    Unlike Croston, the probability decays while no demand comes, so a product that stopped
    selling is forecast towards zero.
    """

    def __init__(self, alpha: float = 0.1, beta: float = 0.1):
        self.alpha = alpha
        self.beta = beta

    def _learn(self, y: np.ndarray) -> None:
        a, b = float(self.alpha), float(self.beta)
        if not (0 < a <= 1 and 0 < b <= 1):
            raise ValueError(f"alpha and beta must be in (0, 1], got {a}, {b}")
        occurs = y != 0
        probability = float(np.mean(occurs))
        size = float(np.mean(y[occurs])) if occurs.any() else 0.0
        fitted = np.zeros(y.size)
        for t, value in enumerate(y):
            fitted[t] = probability * size
            probability += b * (float(occurs[t]) - probability)
            if occurs[t]:
                size += a * (value - size)
        self.probability_ = probability
        self.size_ = size
        self.level_ = probability * size
        self.residuals_ = y - fitted

    def _forecast(self, steps: int) -> np.ndarray:
        return np.full(steps, self.level_)


class Naive(_HistoryForecaster):
    """The last period, repeated."""

    def _learn(self, y: np.ndarray) -> None:
        self.level_ = float(y[-1])
        self.residuals_ = np.diff(y)

    def _forecast(self, steps: int) -> np.ndarray:
        return np.full(steps, self.level_)


class SimpleExponentialSmoothing(_HistoryForecaster):
    """Simple exponential smoothing; ``alpha=None`` picks the alpha of least in-sample error
    from :data:`SES_ALPHAS`. The level starts at the first value."""

    def __init__(self, alpha: float | None = None):
        self.alpha = alpha

    def _learn(self, y: np.ndarray) -> None:
        if self.alpha is not None and not 0 < float(self.alpha) <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        alphas = SES_ALPHAS if self.alpha is None else (float(self.alpha),)
        row = y[None, :]
        self.alpha_ = float(ses_alpha(row, alphas)[0])
        forecast, fitted = panel_ses(row, 1, (self.alpha_,))
        self.level_ = float(forecast[0, 0])
        self.residuals_ = (y - fitted[0])[1:]

    def _forecast(self, steps: int) -> np.ndarray:
        return np.full(steps, self.level_)


class Croston(_HistoryForecaster):
    """Croston's original method: smoothed demand size over smoothed interval, no correction
    (biased upwards; :class:`CrostonSBA` corrects it)."""

    def __init__(self, alpha: float = 0.1):
        self.alpha = alpha

    def _learn(self, y: np.ndarray) -> None:
        if not 0 < float(self.alpha) <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        forecast, fitted = panel_croston(y[None, :], 1, float(self.alpha), "classic")
        self.level_ = float(forecast[0, 0])
        self.residuals_ = (y - fitted[0])[1:]

    def _forecast(self, steps: int) -> np.ndarray:
        return np.full(steps, self.level_)


def is_intermittent(history: np.ndarray, zero_share: float = 0.3) -> bool:
    """True when more than ``zero_share`` of the observed periods had no demand."""
    h = np.asarray(history, dtype=float)
    h = h[~np.isnan(h)]
    return bool(h.size and np.mean(h == 0) > zero_share)


def fallback_for(history: np.ndarray, season_length: int) -> _HistoryForecaster:
    """The baseline used for an item whose history is too short for the global model."""
    if is_intermittent(history):
        return TSB()
    return MovingAverage(window=max(1, min(season_length, 4)))


def forecast_history(
    estimator: _HistoryForecaster, history: np.ndarray, horizon: int, quantiles=()
) -> dict[str, np.ndarray]:
    """Fit ``estimator`` on one history and return ``mean`` and one array per quantile."""
    h = np.asarray(history, dtype=float)
    h = h[~np.isnan(h)]
    if h.size == 0:
        zeros = np.zeros(horizon)
        return {"mean": zeros, **{q: zeros for q in quantiles}}
    X_hist = np.zeros((h.size, 1))
    X_future = np.zeros((horizon, 1))
    estimator.fit(X_hist, h)
    out = {"mean": estimator.predict(X_future)}
    for q in quantiles:
        out[q] = estimator.predict_quantile(X_future, q)
    return out


# --- the same methods over a whole panel at once ---------------------------------------------
#
# Each kernel takes a matrix of histories (one row per item, NaN before the item began) and
# returns the forecast of the next ``horizon`` periods and the one-step-ahead fitted value of
# every past period (NaN where nothing was known yet), looping over time only, never over items.

SES_ALPHAS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.8)


def _last_known(values: np.ndarray) -> np.ndarray:
    """Each row's last known value (0 for a row that has none)."""
    known = ~np.isnan(values)
    last = np.where(known.any(axis=1), values.shape[1] - 1 - known[:, ::-1].argmax(axis=1), -1)
    out = np.zeros(values.shape[0])
    has = last >= 0
    out[has] = values[np.flatnonzero(has), last[has]]
    return out


def _shift(values: np.ndarray, lag: int) -> np.ndarray:
    """values[:, t - lag] at column t (NaN where t < lag)."""
    out = np.full(values.shape, np.nan)
    if lag < values.shape[1]:
        out[:, lag:] = values[:, :-lag] if lag else values
    return out


def panel_zero(values: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Nothing will sell: the bar for intermittent items."""
    fitted = np.where(np.isnan(values), np.nan, 0.0)
    return np.zeros((values.shape[0], horizon)), fitted


def panel_naive(values: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """The last known period repeated."""
    return np.repeat(_last_known(values)[:, None], horizon, axis=1), _shift(values, 1)


def panel_seasonal_naive(
    values: np.ndarray, horizon: int, season: int
) -> tuple[np.ndarray, np.ndarray]:
    """The last season repeated; within less than a season, the last value stands in."""
    n, t = values.shape
    last = _last_known(values)
    padded = np.concatenate([np.full((n, season), np.nan), values], axis=1)
    season_block = padded[:, -season:]
    season_block = np.where(np.isnan(season_block), last[:, None], season_block)
    forecast = season_block[:, np.arange(horizon) % season]
    return forecast, _shift(values, season)


def _trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """At column t the mean of the known values in columns [t - window, t)."""
    known = ~np.isnan(values)
    zero = np.zeros((values.shape[0], 1))
    csum = np.concatenate([zero, np.cumsum(np.where(known, values, 0.0), axis=1)], axis=1)
    ccount = np.concatenate([zero, np.cumsum(known, axis=1)], axis=1)
    t = np.arange(values.shape[1] + 1)
    lo = np.maximum(t - window, 0)
    total = csum[:, t] - csum[:, lo]
    count = ccount[:, t] - ccount[:, lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def panel_moving_average(
    values: np.ndarray, horizon: int, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """The mean of the last ``window`` known periods, flat."""
    means = _trailing_mean(values, window)
    level = np.nan_to_num(means[:, -1])
    fitted = np.where(np.isnan(values), np.nan, means[:, :-1])
    return np.repeat(level[:, None], horizon, axis=1), fitted


def panel_seasonal_mean(
    values: np.ndarray, horizon: int, season: int, seasons: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """The mean of the same phase of the last ``seasons`` seasons (last four Mondays for a
    Monday): day-of-week structure with less noise than seasonal naive."""
    n, t = values.shape
    padded = np.concatenate([np.full((n, season * seasons), np.nan), values], axis=1)
    offset = season * seasons
    forecast = np.empty((n, horizon))
    for h in range(horizon):
        cols = [offset + t + (h % season) - season * j for j in range(1, seasons + 1)]
        forecast[:, h] = _nanmean_rows(padded[:, cols])
    fallback = _last_known(values)
    forecast = np.where(np.isnan(forecast), fallback[:, None], forecast)
    stacked = np.stack([_shift(values, season * j) for j in range(1, seasons + 1)])
    fitted = _nanmean_stack(stacked)
    fitted = np.where(np.isnan(values), np.nan, fitted)
    return forecast, fitted


def _nanmean_rows(block: np.ndarray) -> np.ndarray:
    known = ~np.isnan(block)
    count = known.sum(axis=1)
    total = np.where(known, block, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _nanmean_stack(stacked: np.ndarray) -> np.ndarray:
    known = ~np.isnan(stacked)
    count = known.sum(axis=0)
    total = np.where(known, stacked, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _ses_runs(values: np.ndarray, alphas: tuple[float, ...]):
    """Smooth every row with every alpha: final levels, fitted values, in-sample SSE."""
    n, t = values.shape
    a = np.asarray(alphas, dtype=float)[None, :]
    level = np.full((n, a.size), np.nan)
    fitted = np.full((n, t, a.size), np.nan)
    sse = np.zeros((n, a.size))
    for col in range(t):
        y = values[:, col][:, None]
        known = ~np.isnan(y)
        fitted[:, col] = np.where(known, level, np.nan)
        sse += np.where(known & ~np.isnan(level), y - level, 0.0) ** 2
        new = np.where(np.isnan(level), y, level + a * (y - level))
        level = np.where(known, new, level)
    return level, fitted, sse


def panel_ses(
    values: np.ndarray, horizon: int, alphas: tuple[float, ...] = SES_ALPHAS
) -> tuple[np.ndarray, np.ndarray]:
    """Simple exponential smoothing, each row with the alpha of least in-sample squared error.

    The level starts at the first known value; the forecast is the last level, flat.
    """
    level, fitted, sse = _ses_runs(values, alphas)
    best = sse.argmin(axis=1)
    rows = np.arange(values.shape[0])
    final = np.nan_to_num(level[rows, best])
    return np.repeat(final[:, None], horizon, axis=1), fitted[rows, :, best]


def ses_alpha(values: np.ndarray, alphas: tuple[float, ...] = SES_ALPHAS) -> np.ndarray:
    """The alpha :func:`panel_ses` picks for each row."""
    _, _, sse = _ses_runs(values, alphas)
    return np.asarray(alphas)[sse.argmin(axis=1)]


def panel_croston(
    values: np.ndarray, horizon: int, alpha: float = 0.1, variant: str = "sba"
) -> tuple[np.ndarray, np.ndarray]:
    """Croston's method over rows: sizes and intervals smoothed only when a demand occurs.

    ``variant`` "classic" forecasts size / interval, "sba" multiplies it by (1 - alpha / 2)
    (the Syntetos-Boylan correction of Croston's upward bias). The first demand seeds the
    size and the interval (periods since the row began, counting the demand's own period).
    """
    if variant not in ("classic", "sba"):
        raise ValueError(f"variant must be 'classic' or 'sba', got {variant!r}")
    factor = 1 - alpha / 2 if variant == "sba" else 1.0
    n, t = values.shape
    size = np.full(n, np.nan)
    interval = np.full(n, np.nan)
    since = np.zeros(n)
    fitted = np.full((n, t), np.nan)
    for col in range(t):
        y = values[:, col]
        known = ~np.isnan(y)
        fitted[known, col] = np.where(np.isnan(size), 0.0, factor * size / interval)[known]
        since = since + known
        demand = known & (y != 0)
        seed = demand & np.isnan(size)
        update = demand & ~seed
        size = np.where(seed, y, np.where(update, size + alpha * (y - size), size))
        interval = np.where(
            seed, since, np.where(update, interval + alpha * (since - interval), interval)
        )
        since = np.where(demand, 0.0, since)
    level = np.where(np.isnan(size), 0.0, factor * size / interval)
    return np.repeat(level[:, None], horizon, axis=1), fitted


def panel_tsb(
    values: np.ndarray, horizon: int, alpha: float = 0.1, beta: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """TSB over rows: the chance of a demand smoothed every period, its size on demand.

    Starts from the row's share of periods with demand and its mean demand size.
    """
    n, t = values.shape
    known = ~np.isnan(values)
    occurs = known & (np.nan_to_num(values) != 0)
    count = known.sum(axis=1)
    probability = np.where(count > 0, occurs.sum(axis=1) / np.maximum(count, 1), 0.0)
    nonzero = occurs.sum(axis=1)
    size = np.where(
        nonzero > 0,
        np.where(occurs, values, 0.0).sum(axis=1) / np.maximum(nonzero, 1),
        0.0,
    )
    fitted = np.full((n, t), np.nan)
    for col in range(t):
        k = known[:, col]
        o = occurs[:, col]
        fitted[k, col] = (probability * size)[k]
        probability = np.where(k, probability + beta * (o - probability), probability)
        size = np.where(o, size + alpha * (values[:, col] - size), size)
    return np.repeat((probability * size)[:, None], horizon, axis=1), fitted


def simple_methods(freq_season: int, freq: str) -> dict:
    """The simple methods a demand forecast chooses among (and is scored against), by name.

    Each value maps (values, horizon) to (forecast, one-step fitted values).
    """
    window = {"D": 28, "W": 4, "M": 3}[freq]
    # partial, not lambda: the choice is saved with the fitted forecast (pickled).
    methods = {
        "zero": panel_zero,
        "naive": panel_naive,
        "seasonal_naive": partial(panel_seasonal_naive, season=freq_season),
        f"moving_average_{window}": partial(panel_moving_average, window=window),
        "ses": panel_ses,
        "croston": partial(panel_croston, variant="classic"),
        "croston_sba": partial(panel_croston, variant="sba"),
        "tsb": panel_tsb,
    }
    if freq == "D":
        methods["weekday_mean_4"] = partial(panel_seasonal_mean, season=freq_season, seasons=4)
    return methods
