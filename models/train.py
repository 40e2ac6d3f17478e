"""The training job: fit every model on the database, save artifacts, record the runs.

    python -m models.train [--database URL] [--freq W] [--horizon 8] [--update-thresholds]
                           [--threads N]

For each kind (demand, lead_time, transit, sentiment) it opens a ModelRun, measures the model
by backtest, fits it on all history, saves a versioned joblib artifact under data/artifacts/
and in the database (``model_artifacts``, in the transaction that closes the run, so every
server sharing the database can load it) and closes the run with its metrics (status "ok", or
"failed" with the error). Fitting uses ``--threads`` threads (default: models.threads). Demand writes
Forecast rows (P50, P90, mean per product and period); sentiment fills Feedback.sentiment where
empty (by the text model trained on ``--sentiment-reviews`` when given, else the newest one
kept, else VADER); ``--update-thresholds`` sets each product's reorder point, safety stock and order-up-to
level from the forecast and the lead times, with an audit row by actor "model".
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import Engine, insert, select, update

from data.db import make_engine, read_connection, write_session
from data.schema import AuditLog, Feedback, Forecast, ModelRun, Product, Supplier, utcnow
from data.settings import all_settings
from models.backtest import backtest_demand, backtest_durations, backtest_sentiment
from models.demand import DemandForecaster, to_panel
from models.history import demand_history, lead_time_history, transit_history
from models.leadtime import (
    SUPPLIER_LEVELS,
    ConditionalDurations,
    DurationDistribution,
    duration_table,
    lookup,
    supplier_levels,
)
from models.registry import artifact_bytes, latest, save_artifact, store_artifact, stored_path
from models.replenishment import reorder_policy, spread_from_quantiles
from models.sentiment import TextSentimentModel, sentiment_scores, trained_model
from models.tabular import InputError, clean_labelled_text, read_table
from models.threads import add_threads_option, limited_threads

ACTOR = "model"
KINDS = ("demand", "lead_time", "transit", "sentiment", "promise", "backorder_risk")
DAYS_PER_PERIOD = {"D": 1, "W": 7, "M": 30.4}
MIN_DURATIONS_FOR_BACKTEST = 30
# The training run measures lead and transit times on one time-ordered holdout: the latest
# quarter of start dates, predicted by models fitted on the durations that had ended before it
# (python -m models.backtest durations runs more folds on any table).
BACKTEST_FOLDS = 1
# Demand panels of this many item-periods or more are backtested from one origin: the large
# demo's 10,000 products over three years of weeks (1.56 million); the default demo has 155,000.
LARGE_PANEL_CELLS = 1_000_000
BACKTEST_HOLDOUT = 0.25
SENTIMENT_BATCH = 2000
SENTIMENT_REVIEWS_ENV = "LARDER_SENTIMENT_REVIEWS"
SENTIMENT_COLUMNS_ENV = "LARDER_SENTIMENT_COLUMNS"


@dataclass
class Outcome:
    """What one kind's training produced: the artifact object, metrics and parameters."""

    model: object
    metrics: dict
    params: dict = field(default_factory=dict)
    after: Callable[[int], None] | None = None  # writes that need the run id


