"""Supplier lead time and carrier transit time as empirical distributions, by group.

A duration (days from PO sent to goods received, or from shipped to delivered) is summarised per
group as P50, P90 and mean. Groups nest: the columns of ``X`` are read left to right as ever
finer levels (supplier, then supplier and category). Each level's figures are shrunk towards
its parent's with weight ``n / (n + shrinkage)``, so a supplier with three receipts borrows most
of its estimate from all suppliers while one with three hundred stands on its own record.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
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
        out = np.empty((keys.shape[0], 6))
        for i, row in enumerate(keys):
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
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.input_tags.allow_nan = True  # an unknown group is a group of its own
        tags.regressor_tags.poor_score = True  # a group summary, not a fit to X's values
        return tags


def lookup(model: DurationDistribution, *keys: object) -> pd.Series:
    """The figures (p50, p90, mean, n, level) of one group, keys given from coarse to fine."""
    names = getattr(model, "feature_names_in_", None)
    row = [[str(k) for k in keys]]
    frame = pd.DataFrame(row, columns=list(names), dtype=object) if names is not None else None
    X = frame if frame is not None else np.array(row, dtype=object)
    return model.predict_distribution(X).iloc[0]


def lookup_many(model: DurationDistribution, keys: list[tuple]) -> pd.DataFrame:
    """:func:`lookup` for many groups at once (one row per key tuple, in order): one prediction
    instead of one per group, which costs a page seconds with thousands of suppliers."""
    names = getattr(model, "feature_names_in_", None)
    rows = [[str(k) for k in key] for key in keys]
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
