"""Supplier lead time and carrier transit time: by group, and conditional on features.

A duration (days from PO sent to goods received, or from shipped to delivered) is summarised per
group as P50, P90 and mean. Groups nest: the columns of ``X`` are read left to right as ever
finer levels (supplier, then supplier and category). Each level's figures are shrunk towards
its parent's with weight ``n / (n + shrinkage)``, so a supplier with three receipts borrows most
of its estimate from all suppliers while one with three hundred stands on its own record.

A group's distribution ignores everything else known about a duration: the route, the month,
the weekday, the size of the order, the time quoted for it. :class:`ConditionalDurations`
learns P50 and P90 from those features with quantile gradient boosting, leans on the group's
shrunk figures where a group has little history, and moves the P90 by split-conformal
calibration on the most recent rows so that the late case covers the share of outcomes it
claims to (90 % by default) instead of the share the boosting happened to reach.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.utils.validation import check_is_fitted, validate_data

# What a group's figures are called in frames; the order of the stored vectors.
FIGURES = ("p50", "p90", "mean")


class DurationDistribution(RegressorMixin, BaseEstimator):
    """Empirical duration distribution by nested groups, shrunk towards the parent group.

    Parameters
    ----------
    shrinkage : float
        Pseudo-count ``k`` of the parent's weight: a group of ``n`` observations gets weight
        ``n / (n + k)``.
    quantile : float
        Which quantile :meth:`predict` returns (0.5 by default; use
        :meth:`predict_distribution` for all figures).
    """

    def __init__(self, shrinkage: float = 5.0, quantile: float = 0.5):
        self.shrinkage = shrinkage
        self.quantile = quantile

    def fit(self, X, y):
        """Learn the figures of every group at every level; returns self."""
        X, y = validate_data(self, X, y, dtype=None, ensure_all_finite=False, y_numeric=True)
        if self.shrinkage < 0:
            raise ValueError(f"shrinkage must be >= 0, got {self.shrinkage}")
        y = np.asarray(y, dtype=float)
        keys = _keys(X)
        overall = _figures(y, self.quantile)
        self.overall_ = overall
        self.n_ = int(y.size)
        self.levels_ = []
        parents = {(): overall}
        frame = pd.DataFrame(keys, dtype=object)
        frame["y"] = y
        for depth in range(1, keys.shape[1] + 1):
            level = {}
            for key, values in frame.groupby(list(range(depth)), sort=False, dropna=False)["y"]:
                key = tuple(key) if isinstance(key, tuple) else (key,)
                raw = _figures(values.to_numpy(), self.quantile)
                parent = parents[key[:-1]]
                w = raw[-1] / (raw[-1] + self.shrinkage) if raw[-1] + self.shrinkage > 0 else 1
                blended = w * raw[:-1] + (1 - w) * parent[:-1]
                level[key] = np.append(blended, raw[-1])
            self.levels_.append(level)
            parents = level
        return self

    def predict(self, X) -> np.ndarray:
        """The ``quantile`` figure for each row's finest known group."""
        return self._lookup(X)[:, 3]

    def predict_distribution(self, X) -> pd.DataFrame:
        """P50, P90, mean, the group's own n and the level it came from, per row."""
        table = self._lookup(X)
        return pd.DataFrame(
            {
                "p50": table[:, 0],
                "p90": table[:, 1],
                "mean": table[:, 2],
                "n": table[:, 4].astype(int),
                "level": table[:, 5].astype(int),
            }
        )

    def _lookup(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=None, ensure_all_finite=False, reset=False)
        keys = _keys(X)
        # Rows share a handful of groups: look each distinct key up once.
        joined = pd.Series(keys[:, 0]) if keys.shape[1] else pd.Series([""] * len(keys))
        for c in range(1, keys.shape[1]):
            joined = joined + "\x1f" + keys[:, c]
        codes, _ = pd.factorize(joined)
        _, first = np.unique(codes, return_index=True)
        out = np.empty((first.size, 6))
        for i, row in enumerate(keys[first]):
            found, depth = self.overall_, 0
            for d in range(len(self.levels_), 0, -1):
                hit = self.levels_[d - 1].get(tuple(row[:d]))
                if hit is not None:
                    found, depth = hit, d
                    break
            # columns: p50, p90, mean, chosen quantile, n, level
            out[i, :3] = found[:3]
            out[i, 3] = found[3]
            out[i, 4] = found[4]
            out[i, 5] = depth
        return out[codes] if len(codes) else np.empty((0, 6))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.input_tags.allow_nan = True  # an unknown group is a group of its own
        tags.regressor_tags.poor_score = True  # a group summary, not a fit to X's values
        return tags