def _plain(value):
    """JSON-safe metrics: floats without NaN/inf, numpy scalars as Python ones."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _run(engine: Engine, kind: str, version: str, fit: Callable[[], Outcome]) -> ModelRun:
    """Open a ModelRun, fit, save the artifact and close the run (ok or failed)."""
    with write_session(engine) as s:
        run = ModelRun(kind=kind, version=version, status="running", started_at=utcnow())
        s.add(run)
        s.flush()
        run_id = run.id
    try:
        outcome = fit()
        # The run id keeps two databases trained in the same second from sharing a file.
        path = save_artifact(outcome.model, kind, f"{version}-run{run_id}")
        content = artifact_bytes(outcome.model)
        if outcome.after is not None:
            outcome.after(run_id)
        status, metrics, params, artifact = "ok", outcome.metrics, outcome.params, stored_path(path)
    except Exception as exc:  # a failed kind must not stop the others; the run records why
        traceback.print_exc()
        status, metrics, params, artifact, content = (
            "failed",
            {"error": f"{type(exc).__name__}: {exc}"},
            {},
            None,
            None,
        )
    with write_session(engine) as s:
        if content is not None:
            store_artifact(s, run_id, kind, content)
        run = s.get(ModelRun, run_id)
        run.status = status
        run.metrics = _plain(metrics)
        run.params = _plain(params)
        run.artifact = artifact
        run.finished_at = utcnow()
    return run


def train_demand(
    engine: Engine, freq: str, horizon: int, origins: int, model_params: dict | None = None
) -> Outcome:
    """Backtest, then fit on all history and forecast ``horizon`` periods."""
    history, categories = demand_history(engine, freq)
    if history.empty:
        raise InputError("no demand history (DemandDaily is empty)")
    panel = to_panel(history, freq)
    params = {"freq": freq, "horizon": horizon, "quantiles": [0.5, 0.9], "origins": origins}
    if origins > 1 and panel.values.size >= LARGE_PANEL_CELLS:
        # Each origin fits the global model once more; a panel this large is scored on the
        # latest origin alone (its thousands of series still give a steady average).
        params.update(
            origins=1,
            origins_asked=origins,
            origins_why=f"{panel.values.size:,} item-periods: one origin from "
            f"{LARGE_PANEL_CELLS:,} on",
        )
        origins = 1
    try:
        metrics = backtest_demand(
            panel, horizon, origins, categories=categories, model_params=model_params
        )
    except InputError as exc:  # too short to backtest: still forecast, and say so
        metrics = {"backtest": f"skipped: {exc}"}
    params_ = dict(model_params or {})
    choice = {
        key: params_.pop(key)
        for key in ("refit", "combine", "top_k", "selection_window", "use_model", "pooled_share")
        if key in params_
    }
    model = DemandForecaster(horizon=horizon, model_params=params_, **choice).fit(panel, categories)
    forecast = model.forecast(horizon)
    metrics["series"] = len(panel.items)
    if model.model_ is not None:
        # The global model's training cells: a seeded uniform sample when the panel is large.
        metrics["global_model_rows"] = {
            "fitted": model.model_.n_train_rows_,
            "available": model.model_.n_rows_available_,
            "sample_seed": model.model_.random_state,
        }
    metrics["items_on_fallback"] = int((~model.uses_model_).sum())
    # Which method serves how many products (each product's own is on its forecast rows).
    metrics["methods_in_use"] = model.method_counts()

    def write_forecasts(run_id: int) -> None:
        rows = [
            {
                "model_run_id": run_id,
                "product_id": int(item),
                "period_start": period.date(),
                "p50": float(p50),
                "p90": float(p90),
                "mean": float(mean),
                "method": str(method)[:40],
            }
            for item, period, p50, p90, mean, method in forecast[
                ["item", "period", "p50", "p90", "mean", "method"]
            ].itertuples(index=False)
        ]
        with write_session(engine) as s:
            for start in range(0, len(rows), 5000):
                s.execute(insert(Forecast), rows[start : start + 5000])

    return Outcome(model, metrics, params, write_forecasts)


def _durations_for_backtest(
    frame: pd.DataFrame, group: str, start: str, end: str, promised=None, extra=()
):
    out = pd.DataFrame(
        {
            "group": frame[group].astype(str),
            "start": frame[start],
            "end": frame[end],
            "days": frame["days"],
        }
    )
    if promised:
        out["promised"] = frame[promised]
    for col in extra:
        out[col] = frame[col]
    return out


def lead_time_model(**params) -> ConditionalDurations:
    """Lead time by supplier and category, conditional on order size, quote and season.

    Columns: supplier_id, category, qty, quoted_days, start (the day the PO was sent). The
    size of an order not yet drafted is unknown when a restock date is promised.
    """
    return ConditionalDurations(
        group_cols=("supplier_id", "category"),
        numeric_cols=("qty", "quoted_days"),
        date_col="start",
        optional_cols=("qty",),
        **params,
    )


def transit_model(**params) -> ConditionalDurations:
    """Transit time by region, conditional on carrier, shipment size, quote and season.

    Columns: region, carrier, qty, quoted_days, start (the shipping day). Carrier, size and
    quote are often unknown when a backorder's delivery date is promised.
    """
    return ConditionalDurations(
        group_cols=("region",),
        categorical_cols=("carrier",),
        numeric_cols=("qty", "quoted_days"),
        date_col="start",
        optional_cols=("carrier", "qty", "quoted_days"),
        **params,
    )


def lead_time_frame(history: pd.DataFrame) -> pd.DataFrame:
    """The lead-time model's columns from :func:`models.history.lead_time_history`."""
    return pd.DataFrame(
        {
            "supplier_id": history["supplier_id"].astype(str),
            "category": history["category"].astype(str),
            "qty": history["qty"],
            "quoted_days": history["quoted_days"],
            "start": history["sent_at"],
        }
    )


