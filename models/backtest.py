"""Backtests of every model on any history table, as functions and as a command line.

    python -m models.backtest demand --history FILE.csv --item-col id --date-col Date \\
        --qty-col Weekly_Sales --freq W --horizon 8 [--origins 3] [--quantiles 0.5,0.9] [--json]
    python -m models.backtest leadtime --history FILE.csv --group-col supplier \\
        --start-col ordered --end-col received
    python -m models.backtest transit --history FILE.csv --group-col carrier \\
        --start-col shipped --end-col delivered [--promised-col promised]
    python -m models.backtest sentiment --history FILE.csv --text-col review \\
        --label-col score --positive great

Demand is evaluated over rolling origins: at each origin every method sees only the history
before it and forecasts the next ``horizon`` periods. MASE, RMSSE and the pinball losses are
scaled per series by the in-sample one-step naive error and averaged over series and origins;
WAPE and bias are totals over all of them. Durations are evaluated the same way in time: each
fold's model knows only the durations that had ended before the fold began. Exit code 2 means
the input could not be used (the message says why).
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
from models.baselines import TSB, CrostonSBA, MovingAverage, SeasonalNaive, simple_methods
from models.demand import FREQUENCIES, DemandForecaster, Panel, to_panel
from models.leadtime import DurationDistribution
from models.sentiment import POSITIVE_FROM, sentiment_scores
from models.tabular import (
    InputError,
    clean_demand,
    clean_durations,
    clean_labelled_text,
    read_table,
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
) -> dict:
    """Metrics of Larder's forecast, the global model alone and each simple method over
    rolling origins.

    "model" is :class:`models.demand.DemandForecaster`: per item the global model or a simple
    method, chosen on the item's own periods before the origin, with calibrated quantiles.
    "global_model" is the global model alone (mean only). The simple methods' quantiles add
    their in-sample one-step error quantiles.
    """
    if horizon < 1:
        raise InputError("horizon must be at least 1")
    points = forecast_origins(panel.values.shape[1], horizon, origins, step or horizon)
    if not points:
        raise InputError(
            f"history has {panel.values.shape[1]} periods, too few for a horizon of {horizon}"
        )
    q_names = [f"p{round(q * 100)}" for q in quantiles]
    scaled = defaultdict(lambda: defaultdict(list))  # method -> metric -> per-series values
    totals = defaultdict(lambda: np.zeros(5))  # |err|, err, |actual|, err^2, cells
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
            for q, q_name in zip(quantiles, q_names, strict=True):
                shift = np.zeros(n)
                has = (~np.isnan(residuals)).any(axis=1)
                if has.any():
                    shift[has] = np.nanquantile(residuals[has], q, axis=1)
                band = mean + shift[:, None]
                out[q_name] = np.maximum(band, 0.0) if forecaster.nonnegative_ else band
            forecasts[name] = out
        for method, fcs in forecasts.items():
            _score_panel(
                scaled[method], totals[method], actual, history, fcs, scored, quantiles, q_names
            )
    rows = {}
    for method in forecasts:
        abs_err, err, size, sq_err, cells = totals[method]
        row = {
            name: float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")
            for name, vals in ((k, np.asarray(v, dtype=float)) for k, v in scaled[method].items())
        }
        row["rmse"] = float(np.sqrt(sq_err / cells)) if cells else float("nan")
        row["wape"] = float(abs_err / size) if size else float("nan")
        row["bias"] = float(err / size) if size else float("nan")
        rows[method] = row
    return {
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
    frame: pd.DataFrame, folds: int = 4, holdout: float = 0.3, shrinkage: float = 5.0
) -> dict:
    """MAE and bias of the P50 and coverage of the P90, by group and against no grouping."""
    predictions = []
    for lo, hi in duration_folds(frame, folds, holdout):
        known = frame[frame["end"] < lo]  # only durations that had ended by then
        test = frame[(frame["start"] >= lo) & (frame["start"] < hi)]
        if known.empty or test.empty:
            continue
        grouped = DurationDistribution(shrinkage=shrinkage).fit(known[["group"]], known["days"])
        overall = DurationDistribution().fit(np.zeros((len(known), 1)), known["days"])
        dist = grouped.predict_distribution(test[["group"]])
        flat = overall.predict_distribution(np.zeros((len(test), 1)))
        predictions.append(
            pd.DataFrame(
                {
                    "group": test["group"].to_numpy(),
                    "actual": test["days"].to_numpy(),
                    "p50": dist["p50"].to_numpy(),
                    "p90": dist["p90"].to_numpy(),
                    "overall_p50": flat["p50"].to_numpy(),
                    "overall_p90": flat["p90"].to_numpy(),
                }
            )
        )
    if not predictions:
        raise InputError(
            "not enough history for a time-split backtest (need completed durations before the test folds)"
        )
    scored = pd.concat(predictions, ignore_index=True)
    result = {
        "rows_tested": len(scored),
        "folds": len(predictions),
        "by_group": _duration_summary(scored, "p50", "p90"),
        "no_grouping": _duration_summary(scored, "overall_p50", "overall_p90"),
        "groups": [
            {"group": g, **_duration_summary(part, "p50", "p90")}
            for g, part in sorted(scored.groupby("group"), key=lambda gp: -len(gp[1]))
        ],
    }
    if "promised" in frame.columns:
        with_promise = frame.dropna(subset=["promised"])
        on_time = with_promise["end"].dt.normalize() <= with_promise["promised"].dt.normalize()
        result["on_time_rate"] = float(on_time.mean()) if len(on_time) else float("nan")
        rates = on_time.groupby(with_promise["group"]).mean()
        for row in result["groups"]:
            row["on_time_rate"] = float(rates.get(row["group"], float("nan")))
    return result


def _duration_summary(scored: pd.DataFrame, p50: str, p90: str) -> dict:
    return {
        "n": len(scored),
        "mae_days": metrics.mae(scored["actual"], scored[p50]),
        "bias_days": float(np.mean(scored[p50] - scored["actual"])),
        "coverage_p90": metrics.coverage(scored["actual"], scored[p90]),
    }


def backtest_sentiment(frame: pd.DataFrame, positive: str) -> dict:
    """Accuracy and macro-F1 of 'positive' by VADER score, and the mean score per class."""
    truth = frame["label"].str.lower().eq(positive.strip().lower()).to_numpy()
    if not truth.any():
        labels = ", ".join(sorted(frame["label"].unique())[:10])
        raise InputError(f"no row has the positive label {positive!r}; labels are: {labels}")
    scores = sentiment_scores(frame["text"])
    half = len(frame) // 2
    # A cut-off tuned on the first half and scored on the second, next to VADER's usual one.
    grid = np.round(np.arange(-0.5, 0.96, 0.05), 2)
    tuned = max(grid, key=lambda t: f1_score(truth[:half], scores[:half] >= t, average="macro"))
    return {
        "rows": len(frame),
        "positive_label": positive,
        "positive_share": float(truth.mean()),
        "mean_score": {
            str(label): float(scores[(frame["label"] == label).to_numpy()].mean())
            for label in sorted(frame["label"].unique())
        },
        "cutoffs": [
            _classification(f"VADER usual cut-off {POSITIVE_FROM}", truth, scores, POSITIVE_FROM),
            _classification(
                f"cut-off {tuned:.2f} tuned on first half, scored on second half",
                truth[half:],
                scores[half:],
                float(tuned),
            ),
        ],
    }


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
    demand.add_argument("--history", required=True)
    demand.add_argument("--item-col", required=True)
    demand.add_argument("--date-col", required=True)
    demand.add_argument("--qty-col", required=True)
    demand.add_argument("--category-col")
    demand.add_argument("--freq", choices=sorted(FREQUENCIES), default="W")
    demand.add_argument("--horizon", type=int, required=True)
    demand.add_argument("--origins", type=int, default=3)
    demand.add_argument("--step", type=int, help="periods between origins (default: horizon)")
    demand.add_argument("--quantiles", default="0.5,0.9")
    demand.add_argument("--max-iter", type=int, default=150, help="boosting iterations")

    for name, help_text in (
        ("leadtime", "supplier lead time distribution by group (MAE, bias, P90 coverage)"),
        ("transit", "carrier transit time distribution by group (MAE, bias, P90 coverage)"),
    ):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--history", required=True)
        cmd.add_argument("--group-col", required=True)
        cmd.add_argument("--start-col", required=True)
        cmd.add_argument("--end-col", required=True)
        cmd.add_argument("--promised-col")
        cmd.add_argument("--folds", type=int, default=4)
        cmd.add_argument("--holdout", type=float, default=0.3)
        cmd.add_argument("--shrinkage", type=float, default=5.0)

    senti = sub.add_parser("sentiment", help="sentiment score against a labelled text column")
    senti.add_argument("--history", required=True)
    senti.add_argument("--text-col", required=True)
    senti.add_argument("--label-col", required=True)
    senti.add_argument("--positive", required=True, help="the label value meaning positive")

    for cmd in sub.choices.values():
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


def run(args: argparse.Namespace) -> tuple[dict, list[str]]:
    """Run one backtest from parsed arguments: (result, notes on the input)."""
    frame = read_table(args.history)
    if args.command == "demand":
        quantiles = _quantiles(args.quantiles)
        clean, notes = clean_demand(frame, args.item_col, args.date_col, args.qty_col)
        categories = None
        if args.category_col:
            from models.tabular import column

            cat = frame.loc[:, column(frame, args.category_col)]
            categories = (
                pd.Series(
                    cat.to_numpy(),
                    index=frame[column(frame, args.item_col)].astype(str).str.strip(),
                )
                .groupby(level=0)
                .first()
            )
        panel = to_panel(clean, args.freq)
        result = backtest_demand(
            panel,
            args.horizon,
            args.origins,
            args.step,
            quantiles,
            categories,
            model_params={"max_iter": args.max_iter},
        )
        return result, notes.lines
    if args.command in ("leadtime", "transit"):
        clean, notes = clean_durations(
            frame, args.group_col, args.start_col, args.end_col, args.promised_col
        )
        return backtest_durations(clean, args.folds, args.holdout, args.shrinkage), notes.lines
    clean, notes = clean_labelled_text(frame, args.text_col, args.label_col)
    return backtest_sentiment(clean, args.positive), notes.lines


def render(command: str, result: dict) -> str:
    """The human-readable report of a backtest result."""
    if command == "demand":
        cols = [c for c in next(iter(result["methods"].values())) if c not in ("wape", "bias")]
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
        cols = ["n", "mae_days", "bias_days", "coverage_p90"]
        lines = [head, format_table(summary, ["model", *cols])]
        if "on_time_rate" in result:
            lines.append(
                f"on-time rate (delivered by the promised date): {result['on_time_rate']:.1%}"
            )
            cols = [*cols, "on_time_rate"]
        lines.append("")
        lines.append(format_table(result["groups"][:15], ["group", *cols]))
        return "\n".join(lines)
    lines = [
        f"{result['rows']} texts, positive label {result['positive_label']!r} ({result['positive_share']:.1%} of rows)",
        format_table(result["cutoffs"], ["rule", "rows", "accuracy", "macro_f1"]),
        "mean score per class: "
        + ", ".join(f"{k} {v:+.3f}" for k, v in result["mean_score"].items()),
    ]
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