def lookup(
    model: DurationDistribution | ConditionalDurations, *keys: object, **features: object
) -> pd.Series:
    """The figures (p50, p90, mean, n, level) of one group, keys given from coarse to fine.

    For a :class:`ConditionalDurations` the keys fill its group columns and ``features`` any of
    its other columns (for example ``start=`` a date, ``quoted_days=``); what is not given is
    treated as unknown.
    """
    if isinstance(model, ConditionalDurations):
        row = {col: str(key) for col, key in zip(model.group_cols, keys, strict=False)}
        row.update(features)
        return model.predict_distribution(pd.DataFrame([row])).iloc[0]
    names = getattr(model, "feature_names_in_", None)
    row = [[str(k) for k in keys]]
    frame = pd.DataFrame(row, columns=list(names), dtype=object) if names is not None else None
    X = frame if frame is not None else np.array(row, dtype=object)
    return model.predict_distribution(X).iloc[0]


def group_width(model: DurationDistribution | ConditionalDurations) -> int:
    """How many group keys ``model`` takes, coarse to fine."""
    if isinstance(model, ConditionalDurations):
        return len(model.group_cols)
    return model.n_features_in_


# A finer key no group has: a lookup with it stops at the first level's own figures.
ANY_FINER_KEY = "(any category)"


def first_level_figures(
    model: DurationDistribution | ConditionalDurations, keys: list[object]
) -> pd.DataFrame:
    """Each first-level group's own P50, P90 and n (a supplier's, in a model keyed by supplier
    and maybe category), one row per key in order: NaN and 0 where the group has no figures of
    its own (one the model never saw)."""
    own = pd.DataFrame({"p50": np.nan, "p90": np.nan, "n": 0}, index=range(len(keys)))
    if not keys:
        return own
    width = group_width(model)
    figures = lookup_many(model, [(str(key), ANY_FINER_KEY)[:width] for key in keys])
    mine = figures["level"] >= 1
    own.loc[mine, ["p50", "p90"]] = figures.loc[mine, ["p50", "p90"]].astype(float)
    own.loc[mine, "n"] = figures.loc[mine, "n"].astype(int)
    return own


# The key of a lead-time run's metrics that holds each supplier's own figures.
SUPPLIER_LEVELS = "supplier_levels"


def supplier_levels(
    model: DurationDistribution | ConditionalDurations, suppliers: list[int]
) -> dict[str, list]:
    """Each supplier's own [P50, P90, n] in ``model``, by supplier id (as text), for the
    suppliers that have figures of their own. Kept with the run, so the pages that show them
    read a row instead of loading and querying the model."""
    figures = first_level_figures(model, suppliers)
    return {
        str(sid): [float(p50), float(p90), int(n)]
        for sid, p50, p90, n in zip(
            suppliers, figures["p50"], figures["p90"], figures["n"], strict=True
        )
        if n > 0 and math.isfinite(p50) and math.isfinite(p90)
    }


def figures_from_levels(levels: dict, supplier_ids: list[int]) -> pd.DataFrame:
    """:func:`first_level_figures` read back from what :func:`supplier_levels` kept: NaN and 0
    for a supplier it holds nothing for."""
    rows = [levels.get(str(sid)) or [np.nan, np.nan, 0] for sid in supplier_ids]
    return pd.DataFrame(rows, columns=["p50", "p90", "n"], index=range(len(supplier_ids)))


def lookup_many(
    model: DurationDistribution | ConditionalDurations, keys: list[tuple]
) -> pd.DataFrame:
    """:func:`lookup` for many groups at once (one row per key tuple, in order): one prediction
    instead of one per group, which costs a page seconds with thousands of suppliers.

    A :class:`ConditionalDurations` is asked with only its group columns known (its other
    features unknown, as when a date is promised before the order is drafted)."""
    rows = [[str(k) for k in key] for key in keys]
    if isinstance(model, ConditionalDurations):
        width = len(model.group_cols)
        frame = pd.DataFrame(
            [row[:width] for row in rows], columns=list(model.group_cols[:width]), dtype=object
        )
        return model.predict_distribution(frame)
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        X = pd.DataFrame(rows, columns=list(names), dtype=object)
    else:
        X = np.array(rows, dtype=object).reshape(len(rows), model.n_features_in_)
    return model.predict_distribution(X)