def transit_frame(history: pd.DataFrame) -> pd.DataFrame:
    """The transit model's columns from :func:`models.history.transit_history`."""
    return pd.DataFrame(
        {
            "region": history["region"].astype(str),
            "carrier": history["carrier"].astype(str),
            "qty": history["qty"],
            "quoted_days": history["quoted_days"],
            "start": history["shipped_at"],
        }
    )


def _duration_params(model_params: dict | None) -> dict:
    """The boosting settings of ``model_params`` that the duration models share."""
    return {k: v for k, v in (model_params or {}).items() if k in ("max_iter",)}


def train_lead_time(engine: Engine, model_params: dict | None = None) -> Outcome:
    """Lead time by supplier and category with features, and delay against the expected date."""
    history = lead_time_history(engine)
    if history.empty:
        raise InputError("no received purchase orders with a sent date")
    params = _duration_params(model_params)
    supplier = history["supplier_id"].astype(str)
    lead = lead_time_model(**params).fit(lead_time_frame(history), history["days"])
    by_group = DurationDistribution().fit(
        pd.DataFrame({"supplier": supplier, "category": history["category"]}), history["days"]
    )
    known_delay = history["delay_days"].notna()
    delay = DurationDistribution().fit(
        supplier[known_delay].to_frame(), history.loc[known_delay, "delay_days"]
    )
    metrics = {"rows": len(history), "calibration": lead.calibration_}
    if len(history) >= MIN_DURATIONS_FOR_BACKTEST:
        metrics["backtest"] = backtest_durations(
            _durations_for_backtest(
                history, "supplier_id", "sent_at", "received_at", "expected_date", ["qty"]
            ),
            BACKTEST_FOLDS,
            BACKTEST_HOLDOUT,
            features={"numeric": ["qty"], "optional": ["qty"]},
            model_params=params,
        )
    table = duration_table(by_group, ["supplier_id", "category"])
    suppliers = sorted(int(sid) for sid in history["supplier_id"].unique())
    metrics[SUPPLIER_LEVELS] = {
        name: supplier_levels(model, suppliers)
        for name, model in (("lead", lead), ("delay", delay))
    }
    return Outcome({"lead": lead, "delay": delay, "table": table}, metrics)


def train_transit(engine: Engine, model_params: dict | None = None) -> Outcome:
    """Transit days by customer region with features (and by carrier for the record)."""
    history = transit_history(engine)
    if history.empty:
        raise InputError("no delivered outbound shipments")
    params = _duration_params(model_params)
    transit = transit_model(**params).fit(transit_frame(history), history["days"])
    by_carrier = DurationDistribution().fit(history[["carrier"]].astype(str), history["days"])
    metrics = {"rows": len(history), "calibration": transit.calibration_}
    if len(history) >= MIN_DURATIONS_FOR_BACKTEST:
        metrics["backtest_by_region"] = backtest_durations(
            _durations_for_backtest(
                history,
                "region",
                "shipped_at",
                "delivered_at",
                "promised_date",
                ["carrier", "qty"],
            ),
            BACKTEST_FOLDS,
            BACKTEST_HOLDOUT,
            features={
                "categorical": ["carrier"],
                "numeric": ["qty"],
                "optional": ["carrier", "qty", "quoted_days"],
            },
            model_params=params,
        )
        metrics["backtest_by_carrier"] = backtest_durations(
            _durations_for_backtest(
                history, "carrier", "shipped_at", "delivered_at", "promised_date"
            ),
            BACKTEST_FOLDS,
            BACKTEST_HOLDOUT,
        )
    return Outcome({"transit": transit, "by_carrier": by_carrier}, metrics)


