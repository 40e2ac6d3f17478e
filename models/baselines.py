"""Simple forecasting methods: the fallbacks for thin histories and the bar the model must beat.

Every method is a scikit-learn regressor with one time-series convention: ``fit(X, y)`` takes
the history ``y`` in time order (``X`` holds one row per period and is only checked for shape,
the methods do not use features), and ``predict(X)`` returns the forecast for ``len(X)``
periods after the end of the history, row ``i`` being ``i + 1`` periods ahead.
``predict_quantile(X, q)`` adds the ``q`` quantile of the method's in-sample one-step errors,
so a baseline gives a P90 as well as a point forecast.
"""

from __future__ import annotations

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
