"""Demand forecasting: one global gradient-boosting model across all items, with quantiles.

History is a long frame (item, date, qty). :func:`to_panel` turns it into a matrix of items by
periods (day, week or month); periods before an item's first record are unknown (NaN), later
periods without a record are zero demand. :class:`GlobalDemandModel` learns one model of the
next period's demand from lags, rolling means, the calendar and the category, with every item
scaled by its own mean level so that large and small items share what they teach. By default it
forecasts recursively, feeding its mean forecast back as the lags of the next step;
``strategy="direct"`` instead learns every step ahead from the origin (as good on the demo data,
clearly worse on the seven Walmart series, where it has too few rows per step). It gives a mean
(squared error), a P50 and a P90 (quantile loss) per item and period. Items with too short a
history get a simple method instead (see :func:`models.baselines.fallback_for`).

Poisson loss is avoided on purpose: on daily demand with 89 % zero days it produced predictions
near 1e20 (STACK_NOTES); squared error and quantile loss on scaled targets stay in range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

from models.baselines import fallback_for, forecast_history
from models.calendar import calendar_features


@dataclass(frozen=True)
class Frequency:
    """How a period length shapes the features: which lags and windows, and the season."""

    code: str
    lags: tuple[int, ...]
    windows: tuple[int, ...]
    season: int
    min_history: int  # periods of history below which an item gets a simple method
    default_horizon: int  # steps ahead the direct model learns unless told otherwise


FREQUENCIES = {
    "D": Frequency("D", (1, 2, 3, 4, 5, 6, 7, 14, 21, 28, 364), (7, 28, 91), 7, 56, 28),
    "W": Frequency("W", (1, 2, 3, 4, 8, 13, 26, 52), (4, 13, 52), 52, 13, 8),
    "M": Frequency("M", (1, 2, 3, 6, 12), (3, 6, 12), 12, 6, 6),
}
PANDAS_PERIOD = {"D": "D", "W": "W-SUN", "M": "M"}  # weeks start on Monday


def period_start(dates: pd.Series | pd.DatetimeIndex, freq: str) -> pd.DatetimeIndex:
    """The first day of the day, week (Monday) or month each date falls in."""
    idx = pd.DatetimeIndex(dates)
    return idx.to_period(PANDAS_PERIOD[freq]).start_time.normalize()


@dataclass
class Panel:
    """Demand as a matrix: one row per item, one column per period (NaN before the item began)."""

    items: pd.Index
    periods: pd.DatetimeIndex
    values: np.ndarray
    freq: str

    def until(self, end: int) -> Panel:
        """The panel with only the first ``end`` periods (history up to a forecast origin)."""
        return Panel(self.items, self.periods[:end], self.values[:, :end], self.freq)

    def future_periods(self, horizon: int) -> pd.DatetimeIndex:
        """The ``horizon`` period starts after the last one."""
        step = {
            "D": pd.DateOffset(days=1),
            "W": pd.DateOffset(weeks=1),
            "M": pd.DateOffset(months=1),
        }[self.freq]
        return pd.DatetimeIndex([self.periods[-1] + step * (h + 1) for h in range(horizon)])


def to_panel(
    history: pd.DataFrame,
    freq: str,
    item_col: str = "item",
    date_col: str = "date",
    qty_col: str = "qty",
) -> Panel:
    """Sum a long frame of (item, date, qty) into a :class:`Panel` at frequency D, W or M."""
    if freq not in FREQUENCIES:
        raise ValueError(f"freq must be one of {sorted(FREQUENCIES)}, got {freq!r}")
    frame = pd.DataFrame(
        {
            "item": history[item_col].to_numpy(),
            "period": period_start(history[date_col], freq),
            "qty": pd.to_numeric(history[qty_col]).to_numpy(dtype=float),
        }
    )
    summed = frame.groupby(["item", "period"], sort=True)["qty"].sum()
    items = summed.index.get_level_values("item").unique().sort_values()
    first, last = (
        summed.index.get_level_values("period").min(),
        summed.index.get_level_values("period").max(),
    )
    periods = pd.DatetimeIndex(
        pd.period_range(first, last, freq=PANDAS_PERIOD[freq]).start_time.normalize()
    )
    wide = summed.unstack("period").reindex(index=items, columns=periods)
    values = wide.to_numpy(dtype=float)
    # An item's demand is unknown before its first record and zero in quiet periods after it.
    started = np.cumsum(~np.isnan(values), axis=1) > 0
    values = np.where(started & np.isnan(values), 0.0, values)
    return Panel(items, periods, values, freq)


def item_scale(values: np.ndarray) -> np.ndarray:
    """Each item's mean absolute demand per known period (1 where it never had any)."""
    known = ~np.isnan(values)
    count = known.sum(axis=1)
    total = np.where(known, np.abs(values), 0.0).sum(axis=1)
    scale = np.divide(total, count, out=np.zeros(len(values)), where=count > 0)
    return np.where(scale > 0, scale, 1.0)


