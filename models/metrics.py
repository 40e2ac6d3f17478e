"""Forecast accuracy measures, each a plain function of actuals and forecasts.

Scaled measures (MASE, RMSSE) divide by the in-sample error of a naive forecast with lag
``season`` so that series of different size can be averaged; they return NaN when that
in-sample error is zero (a constant history), and callers skip such series.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _arrays(actual: ArrayLike, forecast: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(actual, dtype=float).ravel()
    f = np.asarray(forecast, dtype=float).ravel()
    if y.shape != f.shape:
        raise ValueError(f"actual has {y.size} values but forecast has {f.size}")
    return y, f


def mae(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Mean absolute error."""
    y, f = _arrays(actual, forecast)
    return float(np.mean(np.abs(y - f))) if y.size else float("nan")


def naive_scale(history: ArrayLike, season: int = 1, power: int = 1) -> float:
    """Mean of |y_t - y_{t-season}|**power over the history (the denominator of MASE/RMSSE)."""
    h = np.asarray(history, dtype=float).ravel()
    h = h[~np.isnan(h)]
    if h.size <= season:
        return float("nan")
    return float(np.mean(np.abs(h[season:] - h[:-season]) ** power))


def mase(actual: ArrayLike, forecast: ArrayLike, history: ArrayLike, season: int = 1) -> float:
    """Mean absolute scaled error: MAE over the in-sample MAE of the seasonal naive method."""
    scale = naive_scale(history, season, power=1)
    if not scale > 0:
        return float("nan")
    return mae(actual, forecast) / scale


def rmsse(actual: ArrayLike, forecast: ArrayLike, history: ArrayLike, season: int = 1) -> float:
    """Root mean squared scaled error (the M5 measure)."""
    y, f = _arrays(actual, forecast)
    scale = naive_scale(history, season, power=2)
    if not scale > 0 or not y.size:
        return float("nan")
    return float(np.sqrt(np.mean((y - f) ** 2) / scale))


def wape(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Weighted absolute percentage error: sum |error| / sum |actual|."""
    y, f = _arrays(actual, forecast)
    total = np.sum(np.abs(y))
    return float(np.sum(np.abs(y - f)) / total) if total > 0 else float("nan")


def bias(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Relative bias: sum(forecast - actual) / sum |actual|; positive means over-forecasting."""
    y, f = _arrays(actual, forecast)
    total = np.sum(np.abs(y))
    return float(np.sum(f - y) / total) if total > 0 else float("nan")


def pinball_loss(actual: ArrayLike, forecast: ArrayLike, quantile: float) -> float:
    """Mean pinball (quantile) loss of ``forecast`` read as the ``quantile`` of the actuals."""
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be between 0 and 1, got {quantile}")
    y, f = _arrays(actual, forecast)
    diff = y - f
    return float(np.mean(np.maximum(quantile * diff, (quantile - 1) * diff))) if y.size else np.nan


def scaled_pinball_loss(
    actual: ArrayLike, forecast: ArrayLike, quantile: float, history: ArrayLike, season: int = 1
) -> float:
    """Pinball loss over the in-sample naive MAE, so series of any size can be averaged."""
    scale = naive_scale(history, season, power=1)
    if not scale > 0:
        return float("nan")
    return pinball_loss(actual, forecast, quantile) / scale


def coverage(actual: ArrayLike, upper: ArrayLike) -> float:
    """Share of actuals at or below the upper bound (for a P90 it should be near 0.9)."""
    y, u = _arrays(actual, upper)
    return float(np.mean(y <= u)) if y.size else float("nan")
