"""Backtests of every model on any history table, as functions and as a command line.

    python -m models.backtest demand --history FILE.csv --item-col id --date-col Date \\
        --qty-col Weekly_Sales --freq W --horizon 8 [--origins 3] [--quantiles 0.5,0.9] [--json]
    python -m models.backtest leadtime --history FILE.csv --group-col supplier \\
        --start-col ordered --end-col received
    python -m models.backtest transit --history FILE.csv --group-col carrier \\
        --start-col shipped --end-col delivered [--promised-col promised]
    python -m models.backtest sentiment --history FILE.csv --text-col review \\
        --label-col score --positive great
    python -m models.backtest risk --history FILE.csv --label-col went_on_backorder \\
        [--feature-cols a,b,c] [--time-col date] [--rule-col rule | --available-col available \\
        --reorder-col reorder_point]

Files as they come: ``--wide`` reads one column per period (``Part, Jan-98, Feb-98``);
``--date-format`` fixes the date pattern (else it is guessed, month labels included);
``--count-rows`` counts each row as one unit; ``--where``/``--exclude COL=VALUE`` keep or drop
rows; ``--no-header`` names columns by position (``--text-col 0``); ``--join FILE --join-on
COL`` looks up more columns; ``--group-col`` repeats for nested groups. Identical rows count
(two receipt lines are two units) unless ``--drop-duplicates``. ``--cut DATE`` or
``--split-col`` (train/test) replace the rolling origins by one; ``--scores-out`` and
``--forecasts-out`` write the scores and the P50/P90 forecasts to CSV files.

Demand is evaluated over rolling origins: at each origin every method sees only the history
before it and forecasts the next ``horizon`` periods. MASE, RMSSE and the pinball losses are
scaled per series by the in-sample one-step naive error and averaged over series and origins;
WAPE, bias and RMSE are totals over all of them. Durations are evaluated the same way in time:
each fold's model knows only the durations that had ended before the fold began. Sentiment
compares VADER with a text model trained on the file's first rows (or ``--split-col``'s train
rows), both scored on the rows after them. Exit code 2 means the input could not be used (the
message says why).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from models import metrics
from models.baselines import (
    TSB,
    CrostonSBA,
    MovingAverage,
    SeasonalNaive,
    simple_methods,
)
from models.demand import (
    FREQUENCIES,
    DemandForecaster,
    Panel,
    _row_quantile_and_max,
    period_start,
    to_panel,
)
from models.leadtime import ConditionalDurations, DurationDistribution
from models.sentiment import POSITIVE_FROM, TextSentimentModel, sentiment_scores, tune_cutoff
from models.tabular import (
    InputError,
    Notes,
    clean_demand,
    clean_durations,
    clean_labelled_text,
    column,
    filter_rows,
    join_table,
    melt_wide,
    parse_dates,
    parse_numbers,
    read_table,
    sort_key,
)
from models.threads import add_threads_option, limited_threads

MODEL = "model"
SEASONAL_NAIVE = "seasonal_naive"


def baselines(freq: str) -> dict[str, object]:
    """The simple methods every demand backtest compares against (fresh instances)."""
    season = FREQUENCIES[freq].season
    window = {"D": 28, "W": 4, "M": 3}[freq]
    return {
        SEASONAL_NAIVE: SeasonalNaive(season_length=season),
        f"moving_average_{window}": MovingAverage(window=window),
        "croston_sba": CrostonSBA(),
        "tsb": TSB(),
    }


def forecast_origins(n_periods: int, horizon: int, origins: int, step: int) -> list[int]:
    """Origins (number of history periods) ending with the last full horizon, oldest first."""
    last = n_periods - horizon
    return sorted(o for o in (last - k * step for k in range(origins)) if o >= 2)


def backtest_demand(
    panel: Panel,
    horizon: int,
    origins: int = 3,
    step: int | None = None,
    quantiles: tuple[float, ...] = (0.5, 0.9),
    categories: pd.Series | None = None,
    model_params: dict | None = None,
    *,
    origin_points: list[int] | None = None,
    details: bool = False,
) -> dict:
    """Metrics of Larder's forecast, the global model alone and each simple method over
    rolling origins.

    "model" is :class:`models.demand.DemandForecaster`: per item the global model or a simple
    method, chosen on the item's own periods before the origin, with calibrated quantiles.
    "global_model" is the global model alone (mean only). The simple methods' quantiles add
    their in-sample one-step error quantiles.

    ``origin_points`` fixes the origins (numbers of history periods) instead, for a cut at a
    date. With ``details`` the result also holds ``per_series`` (scores of every series, origin
    and method) and ``forecasts`` (every forecast period with its actual, mean, P50 and P90).
    """
    if horizon < 1:
        raise InputError("horizon must be at least 1")
    if origin_points is not None:
        points = sorted(o for o in origin_points if 2 <= o <= panel.values.shape[1] - 1)
    else:
        points = forecast_origins(panel.values.shape[1], horizon, origins, step or horizon)
    if not points:
        raise InputError(
            f"history has {panel.values.shape[1]} periods, too few for a horizon of {horizon}"
        )
    q_names = [f"p{round(q * 100)}" for q in quantiles]
    scaled = defaultdict(lambda: defaultdict(list))  # method -> metric -> per-series values
    totals = defaultdict(lambda: np.zeros(5))  # |err|, err, |actual|, err^2, cells
    per_series, forecast_rows = [], []
    fallback = 0
    chosen: dict[str, int] = {}
    # Options of the per-item choice travel in model_params beside the global model's own.
    forecaster_params = dict(model_params or {})
    choice = {
        key: forecaster_params.pop(key)
        for key in (
            "refit",
            "combine",
            "top_k",
            "selection_window",
            "use_model",
            "pooled_share",
            "quantile_base",
        )
        if key in forecaster_params
    }
    for origin in points:
        history = panel.values[:, :origin]
        actual = panel.values[:, origin : origin + horizon]
        observed = (~np.isnan(history)).sum(axis=1)
        scored = (observed >= 2) & ~np.isnan(actual).any(axis=1)
        forecaster = DemandForecaster(
            quantiles=quantiles, horizon=horizon, model_params=forecaster_params, **choice
        ).fit(panel.until(origin), categories)
        fallback = int((~forecaster.uses_model_).sum())  # at the last origin
        chosen = forecaster.method_counts()
        fc = forecaster.forecast(horizon, with_candidates=True)
        n = len(panel.items)

        def grid(column: str, fc=fc, n=n) -> np.ndarray:
            return fc[column].to_numpy(dtype=float).reshape(n, horizon)

        forecasts = {MODEL: {"mean": grid("mean"), **{q: grid(q) for q in q_names}}}
        if "global_model" in fc:
            forecasts["global_model"] = {"mean": grid("global_model")}
        for name, method in simple_methods(FREQUENCIES[panel.freq].season, panel.freq).items():
            mean, fitted = method(history, horizon)
            residuals = history - fitted
            out = {"mean": mean}
            has = (~np.isnan(residuals)).any(axis=1)
            for q, q_name in zip(quantiles, q_names, strict=True):
                shift = np.zeros(n)
                if has.any():
                    # np.nanquantile's linear quantile, one sort for every row at once.
                    shift[has] = _row_quantile_and_max(residuals[has], q)[0]
                band = mean + shift[:, None]
                out[q_name] = np.maximum(band, 0.0) if forecaster.nonnegative_ else band
            forecasts[name] = out
        for method, fcs in forecasts.items():
            _score_panel(
                scaled[method], totals[method], actual, history, fcs, scored, quantiles, q_names
            )
            if details:
                _add_details(
                    per_series, forecast_rows, panel, origin, method, fcs, actual, history,
                    scored, quantiles, q_names,
                )  # fmt: skip
    rows = {}
    for method in forecasts:
        row = {
            name: float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")
            for name, vals in ((k, np.asarray(v, dtype=float)) for k, v in scaled[method].items())
        }
        row.update(_totals_row(totals[method]))
        rows[method] = row
    result = {
        "series": len(panel.items),
        "periods": int(panel.values.shape[1]),
        "freq": panel.freq,
        "horizon": horizon,
        "origins": [panel.periods[o].date().isoformat() for o in points],
        "items_on_fallback": fallback,
        "methods": rows,
        "chosen_methods": chosen,
        "improvement_vs_seasonal_naive": _improvement(rows, q_names),
    }
    if details:
        result["per_series"] = per_series
        result["forecasts"] = forecast_rows
    return result


def _totals_row(totals: np.ndarray) -> dict:
    """WAPE, bias (both relative to the total actual) and RMSE from summed errors."""
    abs_err, err, size, sq_err, count = totals
    return {
        "wape": float(abs_err / size) if size else float("nan"),
        "bias": float(err / size) if size else float("nan"),
        "rmse": float(np.sqrt(sq_err / count)) if count else float("nan"),
    }


def _naive_scales(history: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: in-sample mean |one-step naive error| and mean squared one-step naive error."""
    diff = np.diff(history, axis=1)
    known = ~np.isnan(diff)
    count = known.sum(axis=1)
    absolute = np.where(known, np.abs(diff), 0.0).sum(axis=1)
    square = np.where(known, diff**2, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (
            np.where(count > 0, absolute / np.maximum(count, 1), np.nan),
            np.where(count > 0, square / np.maximum(count, 1), np.nan),
        )


def _score_panel(scaled, totals, actual, history, fcs, rows, quantiles, q_names) -> None:
    """Add one origin's per-series measures (rows where ``rows`` is true) for one method.

    Same measures as :mod:`models.metrics` (MASE, RMSSE, scaled pinball, P90 coverage), on
    every series at once; a series whose history never changed has no scale and is skipped.
    """
    mae_scale, mse_scale = _naive_scales(history[rows])
    y = actual[rows]
    mean = fcs["mean"][rows]
    err = y - mean
    ok_mae = mae_scale > 0
    ok_mse = mse_scale > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled["mase"].extend(np.where(ok_mae, np.mean(np.abs(err), axis=1) / mae_scale, np.nan))
        scaled["rmsse"].extend(
            np.where(ok_mse, np.sqrt(np.mean(err**2, axis=1) / mse_scale), np.nan)
        )
        for q, name in zip(quantiles, q_names, strict=True):
            if name not in fcs:
                continue
            diff = y - fcs[name][rows]
            loss = np.mean(np.maximum(q * diff, (q - 1) * diff), axis=1)
            scaled[f"pinball_{name}"].extend(np.where(ok_mae, loss / mae_scale, np.nan))
    if "p90" in fcs:
        scaled["coverage_p90"].extend(np.mean(y <= fcs["p90"][rows], axis=1))
    finite = ~np.isnan(err)
    totals += [
        np.sum(np.abs(err[finite])),
        np.sum(-err[finite]),
        np.sum(np.abs(y[finite])),
        np.sum(err[finite] ** 2),
        finite.sum(),
    ]


def _add_details(
    per_series,
    forecast_rows,
    panel,
    origin,
    method,
    fcs,
    actual,
    history,
    scored,
    quantiles,
    q_names,
) -> None:
    """Every scored series' own measures and every forecast period, for --scores-out/--forecasts-out."""
    origin_day = panel.periods[origin].date().isoformat()
    for i in np.flatnonzero(scored):
        one = np.zeros(len(scored), dtype=bool)
        one[i] = True
        series_scores = defaultdict(list)
        series_totals = np.zeros(5)
        _score_panel(series_scores, series_totals, actual, history, fcs, one, quantiles, q_names)
        per_series.append(
            {
                "series": panel.items[i],
                "origin": origin_day,
                "method": method,
                **{name: float(values[0]) for name, values in series_scores.items()},
                **_totals_row(series_totals),
            }
        )
        for h in range(actual.shape[1]):
            forecast_rows.append(
                {
                    "series": panel.items[i],
                    "origin": origin_day,
                    "period": panel.periods[origin + h].date().isoformat(),
                    "method": method,
                    "actual": float(actual[i, h]),
                    **{name: float(fcs[name][i, h]) for name in ["mean", *q_names] if name in fcs},
                }
            )


def _improvement(rows: dict, q_names: list[str]) -> dict[str, float]:
    """How much lower the model's error is than seasonal naive's (0.25 = 25 % lower)."""
    if MODEL not in rows or SEASONAL_NAIVE not in rows:
        return {}
    out = {}
    for name in ["rmsse", "mase", *(f"pinball_{q}" for q in q_names)]:
        ours, theirs = rows[MODEL].get(name), rows[SEASONAL_NAIVE].get(name)
        if ours is not None and theirs:
            out[name] = float(1 - ours / theirs)
    return out


def duration_folds(
    frame: pd.DataFrame, folds: int, holdout: float
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Time windows of start dates to test, covering the last ``holdout`` share of history."""
    begin = frame["start"].quantile(1 - holdout)
    end = frame["start"].max() + pd.Timedelta(seconds=1)
    edges = pd.date_range(begin, end, periods=folds + 1)
    return list(zip(edges[:-1], edges[1:], strict=True))


def backtest_durations(
    frame: pd.DataFrame,
    folds: int = 4,
    holdout: float = 0.3,
    shrinkage: float = 5.0,
    features: dict | None = None,
    model_params: dict | None = None,
    *,
    cut: pd.Timestamp | None = None,
    split: pd.Series | None = None,
    details: bool = False,
) -> dict:
    """MAE and bias of the P50 and coverage of the P90 of each method, tested forward in time.

    Methods: the per-group distribution (its P50 is the group's shrunk median), no grouping,
    and, when ``frame`` has feature columns or a promised date, the conditional quantile model
    (:class:`~models.leadtime.ConditionalDurations`) with its P90 raw and calibrated, and the
    quoted time itself (the promised date read as its end of day). ``features`` names columns
    of ``frame``: ``{"categorical": [...], "numeric": [...], "optional": [...]}``.

    Columns ``level_0``, ``level_1``, ... (nested groups, coarsest first) are used as the
    grouped model's levels when present, else ``group``. ``cut`` makes one fold instead:
    durations that ended before it train, those that started on or after it are tested.
    ``split`` (one value per row, "train" or "test") makes one fold of exactly those rows. With
    ``details`` the result holds ``predictions``: every tested row with its P50 and P90.
    """
    features = {k: list(v) for k, v in (features or {}).items()}
    frame = frame.copy()
    has_promise = "promised" in frame.columns and frame["promised"].notna().any()
    numeric = list(features.get("numeric", []))
    if has_promise:
        frame["quoted_days"] = (frame["promised"] - frame["start"].dt.normalize()).dt.days
        numeric.append("quoted_days")
    categorical = list(features.get("categorical", []))
    use_features = bool(numeric or categorical)
    levels = [c for c in frame.columns if c.startswith("level_")] or ["group"]
    if split is not None:
        which = pd.Series(split).astype("string").str.strip().str.lower().to_numpy()
        odd = sorted({str(v) for v in which} - {"train", "test"})
        if odd:
            raise InputError(f"the split column must hold train or test; found {odd[:5]}")
        folds_rows = [(frame[which == "train"], frame[which == "test"])]
    else:
        windows = (
            [(pd.Timestamp(cut), frame["start"].max() + pd.Timedelta(seconds=1))]
            if cut is not None
            else duration_folds(frame, folds, holdout)
        )
        folds_rows = [
            # only durations that had ended by the window's start are known
            (frame[frame["end"] < lo], frame[(frame["start"] >= lo) & (frame["start"] < hi)])
            for lo, hi in windows
        ]
    predictions = []
    for known, test in folds_rows:
        if known.empty or test.empty:
            continue
        grouped = DurationDistribution(shrinkage=shrinkage).fit(known[levels], known["days"])
        overall = DurationDistribution().fit(np.zeros((len(known), 1)), known["days"])
        dist = grouped.predict_distribution(test[levels])
        flat = overall.predict_distribution(np.zeros((len(test), 1)))
        scored = pd.DataFrame(
            {
                "group": test["group"].to_numpy(),
                "start": test["start"].to_numpy(),
                "actual": test["days"].to_numpy(),
                "p50": dist["p50"].to_numpy(),
                "p90": dist["p90"].to_numpy(),
                "overall_p50": flat["p50"].to_numpy(),
                "overall_p90": flat["p90"].to_numpy(),
            }
        )
        if use_features:
            model = ConditionalDurations(
                group_cols=("group",),
                categorical_cols=tuple(categorical),
                numeric_cols=tuple(numeric),
                date_col="start",
                optional_cols=tuple(features.get("optional", [])),
                shrinkage=shrinkage,
                **(model_params or {}),
            ).fit(known, known["days"])
            cal, raw = model.predict_calibrated_and_raw(test)
            scored["feat_p50"] = cal["p50"].to_numpy()
            scored["feat_p90"] = cal["p90"].to_numpy()
            scored["feat_raw_p90"] = raw["p90"].to_numpy()
        if has_promise:
            quoted = (
                test["promised"] + pd.Timedelta(days=1) - test["start"]
            ).dt.total_seconds() / 86400
            scored["quoted"] = quoted.to_numpy()
        predictions.append(scored)
    if not predictions:
        raise InputError(
            "not enough history for a time-split backtest (need completed durations before the test folds)"
        )
    scored = pd.concat(predictions, ignore_index=True)
    result = {
        "rows_tested": len(scored),
        "folds": len(predictions),
        "rmse_days": float(np.sqrt(np.mean((scored["p50"] - scored["actual"]) ** 2))),
        "by_group": _duration_summary(scored, "p50", "p90"),
        "no_grouping": _duration_summary(scored, "overall_p50", "overall_p90"),
        "groups": [
            {"group": g, **_duration_summary(part, "p50", "p90")}
            for g, part in sorted(scored.groupby("group"), key=lambda gp: -len(gp[1]))
        ],
    }
    if use_features:
        result["features"] = {"categorical": categorical, "numeric": numeric}
        result["with_features"] = _duration_summary(scored, "feat_p50", "feat_p90")
        result["with_features_raw_p90"] = _duration_summary(scored, "feat_p50", "feat_raw_p90")
        for row in result["groups"]:
            part = scored[scored["group"] == row["group"]]
            row["features_mae_days"] = metrics.mae(part["actual"], part["feat_p50"])
            row["features_coverage_p90"] = metrics.coverage(part["actual"], part["feat_p90"])
    if has_promise and "quoted" in scored.columns:
        quoted = scored.dropna(subset=["quoted"])
        if len(quoted):
            result["quoted"] = _duration_summary(quoted, "quoted", "quoted")
    if "promised" in frame.columns:
        with_promise = frame.dropna(subset=["promised"])
        on_time = with_promise["end"].dt.normalize() <= with_promise["promised"].dt.normalize()
        result["on_time_rate"] = float(on_time.mean()) if len(on_time) else float("nan")
        rates = on_time.groupby(with_promise["group"]).mean()
        for row in result["groups"]:
            row["on_time_rate"] = float(rates.get(row["group"], float("nan")))
    if details:
        result["predictions"] = scored
    return result


def duration_feature_kinds(frame: pd.DataFrame, columns: list[str]) -> dict:
    """Which feature columns are numbers (9 in 10 filled values parse) and which categories."""
    kinds = {"categorical": [], "numeric": []}
    for col in columns:
        text = frame[col]
        numbers = parse_numbers(text)
        filled = text.notna() & (text.astype("string").str.strip() != "")
        if filled.any() and numbers[filled].notna().mean() >= 0.9:
            frame[col] = numbers
            kinds["numeric"].append(col)
        else:
            kinds["categorical"].append(col)
    return kinds


def _duration_summary(scored: pd.DataFrame, p50: str, p90: str) -> dict:
    return {
        "n": len(scored),
        "mae_days": metrics.mae(scored["actual"], scored[p50]),
        "rmse_days": float(np.sqrt(np.mean((scored[p50] - scored["actual"]) ** 2))),
        "bias_days": float(np.mean(scored[p50] - scored["actual"])),
        "coverage_p90": metrics.coverage(scored["actual"], scored[p90]),
    }


def backtest_sentiment(
    frame: pd.DataFrame,
    positive: str,
    *,
    split: pd.Series | None = None,
    test_share: float = 0.2,
    train_model: bool = True,
    max_train_rows: int | None = None,
    model_params: dict | None = None,
) -> dict:
    """VADER and a text model trained on the same file, scored on rows neither tuned on.

    The rows are split in the frame's order (sort it first by an id or date): the first
    ``1 - test_share`` train, the rest are held out; or ``split`` names each row "train" or
    "test". VADER is scored with its usual cut-off and with one tuned on the training rows; the
    text model (:class:`models.sentiment.TextSentimentModel`) learns from the training rows and
    tunes its cut-off on them by cross-validation. Accuracy and macro-F1 are of the held-out rows.
    """
    truth = frame["label"].str.lower().eq(positive.strip().lower()).to_numpy()
    if not truth.any():
        labels = ", ".join(sorted(frame["label"].unique())[:10])
        raise InputError(f"no row has the positive label {positive!r}; labels are: {labels}")
    scores = sentiment_scores(frame["text"])
    if split is not None:
        which = split.astype("string").str.strip().str.lower().to_numpy()
        unknown = sorted(set(which) - {"train", "test"} - {None})
        if unknown or pd.isna(which).any():
            raise InputError(
                "--split-col must say 'train' or 'test' in every row; found "
                + ", ".join(map(repr, unknown or ["an empty value"]))
            )
        train, how = which == "train", "by the split column"
    else:
        if not 0 < test_share < 1:
            raise InputError(f"--test-share must lie between 0 and 1, got {test_share}")
        cut = int(round(len(frame) * (1 - test_share)))
        train = np.arange(len(frame)) < cut
        how = f"first {1 - test_share:.0%} of rows in order train, last {test_share:.0%} held out"
    test = ~train
    if not test.any() or not train.any():
        raise InputError("the split leaves no training or no held-out rows")
    train_idx = np.flatnonzero(train)
    if max_train_rows and train_idx.size > max_train_rows:
        train_idx = train_idx[-max_train_rows:]  # the most recent training rows
    grid = np.round(np.arange(-0.5, 0.96, 0.05), 2)
    tuned = tune_cutoff(truth[train_idx], scores[train_idx], grid)
    held_out = [
        _classification(f"VADER cut-off {POSITIVE_FROM}", truth[test], scores[test], POSITIVE_FROM),
        _classification(
            f"VADER cut-off {tuned:.2f} tuned on training rows", truth[test], scores[test], tuned
        ),
    ]
    model_note = None
    if train_model:
        try:
            model = TextSentimentModel(**(model_params or {})).fit(
                frame["text"].iloc[train_idx], truth[train_idx]
            )
        except ValueError as exc:
            model_note = f"text model not trained: {exc}"
        else:
            probabilities = model.probabilities(frame["text"][test])
            held_out.append(
                _classification(
                    f"text model, cut-off {model.cutoff_:.2f} tuned on training rows",
                    truth[test],
                    probabilities,
                    model.cutoff_,
                )
            )
    result = {
        "rows": len(frame),
        "positive_label": positive,
        "positive_share": float(truth.mean()),
        "mean_score": {
            str(label): float(scores[(frame["label"] == label).to_numpy()].mean())
            for label in sorted(frame["label"].unique())
        },
        "cutoffs": [
            _classification(f"VADER usual cut-off {POSITIVE_FROM}", truth, scores, POSITIVE_FROM),
        ],
        "split": how,
        "train_rows": int(train_idx.size),
        "test_rows": int(test.sum()),
        "test_positive_share": float(truth[test].mean()),
        "held_out": held_out,
    }
    if model_note:
        result["model_note"] = model_note
    return result


def _classification(name: str, truth: np.ndarray, scores: np.ndarray, cutoff: float) -> dict:
    predicted = scores >= cutoff
    return {
        "rule": name,
        "rows": int(truth.size),
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(f1_score(truth, predicted, average="macro")),
    }


# --- command line ---------------------------------------------------------------------------


def format_table(rows: list[dict], columns: list[str]) -> str:
    """A plain aligned text table."""

    def cell(value) -> str:
        if isinstance(value, float):
            return "nan" if np.isnan(value) else f"{value:.3f}"
        return str(value)

    body = [[cell(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(b[i]) for b in body)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for b in body:
        lines.append(
            "  ".join(
                v.ljust(w) if i == 0 else v.rjust(w)
                for i, (v, w) in enumerate(zip(b, widths, strict=True))
            )
        )
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m models.backtest", description="Backtest Larder's models on any CSV history."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demand = sub.add_parser("demand", help="demand model vs baselines over rolling origins")
    demand.add_argument("--item-col", required=True)
    demand.add_argument("--date-col", help="the date column (not with --wide)")
    demand.add_argument("--qty-col", help="the quantity column (not with --count-rows or --wide)")
    demand.add_argument(
        "--wide",
        action="store_true",
        help="one column per period (Part, Jan-98, Feb-98, ...): every column whose header "
        "reads as a date is a period",
    )
    demand.add_argument(
        "--count-rows",
        action="store_true",
        help="each row is one unit sold (receipt lines without a quantity column)",
    )
    demand.add_argument("--category-col", help="one group column (same as one --group-col)")
    demand.add_argument("--freq", choices=sorted(FREQUENCIES), default="W")
    demand.add_argument(
        "--horizon", type=int, help="periods to forecast (default with --cut: all after it)"
    )
    demand.add_argument("--origins", type=int, default=3)
    demand.add_argument("--step", type=int, help="periods between origins (default: horizon)")
    demand.add_argument("--quantiles", default="0.5,0.9")
    demand.add_argument("--max-iter", type=int, default=150, help="boosting iterations")
    demand.add_argument("--cut", help="one origin at this date: history before it, test after")
    demand.add_argument(
        "--split-col", help="a column saying 'train' or 'test'; the test rows start the cut"
    )
    demand.add_argument(
        "--forecasts-out", help="write every forecast (mean, P50, P90 with the actual) to a CSV"
    )

    for name, help_text in (
        ("leadtime", "supplier lead time distribution by group (MAE, bias, P90 coverage)"),
        ("transit", "carrier transit time distribution by group (MAE, bias, P90 coverage)"),
    ):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--start-col", required=True)
        cmd.add_argument("--end-col", required=True)
        cmd.add_argument("--promised-col")
        cmd.add_argument("--folds", type=int, default=4)
        cmd.add_argument("--holdout", type=float, default=0.3)
        cmd.add_argument("--shrinkage", type=float, default=5.0)
        cmd.add_argument("--cut", help="one fold: ended before this date train, started after test")
        cmd.add_argument("--split-col", help="one fold: a column saying 'train' or 'test'")
        cmd.add_argument(
            "--forecasts-out",
            help="write every tested row's P50 and P90 (with the actual) to a CSV",
        )
        cmd.add_argument(
            "--feature-cols",
            help="comma-separated columns the conditional model learns from besides the group "
            "(route, region, order size...); numbers where they parse, categories otherwise",
        )

    # --- risk: any labelled table, classifier against the reorder rule ---
    risk = sub.add_parser("risk", help="backorder classifier vs the reorder rule (ROC-AUC, PR-AUC)")
    risk.add_argument("--label-col", required=True, help="0/1, yes/no or true/false")
    risk.add_argument("--feature-cols", help="comma-separated (default: every other column)")
    risk.add_argument("--time-col", help="orders the rows; the latest share is the test set")
    risk.add_argument("--rule-col", help="the rule's 0/1 verdict or a score (higher = riskier)")
    risk.add_argument("--available-col", help="with --reorder-col: rule = available < reorder")
    risk.add_argument("--reorder-col")
    risk.add_argument("--test-share", type=float, default=0.3)
    risk.add_argument("--max-iter", type=int, default=200, help="boosting iterations")

    senti = sub.add_parser("sentiment", help="VADER and a trained text model on labelled texts")
    senti.add_argument("--text-col", required=True)
    senti.add_argument("--label-col", required=True)
    senti.add_argument("--positive", required=True, help="the label value meaning positive")
    senti.add_argument(
        "--order-col", help="sort rows by this column (an id or date) before the ordered split"
    )
    senti.add_argument("--split-col", help="a column saying 'train' or 'test' for each row")
    senti.add_argument(
        "--test-share", type=float, default=0.2, help="held-out share at the end (default 0.2)"
    )
    senti.add_argument("--max-train-rows", type=int, help="train on at most the last N rows")
    senti.add_argument("--vader-only", action="store_true", help="do not train the text model")

    for name, cmd in sub.choices.items():
        cmd.add_argument("--history", required=True, help="the CSV (or TSV) file")
        cmd.add_argument(
            "--no-header",
            action="store_true",
            help="the file has no header line; name columns by position (0, 1, ...)",
        )
        cmd.add_argument("--sep", help="the delimiter (default: guessed; 'tab' for a tab)")
        if name not in ("sentiment", "risk"):
            cmd.add_argument(
                "--group-col",
                action="append",
                default=[],
                required=name != "demand",
                help="a group column; repeat for nested groups, coarsest first",
            )
            cmd.add_argument(
                "--date-format",
                help="strftime pattern of the dates, e.g. %%d-%%b-%%y (default: guessed)",
            )
        cmd.add_argument(
            "--where", action="append", default=[], help="keep rows where COL=VALUE (repeatable)"
        )
        cmd.add_argument(
            "--exclude", action="append", default=[], help="drop rows where COL=VALUE (repeatable)"
        )
        cmd.add_argument(
            "--drop-duplicates",
            action="store_true",
            help="drop rows identical to an earlier one (by default each counts)",
        )
        cmd.add_argument("--join", help="a second CSV whose columns are looked up by --join-on")
        cmd.add_argument("--join-on", help="the key column shared by --history and --join")
        cmd.add_argument("--scores-out", help="write the scores (overall and per series) to a CSV")
        cmd.add_argument("--json", action="store_true", help="print the result as JSON")
        add_threads_option(cmd)
    return parser


def _quantiles(text: str) -> tuple[float, ...]:
    try:
        values = tuple(sorted(float(v) for v in text.split(",") if v.strip()))
    except ValueError as exc:
        raise InputError(f"--quantiles must be numbers like 0.5,0.9, got {text!r}") from exc
    if not values or any(not 0 < v < 1 for v in values):
        raise InputError(f"--quantiles must lie strictly between 0 and 1, got {text!r}")
    return values


def _read(args: argparse.Namespace, notes: Notes) -> pd.DataFrame:
    """The input table after --no-header/--sep, --join and --where/--exclude."""
    sep = {"tab": "\t", "\\t": "\t"}.get(args.sep, args.sep) if args.sep else None
    frame = read_table(args.history, header=not args.no_header, sep=sep)
    if bool(args.join) != bool(args.join_on):
        raise InputError("--join and --join-on go together")
    if args.join:
        other = read_table(args.join, header=not args.no_header, sep=sep)
        frame = join_table(frame, other, args.join_on, notes)
    if args.where or args.exclude:
        frame = filter_rows(frame, args.where, args.exclude, notes)
    return frame


def _timestamp(text: str, option: str) -> pd.Timestamp:
    dates, _ = parse_dates(pd.Series([text]))
    if pd.isna(dates.iloc[0]):
        raise InputError(f"{option} {text!r} is not a date")
    return pd.Timestamp(dates.iloc[0])


def _write_csv(rows: list[dict] | pd.DataFrame, path: str, notes: list[str], what: str) -> None:
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    try:
        frame.to_csv(path, index=False)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc}") from exc
    notes.append(f"wrote {len(frame)} rows of {what} to {path}")


def _run_demand(args: argparse.Namespace, frame: pd.DataFrame, notes: Notes) -> tuple[dict, list]:
    quantiles = _quantiles(args.quantiles)
    groups = [*([args.category_col] if args.category_col else []), *args.group_col]
    groups = [column(frame, g) for g in groups]
    split_col = column(frame, args.split_col) if args.split_col else None
    if args.cut and split_col:
        raise InputError("give --cut or --split-col, not both")
    if args.wide:
        keep = [args.item_col, *groups, *([split_col] if split_col else [])]
        frame = melt_wide(frame, keep, notes, args.date_format)
        date_col, qty_col = "date", "qty"
    else:
        if not args.date_col:
            raise InputError("--date-col is needed (or --wide for one column per period)")
        if not args.qty_col and not args.count_rows:
            raise InputError("--qty-col is needed (or --count-rows when each row is one unit)")
        date_col, qty_col = args.date_col, args.qty_col
    if args.wide and args.count_rows:
        raise InputError("--count-rows does not go with --wide (the cells are the quantities)")
    clean, cleaning = clean_demand(
        frame,
        args.item_col,
        date_col,
        qty_col,
        date_format=args.date_format,
        count_rows=args.count_rows,
        drop_duplicate_rows=args.drop_duplicates,
        keep_cols=[*groups, *([split_col] if split_col else [])],
    )
    notes.lines.extend(cleaning.lines)
    categories = None
    if groups:
        label = clean[groups[0]]
        for g in groups[1:]:
            label = label + " / " + clean[g]
        categories = label.groupby(clean["item"]).first()
    panel = to_panel(clean, args.freq)
    origin_points, horizon = None, args.horizon
    cut = None
    if args.cut:
        cut = _timestamp(args.cut, "--cut")
    elif split_col:
        which = clean[split_col].astype("string").str.strip().str.lower()
        if not which.isin(["train", "test"]).all():
            odd = sorted(set(which.dropna()) - {"train", "test"})[:5]
            raise InputError(f"--split-col {split_col!r} must hold train or test; found {odd}")
        if not (which == "test").any():
            raise InputError(f"--split-col {split_col!r} has no 'test' rows")
        cut = clean.loc[which == "test", "date"].min()
        late = int(((which == "train") & (clean["date"] >= cut)).sum())
        notes.add(late, "{n} 'train' rows fall after the first 'test' date (scored as test)")
    if cut is not None:
        origin = int((panel.periods < period_start(pd.DatetimeIndex([cut]), args.freq)[0]).sum())
        after = len(panel.periods) - origin
        if origin < 2 or after < 1:
            raise InputError(
                f"the cut {cut.date()} leaves {origin} periods before and {after} after it; "
                "need at least 2 before and 1 after"
            )
        horizon = min(horizon or after, after)
        origin_points = [origin]
        begins = panel.periods[origin].date()
        notes.lines.append(
            f"cut at {cut.date()}"
            + (f" (in the period that begins {begins})" if begins != cut.date() else "")
            + f": {origin} periods of history, {horizon} tested from it"
        )
    if not horizon:
        raise InputError("--horizon is needed (or --cut / --split-col to test after a date)")
    result = backtest_demand(
        panel,
        horizon,
        args.origins,
        args.step,
        quantiles,
        categories,
        model_params={"max_iter": args.max_iter},
        origin_points=origin_points,
        details=bool(args.scores_out or args.forecasts_out),
    )
    per_series = result.pop("per_series", [])
    forecasts = result.pop("forecasts", [])
    written: list[str] = []
    if args.scores_out:
        overall = [
            {"series": "(all)", "origin": "(all)", "method": m, **row}
            for m, row in result["methods"].items()
        ]
        rows = pd.DataFrame(overall + per_series)
        if categories is not None:
            rows.insert(1, "group", rows["series"].map(categories).fillna(""))
        _write_csv(rows, args.scores_out, written, "scores")
    if args.forecasts_out:
        _write_csv(forecasts, args.forecasts_out, written, "forecasts")
    return result, notes.lines + written


def run(args: argparse.Namespace) -> tuple[dict, list[str]]:
    """Run one backtest from parsed arguments: (result, notes on the input)."""
    notes = Notes()
    frame = _read(args, notes)
    if args.command == "demand":
        return _run_demand(args, frame, notes)
    written: list[str] = []
    if args.command in ("leadtime", "transit"):
        wanted = [c.strip() for c in (args.feature_cols or "").split(",") if c.strip()]
        clean, cleaning = clean_durations(
            frame,
            args.group_col,
            args.start_col,
            args.end_col,
            args.promised_col,
            date_format=args.date_format,
            drop_duplicate_rows=args.drop_duplicates,
            keep_cols=[args.split_col] if args.split_col else [],
            feature_cols=wanted,
        )
        notes.lines.extend(cleaning.lines)
        features = duration_feature_kinds(clean, wanted)
        if args.cut and args.split_col:
            raise InputError("give --cut or --split-col, not both")
        cut = _timestamp(args.cut, "--cut") if args.cut else None
        split = clean[column(frame, args.split_col)] if args.split_col else None
        result = backtest_durations(
            clean,
            args.folds,
            args.holdout,
            args.shrinkage,
            features,
            cut=cut,
            split=split,
            details=bool(args.forecasts_out),
        )
        predictions = result.pop("predictions", None)
        if args.scores_out:
            overall = [
                {"group": "(all, by group)", **result["by_group"]},
                {"group": "(all, no grouping)", **result["no_grouping"]},
            ]
            _write_csv(overall + result["groups"], args.scores_out, written, "scores")
        if args.forecasts_out:
            _write_csv(predictions, args.forecasts_out, written, "forecasts")
        return result, notes.lines + written
    if args.command == "risk":
        from models.risk import backtest_table

        columns = [c.strip() for c in (args.feature_cols or "").split(",") if c.strip()]
        result, risk_notes = backtest_table(
            frame,
            args.label_col,
            columns or None,
            args.time_col,
            args.rule_col,
            args.available_col,
            args.reorder_col,
            args.test_share,
            args.max_iter,
        )
        return result, notes.lines + list(risk_notes)
    keep = [c for c in (args.order_col, args.split_col) if c]
    clean, cleaning = clean_labelled_text(
        frame,
        args.text_col,
        args.label_col,
        drop_duplicate_rows=args.drop_duplicates,
        keep_cols=keep,
    )
    notes.lines.extend(cleaning.lines)
    if args.order_col:
        order = column(frame, args.order_col)
        position = sort_key(clean[order]).sort_values(kind="stable", na_position="last").index
        clean = clean.loc[position].reset_index(drop=True)
        notes.lines.append(f"sorted rows by {order!r} before the split")
    result = backtest_sentiment(
        clean,
        args.positive,
        split=clean[column(frame, args.split_col)] if args.split_col else None,
        test_share=args.test_share,
        train_model=not args.vader_only,
        max_train_rows=args.max_train_rows,
    )
    if args.scores_out:
        _write_csv(result["cutoffs"] + result["held_out"], args.scores_out, written, "scores")
    return result, notes.lines + written


def render(command: str, result: dict) -> str:
    """The human-readable report of a backtest result."""
    if command == "demand":
        cols = [
            c for c in next(iter(result["methods"].values())) if c not in ("wape", "bias", "rmse")
        ]
        rows = [{"method": m, **r} for m, r in result["methods"].items()]
        lines = [
            f"{result['series']} series, {result['periods']} periods ({result['freq']}), horizon {result['horizon']}, "
            f"origins {', '.join(result['origins'])}; {result['items_on_fallback']} series served mainly by a simple method at the last origin",
            format_table(
                rows,
                [
                    "method",
                    "mase",
                    "rmsse",
                    "rmse",
                    "wape",
                    "bias",
                    *[c for c in cols if c not in ("mase", "rmsse")],
                ],
            ),
        ]
        if result.get("chosen_methods"):
            lines.append(
                "methods serving the series at the last origin: "
                + ", ".join(f"{k} {v}" for k, v in result["chosen_methods"].items())
            )
        if result["improvement_vs_seasonal_naive"]:
            lines.append(
                "model vs seasonal naive: "
                + ", ".join(
                    f"{k} {v:+.1%} better" if v >= 0 else f"{k} {-v:.1%} worse"
                    for k, v in result["improvement_vs_seasonal_naive"].items()
                )
            )
        return "\n".join(lines)
    if command in ("leadtime", "transit"):
        head = f"{result['rows_tested']} durations tested over {result['folds']} time folds (days)"
        summary = [
            {"model": "by group (shrunk)", **result["by_group"]},
            {"model": "no grouping", **result["no_grouping"]},
        ]
        if "with_features" in result:
            summary.insert(0, {"model": "features, P90 raw", **result["with_features_raw_p90"]})
            summary.insert(0, {"model": "features, P90 calibrated", **result["with_features"]})
        if "quoted" in result:
            summary.append({"model": "quoted time", **result["quoted"]})
        cols = ["n", "mae_days", "rmse_days", "bias_days", "coverage_p90"]
        lines = [head, format_table(summary, ["model", *cols])]
        if "on_time_rate" in result:
            lines.append(
                f"on-time rate (delivered by the promised date): {result['on_time_rate']:.1%}"
            )
            cols = [*cols, "on_time_rate"]
        if "with_features" in result:
            kinds = result["features"]
            lines.append(
                "features: "
                + ", ".join([*(f"{c} (category)" for c in kinds["categorical"]), *kinds["numeric"]])
                + ", month and weekday of the start; P90 calibrated on each fold's latest rows"
            )
            cols = [*cols, "features_mae_days", "features_coverage_p90"]
        lines.append("")
        lines.append(format_table(result["groups"][:15], ["group", *cols]))
        return "\n".join(lines)
    if command == "risk":
        rows = [{"method": "classifier", **result["model"]}]
        if "rule" in result:
            rows.append({"method": f"rule: {result['rule_name']}", **result["rule"]})
        rows.append(
            {
                "method": "no skill (PR-AUC = positive share)",
                "roc_auc": 0.5,
                "pr_auc": result["test_positive_share"],
            }
        )
        since = f" from {result['test_from']}" if "test_from" in result else ""
        kinds = result["features"]
        return "\n".join(
            [
                f"{result['rows']} rows: trained on the first {result['train_rows']}, tested on "
                f"the latest {result['test_rows']}{since} "
                f"({result['test_positive_share']:.1%} positive)",
                "features: "
                + ", ".join(
                    [*kinds["numeric"], *(f"{c} (category)" for c in kinds["categorical"])]
                ),
                format_table(rows, ["method", "roc_auc", "pr_auc"]),
            ]
        )
    lines = [
        f"{result['rows']} texts, positive label {result['positive_label']!r} ({result['positive_share']:.1%} of rows)",
        format_table(result["cutoffs"], ["rule", "rows", "accuracy", "macro_f1"]),
        "mean score per class: "
        + ", ".join(f"{k} {v:+.3f}" for k, v in result["mean_score"].items()),
        "",
        f"held out ({result['split']}): {result['train_rows']} rows to train, "
        f"{result['test_rows']} to score",
        format_table(result["held_out"], ["rule", "rows", "accuracy", "macro_f1"]),
    ]
    if result.get("model_note"):
        lines.append(result["model_note"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        with limited_threads(args.threads):
            result, notes = run(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"notes": notes, **result}, indent=2, default=str))
    else:
        for note in notes:
            print(f"note: {note}")
        print(render(args.command, result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