class _Sums:
    """Prefix sums along time, so any window's mean or spread costs two lookups."""

    def __init__(self, values: np.ndarray):
        known = ~np.isnan(values)
        filled = np.where(known, values, 0.0)

        def prefix(a):
            return np.concatenate([np.zeros((a.shape[0], 1)), np.cumsum(a, axis=1)], axis=1)

        self.total = prefix(filled)
        self.squares = prefix(filled**2)
        self.count = prefix(known.astype(float))
        self.zeros = prefix((known & (filled == 0)).astype(float))


def build_features(
    values: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    dates: pd.DatetimeIndex,
    spec: Frequency,
    scale: np.ndarray,
    category: np.ndarray,
    start: np.ndarray,
    sums: _Sums | None = None,
    country: str | None = None,
) -> pd.DataFrame:
    """Features for target cells (``rows[k]``, ``cols[k]``) from the values strictly before them.

    ``dates`` are the period starts of ``cols``; ``start`` is each item's first known column.
    """
    sums = sums or _Sums(values)
    s = scale[rows]
    out: dict[str, np.ndarray] = {}
    for lag in spec.lags:
        src = cols - lag
        ok = src >= 0
        lagged = np.full(rows.size, np.nan)
        lagged[ok] = values[rows[ok], src[ok]]
        out[f"lag_{lag}"] = lagged / s
    for window in spec.windows:
        lo = np.maximum(cols - window, 0)
        n = sums.count[rows, cols] - sums.count[rows, lo]
        total = sums.total[rows, cols] - sums.total[rows, lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, total / n, np.nan)
            out[f"mean_{window}"] = mean / s
            if window == spec.windows[-1]:
                sq = sums.squares[rows, cols] - sums.squares[rows, lo]
                var = np.where(n > 1, sq / n - mean**2, np.nan)
                out[f"std_{window}"] = np.sqrt(np.maximum(var, 0)) / s
                zeros = sums.zeros[rows, cols] - sums.zeros[rows, lo]
                out[f"zero_share_{window}"] = np.where(n > 0, zeros / n, np.nan)
    # Upper quantiles and the peak of recent windows: what a P90 forecast leans on most.
    for window in spec.windows[1:]:
        block = _window_block(values, rows, cols, window)
        q90, peak = _row_quantile_and_max(block, 0.9)
        out[f"q90_{window}"] = q90 / s
        out[f"max_{window}"] = peak / s
    out["age"] = np.minimum(cols - start[rows], 4 * spec.season).astype(float)
    out["log_scale"] = np.log1p(s)
    out["category"] = category[rows].astype(float)
    out.update(calendar_features(dates, spec.code, country))
    return pd.DataFrame(out)


def _window_block(
    values: np.ndarray, rows: np.ndarray, cols: np.ndarray, window: int
) -> np.ndarray:
    """values[rows[k], cols[k] - window : cols[k]] for every k (NaN before the first period)."""
    padded = np.concatenate([np.full((values.shape[0], window), np.nan), values], axis=1)
    index = cols[:, None] + np.arange(window)[None, :]  # shifted by the padding
    return padded[rows[:, None], index]