def review_source() -> tuple[str, str, str, str] | None:
    """The labelled reviews to train the text sentiment model on, from the environment.

    ``LARDER_SENTIMENT_REVIEWS`` names a CSV; ``LARDER_SENTIMENT_COLUMNS`` its text column,
    label column and positive label (default ``review,score,great``, the fine-food reviews'
    form). None when no file is named.
    """
    path = os.environ.get(SENTIMENT_REVIEWS_ENV, "").strip()
    if not path:
        return None
    parts = [p.strip() for p in os.environ.get(SENTIMENT_COLUMNS_ENV, "").split(",") if p.strip()]
    text_col, label_col, positive = parts if len(parts) == 3 else ("review", "score", "great")
    return path, text_col, label_col, positive


def fit_text_sentiment(
    path: str, text_col: str, label_col: str, positive: str
) -> tuple[TextSentimentModel, dict]:
    """A text model fitted on every labelled review, and its held-out figures against VADER.

    The figures come from a model trained on the first 80 % of the file's rows (in file order)
    and scored on the last 20 %; the stored model then learns from all rows.
    """
    clean, notes = clean_labelled_text(read_table(path), text_col, label_col)
    held_out = backtest_sentiment(clean, positive)
    truth = clean["label"].str.lower().eq(positive.strip().lower()).to_numpy()
    model = TextSentimentModel().fit(clean["text"], truth)
    metrics = {
        "source": str(path),
        "notes": notes.lines,
        "trained_rows": int(truth.size),
        "cutoff": model.cutoff_,
        "held_out": {
            "split": held_out["split"],
            "test_rows": held_out["test_rows"],
            "rules": held_out["held_out"],
        },
    }
    return model, metrics


def train_sentiment(engine: Engine) -> Outcome:
    """Fit or keep the text model, score feedback without a sentiment; agreement with CSAT.

    With labelled reviews named (:func:`review_source`) a text model is trained on them; else
    the newest text model already trained is kept; else VADER scores the feedback.
    """
    source = review_source()
    metrics: dict = {}
    if source is not None:
        model, metrics = fit_text_sentiment(*source)
        params = {"method": "tfidf words+chars, logistic regression", "source": source[0]}
        metrics.update(_agreement_with_csat(engine, model))
        if _reads_worse_than_vader(metrics):
            # Trained on another trade's reviews, it may read this trade's feedback worse: the
            # database's own CSAT decides, and VADER stays in use when it agrees better.
            model = None
            params = {
                "method": "VADER compound",
                "source": source[0],
                "why": "the text model agreed less with this database's CSAT than VADER",
            }
    else:
        model = trained_model(engine)
        params = {"method": "kept the newest text model" if model else "VADER compound"}
    artifact = model if model is not None else {"analyzer": "vaderSentiment compound"}
    scored = 0
    while True:
        with write_session(engine) as s:
            batch = s.execute(
                select(Feedback.id, Feedback.comment)
                .where(Feedback.sentiment.is_(None))
                .order_by(Feedback.id)
                .limit(SENTIMENT_BATCH)
            ).all()
            if not batch:
                break
            comments = [comment for _, comment in batch]
            scores = model.scores(comments) if model is not None else sentiment_scores(comments)
            s.execute(
                update(Feedback),
                [
                    {"id": fid, "sentiment": float(score)}
                    for (fid, _), score in zip(batch, scores, strict=True)
                ],
            )
            scored += len(batch)
    with read_connection(engine) as conn:
        pairs = conn.execute(
            select(Feedback.csat, Feedback.sentiment).where(
                Feedback.csat.is_not(None), Feedback.sentiment.is_not(None)
            )
        ).all()
    metrics.update({"scored_now": scored, "with_csat": len(pairs)})
    if len(pairs) > 2:
        frame = pd.DataFrame(pairs, columns=["csat", "sentiment"])
        metrics["spearman_with_csat"] = float(
            frame["csat"].corr(frame["sentiment"], method="spearman")
        )
        if model is not None and "text_model_spearman_with_csat" not in metrics:
            metrics.update(_agreement_with_csat(engine, model))
        metrics["mean_by_csat"] = {
            str(k): float(v) for k, v in frame.groupby("csat")["sentiment"].mean().items()
        }
    return Outcome(artifact, metrics, params)