def _keys(X) -> np.ndarray:
    """Group keys as strings, so labels of any type (and missing ones) compare reliably."""
    return np.asarray(X, dtype=object).astype(str)


def _figures(values: np.ndarray, quantile: float) -> np.ndarray:
    """[p50, p90, mean, chosen quantile, n] of a sample."""
    if values.size == 0:
        return np.array([np.nan, np.nan, np.nan, np.nan, 0.0])
    p50, p90, chosen = np.quantile(values, [0.5, 0.9, quantile])
    return np.array([p50, p90, float(np.mean(values)), chosen, float(values.size)])


def fit_durations(
    history: pd.DataFrame, group_cols: list[str], days_col: str = "days", shrinkage: float = 5.0
) -> DurationDistribution:
    """Fit a :class:`DurationDistribution` on a frame of durations with group columns."""
    return DurationDistribution(shrinkage=shrinkage).fit(history[group_cols], history[days_col])


def duration_table(model: DurationDistribution, group_cols: list[str]) -> pd.DataFrame:
    """The finest level's figures as a readable frame (one row per group), plus the overall."""
    check_is_fitted(model)
    rows = [
        {**dict(zip(group_cols, key, strict=False)), **_named(fig)}
        for key, fig in (model.levels_[-1].items() if model.levels_ else [])
    ]
    rows.append({**dict.fromkeys(group_cols, "(all)"), **_named(model.overall_)})
    return pd.DataFrame(rows)


def _named(fig: np.ndarray) -> dict:
    return {"p50": fig[0], "p90": fig[1], "mean": fig[2], "n": int(fig[4])}


# --- durations conditional on features ----------------------------------------------------

# Below this many rows the boosting is not fitted: the group figures alone are used.
MIN_ROWS_FOR_BOOSTING = 60
# Split-conformal calibration needs at least this many held-out rows to move the P90.
MIN_CALIBRATION_ROWS = 30
# HistGradientBoosting accepts at most this many categories per feature; rarer ones are unknown.
MAX_CATEGORIES = 250
# The boosting learns from at most this many rows (a seeded random sample, so every season stays
# in it); the group figures and the calibration still use every row. On the default demo's lead
# times (37,000 rows fitted, the latest 6,600 tested) the sample gave a P50 MAE of 0.896 days
# and a calibrated P90 covering 88.7 %, against 0.893 and 87.7 % with every row.
MAX_FIT_ROWS = 20_000