def _row_quantile_and_max(block: np.ndarray, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the ``q`` quantile (linear) and the maximum of the known values, NaN if none.

    One sort of the whole block (NaN sorts last) instead of np.nanquantile, which loops per row.
    """
    ordered = np.sort(block, axis=1)
    n = (~np.isnan(block)).sum(axis=1)
    pos = q * np.maximum(n - 1, 0)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
    take = np.arange(len(block))
    low, high = ordered[take, lo], ordered[take, hi]
    quantile = low + (pos - lo) * (high - low)
    peak = ordered[take, np.maximum(n - 1, 0)]
    empty = n == 0
    return np.where(empty, np.nan, quantile), np.where(empty, np.nan, peak)


# The global model learns from at most this many (item, period) cells, a uniform sample seeded
# by ``random_state``: the default demo's three years of 1,000 products give 150,000, the large
# demo's 10,000 products 1.5 million.
MAX_TRAIN_ROWS = 200_000


class GlobalDemandModel:
    """One gradient-boosting model of next-period demand for every item, with P50 and P90.

    ``fit(panel, categories)`` returns self; learned state ends in ``_``; ``forecast(horizon)``
    returns a long frame (item, period, step, mean, p50, p90, method).
    """

    def __init__(
        self,
        quantiles: tuple[float, ...] = (0.5, 0.9),
        max_iter: int = 150,
        learning_rate: float = 0.08,
        max_leaf_nodes: int = 31,
        min_history: int | None = None,
        max_train_rows: int = MAX_TRAIN_ROWS,
        random_state: int = 0,
        strategy: str = "recursive",
        max_horizon: int | None = None,
        holiday_country: str | None = None,
    ):
        self.quantiles = quantiles
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_history = min_history
        self.max_train_rows = max_train_rows
        self.random_state = random_state
        self.strategy = strategy
        self.max_horizon = max_horizon
        self.holiday_country = holiday_country

    def _regressor(self, **loss) -> HistGradientBoostingRegressor:
        return HistGradientBoostingRegressor(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            early_stopping=False,
            categorical_features=["category"] if "category" in self.feature_names_ else None,
            random_state=self.random_state,
            **loss,
        )

    def fit(self, panel: Panel, categories: pd.Series | None = None) -> GlobalDemandModel:
        """Learn from every item's history; items too short for it are marked for a fallback."""
        spec = FREQUENCIES[panel.freq]
        values = panel.values
        n_items, n_periods = values.shape
        known = ~np.isnan(values)
        start = np.where(known.any(axis=1), known.argmax(axis=1), n_periods)
        observed = known.sum(axis=1)
        min_history = self.min_history if self.min_history is not None else spec.min_history
        self.panel_ = panel
        self.spec_ = spec
        self.scale_ = item_scale(values)
        self.start_ = start
        self.category_codes_, self.category_names_ = _category_codes(panel.items, categories)
        self.uses_model_ = observed >= min_history
        self.nonnegative_ = bool(np.nanmin(values, initial=0.0) >= 0)

        rows, cols = np.nonzero(known & (np.arange(n_periods) > start[:, None]))
        keep = self.uses_model_[rows]
        rows, cols = rows[keep], cols[keep]
        rng = np.random.default_rng(self.random_state)
        self.n_rows_available_ = int(rows.size)
        if rows.size > self.max_train_rows:  # a uniform sample keeps fitting time bounded
            pick = np.sort(rng.choice(rows.size, self.max_train_rows, replace=False))
            rows, cols = rows[pick], cols[pick]
        self.n_train_rows_ = int(rows.size)
        self.models_: dict[str, HistGradientBoostingRegressor] = {}
        if rows.size < 20:
            return self  # nothing to learn from: every item falls back
        if self.strategy not in ("direct", "recursive"):
            raise ValueError(f"strategy must be 'direct' or 'recursive', got {self.strategy!r}")
        self.max_horizon_ = self.max_horizon or spec.default_horizon
        if self.strategy == "direct":
            # Each row is seen from an origin 1..H periods before it, so one model learns
            # every step ahead from what was known at the origin (no forecasts fed back).
            steps = rng.integers(1, self.max_horizon_ + 1, size=rows.size)
            origin = cols - steps + 1
            ok = origin > start[rows]
            rows, cols, steps, origin = rows[ok], cols[ok], steps[ok], origin[ok]
        else:
            steps, origin = np.ones(rows.size, dtype=int), cols
        X = build_features(
            values,
            rows,
            origin,
            panel.periods[cols],
            spec,
            self.scale_,
            self.category_codes_,
            start,
            country=self.holiday_country,
        )
        X["step"] = steps.astype(float)
        target = values[rows, cols] / self.scale_[rows]
        self.n_train_rows_ = int(rows.size)
        # A lag longer than the whole history is never known; the binner cannot take it.
        X = X.loc[:, X.notna().any()]
        self.feature_names_ = list(X.columns)
        self.models_["mean"] = self._regressor(loss="squared_error").fit(X, target)
        for q in self.quantiles:
            self.models_[_qname(q)] = self._regressor(loss="quantile", quantile=q).fit(X, target)
        return self

    def refresh(self, panel: Panel) -> GlobalDemandModel:
        """Forecast from a longer history of the same items without fitting again.

        The learned trees stay; lags, windows, scales and which items are long enough come
        from ``panel``. Used to score the model on a holdout and then forecast from the
        whole history with one fit.
        """
        if not panel.items.equals(self.panel_.items) or panel.freq != self.panel_.freq:
            raise ValueError("refresh needs the same items at the same frequency")
        values = panel.values
        known = ~np.isnan(values)
        n_periods = values.shape[1]
        min_history = self.min_history if self.min_history is not None else self.spec_.min_history
        self.panel_ = panel
        self.scale_ = item_scale(values)
        self.start_ = np.where(known.any(axis=1), known.argmax(axis=1), n_periods)
        self.uses_model_ = known.sum(axis=1) >= min_history
        return self

    def forecast(self, horizon: int) -> pd.DataFrame:
        """Mean and quantile forecasts for ``horizon`` periods after the history."""
        panel, spec = self.panel_, self.spec_
        n_items = len(panel.items)
        future = panel.future_periods(horizon)
        names = ["mean", *(_qname(q) for q in self.quantiles)]
        result = {name: np.zeros((n_items, horizon)) for name in names}
        method = np.where(self.uses_model_ & bool(self.models_), "model", "").astype(object)

        model_rows = np.flatnonzero(method == "model")
        if model_rows.size and self.strategy == "direct":
            self._forecast_direct(model_rows, horizon, future, result)
        elif model_rows.size:
            self._forecast_recursive(model_rows, horizon, future, result)
        for i in np.flatnonzero(method != "model"):
            history = panel.values[i]
            estimator = fallback_for(history, spec.season)
            fc = forecast_history(estimator, history, horizon, self.quantiles)
            result["mean"][i] = fc["mean"]
            for q in self.quantiles:
                result[_qname(q)][i] = fc[q]
            method[i] = type(estimator).__name__
        # Quantiles must not cross: each is at least the one below it.
        qnames = [_qname(q) for q in sorted(self.quantiles)]
        for lower, upper in zip(qnames, qnames[1:], strict=False):
            result[upper] = np.maximum(result[upper], result[lower])
        frame = pd.DataFrame(
            {
                "item": np.repeat(panel.items.to_numpy(), horizon),
                "period": np.tile(future.to_numpy(), n_items),
                "step": np.tile(np.arange(1, horizon + 1), n_items),
                **{name: result[name].ravel() for name in names},
                "method": np.repeat(method, horizon),
            }
        )
        return frame

    def _forecast_direct(self, rows_abs, horizon, future, result) -> None:
        panel, spec = self.panel_, self.spec_
        n_periods = panel.values.shape[1]
        scale = self.scale_[rows_abs]
        base = build_features(
            panel.values,
            rows_abs,
            np.full(rows_abs.size, n_periods),
            future[[0] * rows_abs.size],
            spec,
            self.scale_,
            self.category_codes_,
            self.start_,
            country=self.holiday_country,
        )
        for h in range(horizon):
            X = base.copy()
            dates = future[[h] * rows_abs.size]
            for name, col in calendar_features(dates, spec.code, self.holiday_country).items():
                X[name] = col
            # Beyond the horizon it was trained for, the last step's model stands in.
            X["step"] = float(min(h + 1, self.max_horizon_))
            X = X[self.feature_names_]
            for name, model in self.models_.items():
                pred = model.predict(X) * scale
                if self.nonnegative_:
                    pred = np.maximum(pred, 0.0)
                result[name][rows_abs, h] = pred

    def _forecast_recursive(self, rows_abs, horizon, future, result) -> None:
        panel, spec = self.panel_, self.spec_
        reach = max(max(spec.lags), max(spec.windows)) + 1
        tail = panel.values[rows_abs, -reach:]
        offset = panel.values.shape[1] - tail.shape[1]  # absolute column of tail column 0
        local = np.arange(rows_abs.size)
        scale = self.scale_[rows_abs]
        codes = self.category_codes_[rows_abs]
        start = self.start_[rows_abs] - offset
        work = np.concatenate([tail, np.full((rows_abs.size, horizon), np.nan)], axis=1)
        for h in range(horizon):
            col = tail.shape[1] + h
            cols = np.full(rows_abs.size, col)
            X = build_features(
                work[:, :col],
                local,
                cols,
                future[[h] * rows_abs.size],
                spec,
                scale,
                codes,
                start,
                country=self.holiday_country,
            )
            X["step"] = 1.0
            X = X[self.feature_names_]
            for name, model in self.models_.items():
                pred = model.predict(X) * scale
                if self.nonnegative_:
                    pred = np.maximum(pred, 0.0)
                result[name][rows_abs, h] = pred
            work[:, col] = result["mean"][rows_abs, h]


def _qname(q: float) -> str:
    return f"p{round(q * 100):d}"


def _category_codes(items: pd.Index, categories: pd.Series | None) -> tuple[np.ndarray, list]:
    """Integer codes of each item's category (-1 is 'unknown', mapped to NaN for the model)."""
    if categories is None:
        return np.full(len(items), np.nan), []
    labels = pd.Series(categories).reindex(items)
    codes, names = pd.factorize(labels)
    return np.where(codes < 0, np.nan, codes).astype(float), list(names)


def forecast_frame(
    history: pd.DataFrame,
    freq: str,
    horizon: int,
    item_col: str = "item",
    date_col: str = "date",
    qty_col: str = "qty",
    categories: pd.Series | None = None,
    **params,
) -> pd.DataFrame:
    """Fit the global model on a long history frame and forecast ``horizon`` periods."""
    panel = to_panel(history, freq, item_col, date_col, qty_col)
    return GlobalDemandModel(**params).fit(panel, categories).forecast(horizon)


# --- per-item choice between the global model and the simple methods --------------------------

# Periods held out at the end of the history to choose each item's method and to calibrate
# the quantiles: four weeks of days, a quarter of weeks, half a year of months.
SELECTION_WINDOW = {"D": 28, "W": 13, "M": 6}
MODEL = "model"
INTERMITTENT_ZERO_SHARE = 0.3
MIN_CALIBRATION_RESIDUALS = 50


def conformal_quantile(scores: np.ndarray, q: float) -> float:
    """The split-conformal ``q`` quantile of ``scores``: the ceil((n + 1) q)-th smallest.

    With exchangeable scores, a new one falls at or below it with chance at least ``q``
    (for q < 0.5 the same rule from below, so a P10 is not pulled towards the middle).
    """
    s = np.sort(np.asarray(scores, dtype=float)[~np.isnan(scores)])
    n = s.size
    if n == 0:
        return 0.0
    if q >= 0.5:
        k = min(int(np.ceil((n + 1) * q)), n)
        return float(s[k - 1])
    k = max(int(np.floor((n + 1) * q)), 1)
    return float(s[k - 1])


def local_spread(values: np.ndarray, window: int, forecast: np.ndarray) -> np.ndarray:
    """Each item's spread at each forecast period: its recent standard deviation, scaled by
    the square root of how the forecast compares with its recent mean (busy periods vary
    more in absolute terms; clipped to half and double)."""
    spread = recent_spread(values, window)
    block = values[:, -window:]
    known = ~np.isnan(block)
    level = np.where(known, block, 0.0).sum(axis=1) / np.maximum(known.sum(axis=1), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(level[:, None] > 0, forecast / level[:, None], 1.0)
    ratio = np.clip(np.nan_to_num(ratio, nan=1.0), 0.25, 4.0)
    return spread[:, None] * np.sqrt(ratio)


def recent_spread(values: np.ndarray, window: int) -> np.ndarray:
    """Each item's standard deviation over its last ``window`` known periods (0 if fewer than 2)."""
    block = values[:, -window:]
    known = ~np.isnan(block)
    n = known.sum(axis=1)
    filled = np.where(known, block, 0.0)
    mean = filled.sum(axis=1) / np.maximum(n, 1)
    var = (np.where(known, (block - mean[:, None]) ** 2, 0.0)).sum(axis=1) / np.maximum(n - 1, 1)
    return np.where(n >= 2, np.sqrt(var), 0.0)


def zero_share(values: np.ndarray) -> np.ndarray:
    """Share of known periods without demand, per item (0 for an item without any)."""
    known = ~np.isnan(values)
    zeros = known & (values == 0)
    return zeros.sum(axis=1) / np.maximum(known.sum(axis=1), 1)


def _weights(errors: np.ndarray, combine: str, top_k: int) -> np.ndarray:
    """Per row, the weights of the methods from their held-out squared errors.

    "select": all on the least error (ties to the first, the simpler method). "blend": the
    ``top_k`` least errors, weighted by inverse error (one with no error takes it all).
    """
    if combine not in ("select", "blend"):
        raise ValueError(f"combine must be 'select' or 'blend', got {combine!r}")
    n, m = errors.shape
    rows = np.arange(n)[:, None]
    order = np.argsort(errors + np.arange(m)[None, :] * 1e-12, axis=1, kind="stable")
    k = 1 if combine == "select" else max(1, min(top_k, m))
    top = order[:, :k]
    chosen = errors[rows, top]
    exact = chosen[:, :1] <= 0
    with np.errstate(divide="ignore"):
        inverse = np.where(np.isfinite(chosen) & (chosen > 0), 1.0 / chosen, 0.0)
    inverse = np.where(exact, np.eye(k)[0][None, :], inverse)
    total = inverse.sum(axis=1, keepdims=True)
    inverse = np.where(total > 0, inverse / np.where(total > 0, total, 1), np.eye(k)[0][None, :])
    weights = np.zeros((n, m))
    weights[rows, top] = inverse
    return weights


class DemandForecaster:
    """Per item, the methods that forecast its own recent demand best, with calibrated quantiles.

    ``fit`` holds out the last ``selection_window`` periods (at least the horizon): the global
    model (fitted once, on the history before them) and every simple method of
    :func:`models.baselines.simple_methods` forecast them. With ``combine="select"`` each item
    keeps the method of least squared error on its own held-out periods (ties go to the
    simpler method); with ``"blend"`` (the default) its ``top_k`` best methods are weighted by
    inverse error. ``pooled_share`` of the weight follows the whole panel's errors (relative to
    each item's size) instead of the item's own, which are few and noisy. Items whose history
    is too short for that get TSB (intermittent) or a moving average. ``weights_`` holds the
    weights and ``method_`` the heaviest method per item: the one the app names.

    Quantiles: the held-out errors of the blended forecasts, over the first ``horizon`` steps,
    divided by each item's spread (its recent standard deviation, scaled by the square root of
    forecast over recent mean), give one split-conformal multiplier per quantile and demand
    class (intermittent or regular); a forecast's quantile is its mean plus multiplier times
    the spread. The holdout comes after everything the spreads and forecasts saw, so the P90
    covers about nine periods in ten on data like the past.

    With ``refit`` the global model is fitted again on the whole history for the forecast;
    otherwise the model fitted before the holdout forecasts from the whole history
    (one fit instead of two; :meth:`GlobalDemandModel.refresh`).
    """

    def __init__(
        self,
        quantiles: tuple[float, ...] = (0.5, 0.9),
        selection_window: int | None = None,
        horizon: int | None = None,
        use_model: bool = True,
        refit: bool = False,
        model_params: dict | None = None,
        combine: str = "blend",
        top_k: int = 3,
        pooled_share: float = 0.5,
        quantile_base: str = "mean",
    ):
        self.quantiles = quantiles
        self.selection_window = selection_window
        self.horizon = horizon
        self.use_model = use_model
        self.refit = refit
        self.model_params = model_params
        self.combine = combine
        self.top_k = top_k
        self.pooled_share = pooled_share
        self.quantile_base = quantile_base

    # -- fitting ---------------------------------------------------------------------------

    def fit(self, panel: Panel, categories: pd.Series | None = None) -> DemandForecaster:
        from models.baselines import simple_methods

        spec = FREQUENCIES[panel.freq]
        values = panel.values
        n_items, n_periods = values.shape
        window = self.selection_window or SELECTION_WINDOW[panel.freq]
        window = max(window, self.horizon or 0)
        self.panel_, self.spec_ = panel, spec
        self.nonnegative_ = bool(np.nanmin(values, initial=0.0) >= 0)
        self.methods_ = simple_methods(spec.season, panel.freq)
        self.spread_window_ = spec.windows[-1]
        origin = n_periods - window
        params = {**(self.model_params or {}), "quantiles": ()}
        self.model_ = None
        candidates: dict[str, np.ndarray] = {}
        eligible = np.zeros(n_items, dtype=bool)
        if origin >= 2:
            inner = values[:, :origin]
            for name, method in self.methods_.items():
                candidates[name], _ = method(inner, window)
            if self.use_model:
                model = GlobalDemandModel(**params).fit(panel.until(origin), categories)
                if model.models_:
                    fc = model.forecast(window)["mean"].to_numpy().reshape(n_items, window)
                    candidates[MODEL] = np.where(model.uses_model_[:, None], fc, np.nan)
                    self.model_ = model
            actual = values[:, origin:]
            observed = (~np.isnan(inner)).sum(axis=1)
            eligible = (observed >= 2) & ~np.isnan(actual).any(axis=1)
        names = list(self.methods_) + ([MODEL] if MODEL in candidates else [])
        self.names_ = names
        fallback = np.where(
            zero_share(values) > INTERMITTENT_ZERO_SHARE,
            "tsb",
            next(n for n in self.methods_ if n.startswith("moving_average")),
        )
        fallback_weights = (np.array(names)[None, :] == fallback[:, None]).astype(float)
        weights = fallback_weights.copy()
        self.multipliers_ = {}
        if candidates:
            stack = np.stack([candidates[name] for name in names], axis=1)  # item, method, step
            errors = np.mean((actual[:, None, :] - stack) ** 2, axis=2)
            errors = np.where(np.isnan(errors), np.inf, errors)
            self.holdout_errors_ = pd.DataFrame(errors, index=panel.items, columns=names)
            weights[eligible] = _weights(errors[eligible], self.combine, self.top_k)
            if self.pooled_share > 0 and eligible.any():
                # The whole panel's verdict (errors relative to each item's own size) is far
                # steadier than one item's few held-out periods: lean on it in part.
                size = item_scale(values[:, :origin])[eligible, None] ** 2
                relative = np.where(np.isfinite(errors[eligible]), errors[eligible] / size, np.nan)
                pooled = np.nanmean(relative, axis=0)
                pooled = np.where(np.isnan(pooled), np.inf, pooled)[None, :]
                shared = _weights(pooled, self.combine, self.top_k)
                # Only methods the item could use (the model does not cover every item).
                usable = np.isfinite(errors[eligible])
                mixed = (1 - self.pooled_share) * weights[eligible] + self.pooled_share * (
                    shared * usable
                )
                weights[eligible] = mixed / mixed.sum(axis=1, keepdims=True)
            held_out = np.einsum("im,ims->is", weights, np.nan_to_num(stack))
            # Conformal multipliers from the held-out errors of the chosen forecasts.
            steps = min(self.horizon or window, window)
            spread = local_spread(
                values[:, :origin], self.spread_window_, np.abs(held_out[:, :steps])
            )
            group = zero_share(values[:, :origin]) > INTERMITTENT_ZERO_SHARE
            use = eligible & (spread > 0).all(axis=1)
            # Only the steps ahead that will be asked for: further steps err more.
            for q in self.quantiles:
                base = self._quantile_base(values[:, :origin], held_out[:, :steps], q)
                scores = (actual[:, :steps] - base) / np.where(spread > 0, spread, 1.0)
                overall = conformal_quantile(scores[use].ravel(), q)
                per_group = {}
                for g in (False, True):
                    rows = use & (group == g)
                    if rows.sum() * steps >= MIN_CALIBRATION_RESIDUALS:
                        per_group[g] = conformal_quantile(scores[rows].ravel(), q)
                    else:
                        per_group[g] = overall
                self.multipliers_[q] = per_group
        else:
            self.holdout_errors_ = pd.DataFrame(index=panel.items)

        if self.model_ is not None and self.refit:
            model = GlobalDemandModel(**params).fit(panel, categories)
            self.model_ = model if model.models_ else None
        elif self.model_ is not None:
            self.model_.refresh(panel)
        if MODEL in names:
            # An item weighted on the model but not covered by it leans on the rest.
            covered = self.model_ is not None and self.model_.uses_model_
            weights[:, names.index(MODEL)] *= covered
            total = weights.sum(axis=1, keepdims=True)
            weights = np.where(total > 0, weights / np.where(total > 0, total, 1), fallback_weights)
        self.weights_ = pd.DataFrame(weights, index=panel.items, columns=names)
        self.method_ = np.array(names, dtype=object)[weights.argmax(axis=1)]
        return self

    def _quantile_base(self, values: np.ndarray, mean: np.ndarray, q: float) -> np.ndarray:
        """What the calibrated multiple of the spread is added to for quantile ``q``.

        "mean": the mean forecast. "empirical": the item's own recent ``q`` quantile of demand,
        scaled by how the forecast compares with its recent mean (keeps the shape of lumpy
        demand: the P50 of an item that sells one week in five is zero).
        """
        if self.quantile_base == "mean":
            return mean
        if self.quantile_base not in ("empirical", "auto"):
            raise ValueError(
                f"quantile_base must be 'mean', 'empirical' or 'auto', got {self.quantile_base!r}"
            )
        block = values[:, -self.spread_window_ :]
        quantile, _ = _row_quantile_and_max(block, q)
        known = ~np.isnan(block)
        level = np.where(known, block, 0.0).sum(axis=1) / np.maximum(known.sum(axis=1), 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(level[:, None] > 0, mean / level[:, None], 1.0)
        ratio = np.clip(np.nan_to_num(ratio, nan=1.0), 0.25, 4.0)
        empirical = np.nan_to_num(quantile)[:, None] * ratio
        if self.quantile_base == "auto":  # the empirical shape for intermittent items only
            lumpy = zero_share(values) > INTERMITTENT_ZERO_SHARE
            return np.where(lumpy[:, None], empirical, mean)
        return empirical

    @property
    def uses_model_(self) -> np.ndarray:
        return self.method_ == MODEL

    # -- forecasting -----------------------------------------------------------------------

    def forecast(self, horizon: int, with_candidates: bool = False) -> pd.DataFrame:
        """Mean and quantiles of the chosen method of every item, ``horizon`` periods ahead.

        With ``with_candidates`` the frame also has one column per method (their means), and
        ``global_model`` for the global model alone (NaN where it does not cover the item).
        """
        panel = self.panel_
        values = panel.values
        n_items = len(panel.items)
        means = {name: method(values, horizon)[0] for name, method in self.methods_.items()}
        if self.model_ is not None:
            fc = self.model_.forecast(horizon)["mean"].to_numpy().reshape(n_items, horizon)
            means[MODEL] = np.where(self.model_.uses_model_[:, None], fc, np.nan)
        weights = self.weights_.to_numpy()
        mean = np.zeros((n_items, horizon))
        for k, name in enumerate(self.names_):
            used = weights[:, k] > 0
            if used.any():
                mean[used] += weights[used, k, None] * np.nan_to_num(means[name][used])
        if self.nonnegative_:
            mean = np.maximum(mean, 0.0)
        spread = local_spread(values, self.spread_window_, np.abs(mean))
        group = zero_share(values) > INTERMITTENT_ZERO_SHARE
        out = {"mean": mean}
        for q in sorted(self.quantiles):
            per_group = self.multipliers_.get(q, {False: 0.0, True: 0.0})
            z = np.where(group, per_group[True], per_group[False])
            qf = self._quantile_base(values, mean, q) + z[:, None] * spread
            out[_qname(q)] = np.maximum(qf, 0.0) if self.nonnegative_ else qf
        qnames = [_qname(q) for q in sorted(self.quantiles)]
        for lower, upper in zip(qnames, qnames[1:], strict=False):
            out[upper] = np.maximum(out[upper], out[lower])
        frame = pd.DataFrame(
            {
                "item": np.repeat(panel.items.to_numpy(), horizon),
                "period": np.tile(panel.future_periods(horizon).to_numpy(), n_items),
                "step": np.tile(np.arange(1, horizon + 1), n_items),
                **{name: out[name].ravel() for name in ["mean", *qnames]},
                "method": np.repeat(self.method_, horizon),
            }
        )
        if with_candidates:
            for name, values_ in means.items():
                frame["global_model" if name == MODEL else name] = values_.ravel()
        return frame

    def method_counts(self) -> dict[str, int]:
        """How many items each method serves."""
        names, counts = np.unique(self.method_.astype(str), return_counts=True)
        return {
            str(n): int(c) for n, c in sorted(zip(names, counts, strict=True), key=lambda x: -x[1])
        }