MIN_COMMENTS_TO_JUDGE = 50  # fewer comments with a CSAT: too few to prefer VADER over the model


def _reads_worse_than_vader(metrics: dict) -> bool:
    """True when enough of the database's comments show VADER agreeing better with CSAT."""
    if metrics.get("comments_compared", 0) < MIN_COMMENTS_TO_JUDGE:
        return False
    return metrics["text_model_spearman_with_csat"] < metrics["vader_spearman_with_csat"]


def _agreement_with_csat(engine: Engine, model: TextSentimentModel) -> dict:
    """Spearman of the text model's and VADER's scores with CSAT on the newest comments.

    Reviews of another trade read feedback differently ("again" praises a product bought
    again, and blames a backorder late again): this shows whether the text model reads this
    database's customers at least as well as VADER does.
    """
    with read_connection(engine) as conn:
        rows = conn.execute(
            select(Feedback.csat, Feedback.comment)
            .where(Feedback.csat.is_not(None), Feedback.comment != "")
            .order_by(Feedback.id.desc())
            .limit(SENTIMENT_BATCH)
        ).all()
    if len(rows) < 3:
        return {}
    csat = pd.Series([r[0] for r in rows], dtype=float)
    comments = [r[1] for r in rows]
    return {
        "comments_compared": len(rows),
        "text_model_spearman_with_csat": float(
            csat.corr(pd.Series(model.scores(comments)), method="spearman")
        ),
        "vader_spearman_with_csat": float(
            csat.corr(pd.Series(sentiment_scores(comments)), method="spearman")
        ),
    }


def train_backorder_risk(engine: Engine, model_params: dict | None = None) -> Outcome:
    """Backorder risk per product within ``risk_horizon_weeks``, from point-in-time snapshots."""
    from models.risk import read_risk_history, train_risk

    with read_connection(engine) as conn:
        weeks = int(all_settings(conn)["risk_horizon_weeks"])
    try:
        # Summed per week in the database, in weeks that start on the snapshot days.
        history = read_risk_history(engine, horizon_weeks=weeks)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    max_iter = int((model_params or {}).get("max_iter", 200))
    try:
        model, metrics = train_risk(history, weeks, max_iter=max_iter)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    return Outcome(model, metrics, {"horizon_weeks": weeks, "max_iter": max_iter})


def train_promise(engine: Engine) -> Outcome:
    """Score delivery promises replayed at each recent backorder's creation (no new model)."""
    from models.promise_backtest import delivery_backtest

    metrics = delivery_backtest(engine)
    return Outcome({"method": "available-to-promise walk"}, metrics)


def update_thresholds(
    engine: Engine,
    forecast: pd.DataFrame,
    history: pd.DataFrame,
    lead: DurationDistribution | ConditionalDurations | None,
    freq: str,
) -> int:
    """Set reorder point, safety stock and order-up-to on every product from the models."""
    days = DAYS_PER_PERIOD[freq]
    mean_per_day = forecast.groupby("item")["mean"].mean() / days
    recent = history[history["date"] >= history["date"].max() - pd.Timedelta(days=26 * 7)]
    sd_per_day = recent.groupby("item")["qty"].std().fillna(0) / math.sqrt(days)
    changed = 0
    with write_session(engine) as s:
        service_level = float(all_settings(s.connection())["service_level"])
        default_lead = float(all_settings(s.connection())["default_lead_time_days"])
        suppliers = dict(s.execute(select(Supplier.id, Supplier.lead_time_days)).all())
        for product in s.scalars(select(Product).where(Product.active.is_(True))):
            d = float(mean_per_day.get(product.id, 0.0))
            sd = float(sd_per_day.get(product.id, 0.0))
            if lead is not None:
                dist = lookup(
                    lead,
                    product.supplier_id,
                    product.category,
                    start=pd.Timestamp(utcnow()),
                    quoted_days=float(suppliers.get(product.supplier_id, np.nan)),
                )
                lt, lt_sd = float(dist["p50"]), spread_from_quantiles(dist["p50"], dist["p90"])
            else:
                lt, lt_sd = default_lead, 0.0
            policy = reorder_policy(d, sd, lt, lt_sd, service_level)
            before = {
                "reorder_point": product.reorder_point,
                "safety_stock": product.safety_stock,
                "order_up_to": product.order_up_to,
            }
            after = {
                "reorder_point": policy.reorder_point,
                "safety_stock": policy.safety_stock,
                "order_up_to": policy.order_up_to,
            }
            if before == after:
                continue
            product.reorder_point = policy.reorder_point
            product.safety_stock = policy.safety_stock
            product.order_up_to = policy.order_up_to
            s.add(
                AuditLog(
                    actor=ACTOR,
                    action="set_thresholds",
                    entity="product",
                    entity_id=str(product.id),
                    before=before,
                    after=after,
                    note=policy.reason[:300],
                )
            )
            changed += 1
    return changed