class ConditionalDurations(RegressorMixin, BaseEstimator):
    """P50 and calibrated P90 of a duration given its group and other features.

    ``X`` is a frame with the columns named by ``group_cols`` (nested, coarse to fine, as in
    :class:`DurationDistribution`), ``categorical_cols`` (route, region, carrier...),
    ``numeric_cols`` (order size, quoted days...) and ``date_col`` (the start: month and
    weekday are derived from it, and it orders the rows in time). Any of them may be missing
    at prediction time; ``optional_cols`` names those that are often unknown when a date is
    promised (the carrier before one is booked, the size of an order not yet drafted): during
    fitting, a share ``mask_share`` of rows has them blanked, so the boosting learns what to
    predict without them instead of guessing a branch.

    Each quantile is a blend ``w * boosted + (1 - w) * group figure`` with
    ``w = n / (n + shrinkage)``, ``n`` the rows of the row's finest known group: a group with
    a handful of rows keeps its (already shrunk) group figure. The group figures also enter the
    boosting as features. The late case is split-conformal: a model fitted on the rows before
    the latest ``calibration_share`` (by ``date_col``) predicts those rows, and its P90 is
    shifted by the conformal quantile of ``actual - P90`` there; that model and shift give
    every later P90. (A shift learned for one model does not carry over to a refit: on real
    flight times a refit plus the same shift covered 78 % instead of 90 %.) The P50 comes from
    a model refitted on every row, so the likely date uses the most recent history; that refit
    learns no P90 of its own when the calibrated one replaces it.

    Long histories are sampled: the boosting sees at most ``max_fit_rows`` rows (a seeded
    random sample of the rows it is fitted on, ``None`` for all); group figures use every row.
    """

    def __init__(
        self,
        group_cols: tuple[str, ...] = ("group",),
        categorical_cols: tuple[str, ...] = (),
        numeric_cols: tuple[str, ...] = (),
        date_col: str | None = None,
        optional_cols: tuple[str, ...] = (),
        mask_share: float = 0.2,
        shrinkage: float = 5.0,
        coverage: float = 0.9,
        calibration_share: float = 0.2,
        max_iter: int = 100,
        learning_rate: float = 0.08,
        min_samples_leaf: int = 20,
        max_fit_rows: int | None = MAX_FIT_ROWS,
        random_state: int = 0,
    ):
        self.group_cols = group_cols
        self.categorical_cols = categorical_cols
        self.numeric_cols = numeric_cols
        self.date_col = date_col
        self.optional_cols = optional_cols
        self.mask_share = mask_share
        self.shrinkage = shrinkage
        self.coverage = coverage
        self.calibration_share = calibration_share
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.min_samples_leaf = min_samples_leaf
        self.max_fit_rows = max_fit_rows
        self.random_state = random_state

    # fitting ------------------------------------------------------------------------------

    def fit(self, X, y):
        """Fit on a frame of features and durations in days; returns self."""
        if not 0 < self.coverage < 1:
            raise ValueError(f"coverage must lie between 0 and 1, got {self.coverage}")
        if not 0 <= self.calibration_share < 1:
            raise ValueError(f"calibration_share must lie in [0, 1), got {self.calibration_share}")
        frame = self._frame(X)
        y = np.asarray(y, dtype=float)
        if len(frame) != y.size or y.size == 0:
            raise ValueError("X and y must have the same, non-zero number of rows")
        order = self._time_order(frame)
        frame, y = frame.iloc[order].reset_index(drop=True), y[order]
        n_cal = int(round(y.size * self.calibration_share))
        self.p90_shift_ = 0.0
        self.calibration_ = {"rows": 0}
        self.late_parts_ = None
        if n_cal >= MIN_CALIBRATION_ROWS and y.size - n_cal >= MIN_CALIBRATION_ROWS:
            cut = y.size - n_cal
            early = self._fit_parts(frame.iloc[:cut], y[:cut])
            held = self._predict_parts(early, frame.iloc[cut:])
            actual = y[cut:]
            scores = actual - held["p90"]
            level = min(1.0, np.ceil((n_cal + 1) * self.coverage) / n_cal)
            self.p90_shift_ = float(np.quantile(scores, level, method="higher"))
            self.calibration_ = {
                "rows": int(n_cal),
                "since": str(frame[self.date_col].iloc[cut]) if self.date_col else None,
                "raw_coverage_p90": float(np.mean(actual <= held["p90"])),
                "p90_shift_days": self.p90_shift_,
            }
            self.late_parts_ = early
        # With a calibrated late case, the refit's own P90 would never be used.
        quantiles = ("p50",) if self.late_parts_ is not None else ("p50", "p90")
        self.parts_ = self._fit_parts(frame, y, quantiles)
        self.n_ = int(y.size)
        return self

    def _frame(self, X) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise TypeError("ConditionalDurations needs a DataFrame with named columns")
        return X

    def _time_order(self, frame: pd.DataFrame) -> np.ndarray:
        if self.date_col and self.date_col in frame.columns:
            when = pd.to_datetime(frame[self.date_col], errors="coerce")
            return np.argsort(when.to_numpy(dtype="datetime64[ns]"), kind="stable")
        return np.arange(len(frame))

    def _fit_parts(
        self, frame: pd.DataFrame, y: np.ndarray, quantiles: tuple[str, ...] = ("p50", "p90")
    ) -> dict:
        groups = DurationDistribution(shrinkage=self.shrinkage).fit(
            self._groups(frame), pd.Series(y)
        )
        categories = {}
        for col in self._categorical():
            counts = self._text(frame, col).value_counts()
            categories[col] = list(counts.index[:MAX_CATEGORIES])
        parts = {"groups": groups, "categories": categories, "p50": None, "p90": None}
        if y.size >= MIN_ROWS_FOR_BOOSTING:
            if self.max_fit_rows is not None and y.size > self.max_fit_rows:
                rng = np.random.default_rng(self.random_state)
                keep = np.sort(rng.choice(y.size, self.max_fit_rows, replace=False))
                frame, y = frame.iloc[keep].reset_index(drop=True), y[keep]
            features, mask = self._features(parts, self._blank_optional(frame))
            targets = {"p50": 0.5, "p90": self.coverage}
            for name in quantiles:
                parts[name] = HistGradientBoostingRegressor(
                    loss="quantile",
                    quantile=targets[name],
                    max_iter=self.max_iter,
                    learning_rate=self.learning_rate,
                    min_samples_leaf=self.min_samples_leaf,
                    categorical_features=mask,
                    early_stopping=False,
                    random_state=self.random_state,
                ).fit(features, y)
        return parts

    def _blank_optional(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame with the optional columns blanked on a random share of rows."""
        present = [c for c in self.optional_cols if c in frame.columns]
        if not present or self.mask_share <= 0:
            return frame
        rng = np.random.default_rng(self.random_state)
        blank = rng.random(len(frame)) < self.mask_share
        out = frame.copy()
        for col in present:
            out[col] = out[col].astype(object).where(~blank, None)
        return out

    # features ------------------------------------------------------------------------------

    def _categorical(self) -> list[str]:
        return [*self.group_cols, *self.categorical_cols]

    @staticmethod
    def _text(frame: pd.DataFrame, col: str) -> pd.Series:
        if col not in frame.columns:
            return pd.Series(["(unknown)"] * len(frame), index=frame.index, dtype=object)
        return frame[col].astype(object).where(frame[col].notna(), "(unknown)").astype(str)

    def _groups(self, frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({col: self._text(frame, col) for col in self.group_cols})

    def _features(self, parts: dict, frame: pd.DataFrame) -> tuple[np.ndarray, list[bool]]:
        columns, mask = [], []
        for col in self._categorical():
            known = {c: i for i, c in enumerate(parts["categories"][col])}
            columns.append(self._text(frame, col).map(known).astype(float).to_numpy())
            mask.append(True)
        for col in self.numeric_cols:
            values = (
                pd.to_numeric(frame[col], errors="coerce").astype(float).to_numpy()
                if col in frame.columns
                else np.full(len(frame), np.nan)
            )
            columns.append(values)
            mask.append(False)
        if self.date_col:
            when = (
                pd.to_datetime(frame[self.date_col], errors="coerce")
                if self.date_col in frame.columns
                else pd.Series(pd.NaT, index=frame.index)
            )
            columns.append(when.dt.month.astype(float).to_numpy())
            columns.append(when.dt.day_of_week.astype(float).to_numpy())
            mask += [False, False]
        prior = parts["groups"].predict_distribution(self._groups(frame))
        columns += [prior["p50"].to_numpy(), prior["p90"].to_numpy()]
        mask += [False, False]
        return np.column_stack(columns), mask

    # prediction ----------------------------------------------------------------------------

    def _predict_parts(self, parts: dict, frame: pd.DataFrame) -> pd.DataFrame:
        prior = parts["groups"].predict_distribution(self._groups(frame))
        out = prior.copy()
        if parts["p50"] is not None:
            features, _ = self._features(parts, frame)
            n = prior["n"].to_numpy(dtype=float)
            w = n / (n + self.shrinkage) if self.shrinkage > 0 else np.ones_like(n)
            for name in ("p50", "p90"):
                if parts.get(name) is None:  # a refit without its own P90: the group's
                    continue
                boosted = parts[name].predict(features)
                out[name] = w * boosted + (1 - w) * prior[name].to_numpy()
        out["p90"] = np.maximum(out["p90"], out["p50"])
        return out

    def predict_distribution(self, X) -> pd.DataFrame:
        """P50, calibrated P90, the group's mean, its own n and the group level, per row."""
        return self.predict_calibrated_and_raw(X)[0]

    def predict_raw(self, X) -> pd.DataFrame:
        """P50 and P90 without conformal calibration.

        The P50 is the refit's; the P90 is the boosted one before its shift (from the model
        fitted before the holdout when there was one, else from the refit).
        """
        return self.predict_calibrated_and_raw(X)[1]

    def predict_calibrated_and_raw(self, X) -> tuple[pd.DataFrame, pd.DataFrame]:
        """:meth:`predict_distribution` and :meth:`predict_raw` of the same rows, each model
        predicting once."""
        check_is_fitted(self, "parts_")
        frame = self._frame(X)
        out = self._predict_parts(self.parts_, frame)
        raw = out.copy()
        if self.late_parts_ is not None:
            late = self._predict_parts(self.late_parts_, frame)["p90"].to_numpy()
            out["p90"] = np.maximum(late + self.p90_shift_, out["p50"])
            raw["p90"] = np.maximum(late, raw["p50"])
        out["p50"] = out["p50"].clip(lower=0)
        return out.reset_index(drop=True), raw.reset_index(drop=True)

    def predict(self, X) -> np.ndarray:
        """The P50 of each row."""
        return self.predict_distribution(X)["p50"].to_numpy()
