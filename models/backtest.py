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
from models.baselines import TSB, CrostonSBA, MovingAverage, SeasonalNaive, forecast_history
from models.demand import FREQUENCIES, GlobalDemandModel, Panel, to_panel
from models.leadtime import ConditionalDurations, DurationDistribution
from models.sentiment import POSITIVE_FROM, sentiment_scores
from models.tabular import (
    InputError,
    clean_demand,
    clean_durations,
    clean_labelled_text,
    parse_numbers,
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
    """Metrics of the global model and each baseline over rolling origins."""
    if horizon < 1:
        raise InputError("horizon must be at least 1")
    points = forecast_origins(panel.values.shape[1], horizon, origins, step or horizon)
    if not points:
        raise InputError(
            f"history has {panel.values.shape[1]} periods, too few for a horizon of {horizon}"
        )
    q_names = [f"p{round(q * 100)}" for q in quantiles]
    scaled = defaultdict(lambda: defaultdict(list))  # method -> metric -> per-series values
    totals = defaultdict(lambda: np.zeros(3))  # method -> [sum |err|, sum err, sum |actual|]
    fallback = 0
    for origin in points:
        model = GlobalDemandModel(quantiles=quantiles, **(model_params or {}))
        model.fit(panel.until(origin), categories)
        fallback = max(fallback, int((~model.uses_model_).sum()))
        fc = model.forecast(horizon)
        by_item = {
            name: fc[name].to_numpy().reshape(len(panel.items), horizon)
            for name in ["mean", *q_names]
        }
        for i in range(len(panel.items)):
            history = panel.values[i, :origin]
            actual = panel.values[i, origin : origin + horizon]
            observed = history[~np.isnan(history)]
            if observed.size < 2 or np.isnan(actual).any():
                continue  # the item had not started: nothing to learn or to score
            forecasts = {MODEL: {n: by_item[n][i] for n in by_item}}
            for name, estimator in baselines(panel.freq).items():
                out = forecast_history(estimator, observed, horizon, quantiles)
                forecasts[name] = {
                    "mean": out["mean"],
                    **dict(zip(q_names, (out[q] for q in quantiles), strict=True)),
                }
            for method, fcs in forecasts.items():
                _score(scaled[method], totals[method], actual, observed, fcs, quantiles, q_names)
    rows = {}
    for method in scaled:
        abs_err, err, size = totals[method]
        row = {
            name: float(np.nanmean(vals)) if vals else float("nan")
            for name, vals in scaled[method].items()
        }
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
        "improvement_vs_seasonal_naive": _improvement(rows, q_names),
    }


def _score(scaled, totals, actual, history, fcs, quantiles, q_names) -> None:
    mean = fcs["mean"]
    scaled["mase"].append(metrics.mase(actual, mean, history))
    scaled["rmsse"].append(metrics.rmsse(actual, mean, history))
    for q, name in zip(quantiles, q_names, strict=True):
        scaled[f"pinball_{name}"].append(metrics.scaled_pinball_loss(actual, fcs[name], q, history))
    if "p90" in fcs:
        scaled["coverage_p90"].append(metrics.coverage(actual, fcs["p90"]))
    totals += [np.sum(np.abs(actual - mean)), np.sum(mean - actual), np.sum(np.abs(actual))]


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
) -> dict:
    """MAE and bias of the P50 and coverage of the P90 of each method, tested forward in time.

    Methods: the per-group distribution (its P50 is the group's shrunk median), no grouping,
    and, when ``frame`` has feature columns or a promised date, the conditional quantile model
    (:class:`~models.leadtime.ConditionalDurations`) with its P90 raw and calibrated, and the
    quoted time itself (the promised date read as its end of day). ``features`` names columns
    of ``frame``: ``{"categorical": [...], "numeric": [...], "optional": [...]}``.
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
        scored = pd.DataFrame(
            {
                "group": test["group"].to_numpy(),
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
            cal = model.predict_distribution(test)
            raw = model.predict_raw(test)
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
        cmd.add_argument(
            "--feature-cols",
            help="comma-separated columns the conditional model learns from besides the group "
            "(route, region, order size...); numbers where they parse, categories otherwise",
        )

    # --- risk: any labelled table, classifier against the reorder rule ---
    risk = sub.add_parser("risk", help="backorder classifier vs the reorder rule (ROC-AUC, PR-AUC)")
    risk.add_argument("--history", required=True)
    risk.add_argument("--label-col", required=True, help="0/1, yes/no or true/false")
    risk.add_argument("--feature-cols", help="comma-separated (default: every other column)")
    risk.add_argument("--time-col", help="orders the rows; the latest share is the test set")
    risk.add_argument("--rule-col", help="the rule's 0/1 verdict or a score (higher = riskier)")
    risk.add_argument("--available-col", help="with --reorder-col: rule = available < reorder")
    risk.add_argument("--reorder-col")
    risk.add_argument("--test-share", type=float, default=0.3)
    risk.add_argument("--max-iter", type=int, default=200, help="boosting iterations")

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
        wanted = [c.strip() for c in (args.feature_cols or "").split(",") if c.strip()]
        clean, notes = clean_durations(
            frame, args.group_col, args.start_col, args.end_col, args.promised_col, wanted
        )
        features = duration_feature_kinds(clean, wanted)
        result = backtest_durations(clean, args.folds, args.holdout, args.shrinkage, features)
        return result, notes.lines
    if args.command == "risk":
        from models.risk import backtest_table

        columns = [c.strip() for c in (args.feature_cols or "").split(",") if c.strip()]
        return backtest_table(
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
    clean, notes = clean_labelled_text(frame, args.text_col, args.label_col)
    return backtest_sentiment(clean, args.positive), notes.lines


def render(command: str, result: dict) -> str:
    """The human-readable report of a backtest result."""
    if command == "demand":
        cols = [c for c in next(iter(result["methods"].values())) if c not in ("wape", "bias")]
        rows = [{"method": m, **r} for m, r in result["methods"].items()]
        lines = [
            f"{result['series']} series, {result['periods']} periods ({result['freq']}), horizon {result['horizon']}, "
            f"origins {', '.join(result['origins'])}; {result['items_on_fallback']} series on a fallback method",
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
        cols = ["n", "mae_days", "bias_days", "coverage_p90"]
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