def train_all(
    engine: Engine,
    freq: str = "W",
    horizon: int = 8,
    origins: int = 2,
    thresholds: bool = False,
    kinds: tuple[str, ...] = KINDS,
    log: Callable[[str], None] = print,
    model_params: dict | None = None,
) -> dict[str, ModelRun]:
    """Train every kind; returns the closed ModelRun of each."""
    version = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    fits = {
        "demand": lambda: train_demand(engine, freq, horizon, origins, model_params),
        "lead_time": lambda: train_lead_time(engine, model_params),
        "transit": lambda: train_transit(engine, model_params),
        "sentiment": lambda: train_sentiment(engine),
        "promise": lambda: train_promise(engine),
        "backorder_risk": lambda: train_backorder_risk(engine, model_params),
    }
    runs, outcomes = {}, {}
    for kind in kinds:
        started = time.perf_counter()

        def fit(kind=kind):
            outcomes[kind] = fits[kind]()
            return outcomes[kind]

        runs[kind] = _run(engine, kind, version, fit)
        log(
            f"{kind:10s} {runs[kind].status:7s} {time.perf_counter() - started:6.1f} s  run {runs[kind].id}"
        )
    if thresholds and "demand" in outcomes:
        history, _ = demand_history(engine, freq)
        forecast = outcomes["demand"].model.forecast(horizon)
        lead = outcomes["lead_time"].model["lead"] if "lead_time" in outcomes else None
        log(
            f"thresholds updated on {update_thresholds(engine, forecast, history, lead, freq)} products"
        )
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.train", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--database", help="database URL (default: DATABASE_URL or the SQLite file)"
    )
    parser.add_argument("--freq", choices=["D", "W", "M"], default="W")
    parser.add_argument("--horizon", type=int, default=8)
    parser.add_argument("--origins", type=int, default=2, help="backtest origins for demand")
    parser.add_argument("--update-thresholds", action="store_true")
    parser.add_argument("--only", nargs="+", choices=KINDS)
    parser.add_argument(
        "--if-untrained",
        action="store_true",
        help="train only the kinds with no loadable model yet (first start, or artifacts lost)",
    )
    parser.add_argument(
        "--sentiment-reviews",
        metavar="FILE",
        help=f"labelled reviews to train the text sentiment model on (or ${SENTIMENT_REVIEWS_ENV});"
        " without it the newest text model is kept, else VADER scores feedback",
    )
    parser.add_argument(
        "--sentiment-columns",
        metavar="TEXT,LABEL,POSITIVE",
        help="the reviews' text column, label column and positive label (default review,score,great)",
    )
    add_threads_option(parser)
    args = parser.parse_args(argv)
    if args.sentiment_reviews:
        os.environ[SENTIMENT_REVIEWS_ENV] = args.sentiment_reviews
    if args.sentiment_columns:
        os.environ[SENTIMENT_COLUMNS_ENV] = args.sentiment_columns
    engine = make_engine(args.database) if args.database else make_engine()
    kinds = tuple(args.only) if args.only else KINDS
    if args.if_untrained:
        kinds = tuple(kind for kind in kinds if latest(engine, kind) is None)
        if not kinds:
            print("every model has a successful run; nothing to train")
            return 0
    with limited_threads(args.threads) as threads:
        print(f"fitting with {threads} thread(s)")
        runs = train_all(
            engine, args.freq, args.horizon, args.origins, args.update_thresholds, kinds
        )
    return 0 if all(r.status == "ok" for r in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
