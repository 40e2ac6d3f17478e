"""The model registry as the Admin page reads it: which run is in use and how it tested."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert

from data.db import read_connection
from data.schema import ModelRun
from queries.model_runs import demand_backtest_table, model_overview, models_in_use

T0 = dt.datetime(2026, 11, 1, 9, 0)
DEMAND_METRICS = {
    "methods": {
        "model": {"rmsse": 0.57, "pinball_p90": 0.31},
        "seasonal_naive": {"rmsse": 0.78, "pinball_p90": 0.34},
    },
    "improvement_vs_seasonal_naive": {"rmsse": 0.268, "pinball_p90": 0.088},
}


def add_run(engine, kind, *, status="ok", metrics=None, minutes=0, version="v"):
    with engine.begin() as conn:
        conn.execute(
            insert(ModelRun).values(
                kind=kind,
                version=version,
                started_at=T0 + dt.timedelta(minutes=minutes),
                finished_at=T0 + dt.timedelta(minutes=minutes + 1),
                status=status,
                params={},
                metrics=metrics or {},
            )
        )


def test_the_newest_successful_run_is_in_use_not_a_newer_failed_one(engine):
    add_run(engine, "demand", version="old", metrics=DEMAND_METRICS)
    add_run(engine, "demand", version="new", metrics=DEMAND_METRICS, minutes=10)
    add_run(engine, "demand", version="broken", status="failed", minutes=20)
    with read_connection(engine) as conn:
        assert models_in_use(conn)["demand"].version == "new"


def test_overview_lists_every_kind_and_says_which_were_never_trained(engine):
    add_run(engine, "demand", metrics=DEMAND_METRICS)
    add_run(
        engine,
        "promise",
        metrics={"tested": 743, "delivery_late_coverage": 0.952, "delivery_likely_mae_days": 2.02},
    )
    with read_connection(engine) as conn:
        overview = model_overview(conn).set_index("model")["result"]
    assert overview["Demand forecast"] == "vs seasonal naive: rmsse +27%, pinball_p90 +9%"
    assert overview["Backorder delivery dates"] == (
        "late-case date covers 95% of deliveries; likely date MAE 2.0 days (743 backorders replayed)"
    )
    assert overview["Supplier lead time"] == "never trained"
    assert overview["Backorder risk"] == "never trained"
    assert len(overview) == 6


def test_headlines_of_the_risk_and_the_conditional_duration_models(engine):
    add_run(
        engine,
        "backorder_risk",
        metrics={
            "test_rows": 42000,
            "model": {"roc_auc": 0.803, "pr_auc": 0.404},
            "rule": {"roc_auc": 0.629, "pr_auc": 0.19},
        },
    )
    summary = {"n": 19765, "bias_days": -0.005}
    add_run(
        engine,
        "transit",
        metrics={
            "backtest_by_region": {
                "with_features": {**summary, "mae_days": 0.602, "coverage_p90": 0.897},
                "by_group": {**summary, "mae_days": 0.698, "coverage_p90": 0.895},
            }
        },
    )
    with read_connection(engine) as conn:
        overview = model_overview(conn).set_index("model")
    assert overview.loc["Backorder risk", "result"] == (
        "ROC-AUC 0.80 (rule 0.63), PR-AUC 0.40 (rule 0.19) on 42,000 later snapshots"
    )
    assert overview.loc["Carrier transit time", "result"] == (
        "MAE 0.60 days, bias -0.01 days, P90 covers 90% (n = 19,765); "
        "group median: MAE 0.70 days, P90 covers 90%"
    )
    assert overview.loc["Backorder risk", "method"].startswith("classifier")


def test_demand_backtest_table_has_a_row_per_method(sqlite_engine):
    add_run(sqlite_engine, "demand", metrics=DEMAND_METRICS)
    with read_connection(sqlite_engine) as conn:
        table = demand_backtest_table(conn).set_index("method")
    assert table.loc["model", "rmsse"] == 0.57
    assert table.loc["seasonal_naive", "pinball_p90"] == 0.34


def test_demand_backtest_table_is_empty_before_any_training(sqlite_engine):
    with read_connection(sqlite_engine) as conn:
        assert demand_backtest_table(conn).empty


def test_sentiment_headline_compares_the_text_model_with_vader():
    from queries.model_runs import _headline

    metrics = {
        "held_out": {
            "rules": [
                {"rule": "VADER cut-off 0.05", "macro_f1": 0.649},
                {"rule": "VADER cut-off 0.65 tuned on training rows", "macro_f1": 0.697},
                {"rule": "text model, cut-off 0.47 tuned on training rows", "macro_f1": 0.805},
            ]
        },
        "spearman_with_csat": 0.43,
        "text_model_spearman_with_csat": 0.431,
        "vader_spearman_with_csat": 0.586,
    }
    assert _headline("sentiment", metrics) == (
        "held-out macro-F1 0.81 (VADER 0.65); rank correlation with CSAT 0.43 (VADER 0.59)"
    )
    assert _headline("sentiment", {"spearman_with_csat": 0.5}) == "rank correlation with CSAT 0.50"
