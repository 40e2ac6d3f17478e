"""Reads of the model registry: which model of each kind is in use, and how well it tested."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, func, select

from data.schema import Forecast, ModelRun, Product

# The kinds models.train records, in the order the Admin page lists them.
MODEL_KINDS = ("demand", "lead_time", "transit", "promise", "sentiment", "backorder_risk")
KIND_LABELS = {
    "demand": "Demand forecast",
    "lead_time": "Supplier lead time",
    "transit": "Carrier transit time",
    "promise": "Backorder delivery dates",
    "sentiment": "Feedback sentiment",
    "backorder_risk": "Backorder risk",
}

# What the app does for each kind until a run of it exists (and the learned model after).
SIMPLE_METHODS = {
    "demand": "none yet: reorder points stay as set on each product",
    "lead_time": "each supplier's quoted lead time",
    "transit": "each carrier's quoted transit days",
    "promise": "available-to-promise walk on quoted lead and transit times",
    "sentiment": "none yet: comments stay unscored",
    "backorder_risk": "the reorder rule alone (available below the reorder point)",
}
LEARNED_METHODS = {
    "demand": "learned demand model",
    "lead_time": "learned lead times per supplier and category, with order size, quote and season",
    "transit": "learned transit times per region, with carrier, size, quote and season",
    "promise": "available-to-promise walk on learned lead and transit times",
    "sentiment": "VADER sentiment scores",
    "backorder_risk": "classifier of backorders within the risk horizon, beside the reorder rule",
}


def models_in_use(conn: Connection) -> dict[str, ModelRun]:
    """The newest successful run of each kind (the one the app loads), by kind."""
    newest = (
        select(func.max(ModelRun.id))
        .where(ModelRun.status == "ok")
        .group_by(ModelRun.kind)
        .scalar_subquery()
    )
    rows = conn.execute(select(ModelRun).where(ModelRun.id.in_(newest))).all()
    return {row.kind: row for row in rows}


def _headline(kind: str, metrics: dict) -> str:
    """One line that says how the model tested (the figures its targets are judged by)."""
    if kind == "demand":
        gain = metrics.get("improvement_vs_seasonal_naive") or {}
        parts = [f"{name} {value:+.0%}" for name, value in gain.items() if value is not None]
        return "vs seasonal naive: " + ", ".join(parts) if parts else ""
    if kind in ("lead_time", "transit"):
        backtest = metrics.get("backtest") or metrics.get("backtest_by_region") or {}
        grouped = backtest.get("with_features") or backtest.get("by_group") or {}
        if not grouped:
            return ""
        text = (
            f"MAE {grouped['mae_days']:.2f} days, bias {grouped['bias_days']:+.2f} days, "
            f"P90 covers {grouped['coverage_p90']:.0%} (n = {grouped['n']:,})"
        )
        median = backtest.get("by_group") if "with_features" in backtest else None
        if median:
            text += (
                f"; group median: MAE {median['mae_days']:.2f} days, "
                f"P90 covers {median['coverage_p90']:.0%}"
            )
        return text
    if kind == "backorder_risk" and "model" in metrics:
        model, rule = metrics["model"] or {}, metrics.get("rule") or {}

        def num(value) -> str:
            return f"{value:.2f}" if isinstance(value, int | float) else "n/a"

        return (
            f"ROC-AUC {num(model.get('roc_auc'))} (rule {num(rule.get('roc_auc'))}), "
            f"PR-AUC {num(model.get('pr_auc'))} (rule {num(rule.get('pr_auc'))}) "
            f"on {metrics.get('test_rows', 0):,} later snapshots"
        )
    if kind == "promise" and "delivery_late_coverage" in metrics:
        return (
            f"late-case date covers {metrics['delivery_late_coverage']:.0%} of deliveries; "
            f"likely date MAE {metrics['delivery_likely_mae_days']:.1f} days "
            f"({metrics['tested']:,} backorders replayed)"
        )
    if kind == "sentiment":
        return _sentiment_headline(metrics)
    return ""


def _sentiment_headline(metrics: dict) -> str:
    """Held-out macro-F1 of the text model against VADER, and agreement with CSAT."""
    parts = []
    rules = (metrics.get("held_out") or {}).get("rules") or []
    if len(rules) >= 2 and rules[-1].get("macro_f1") is not None:
        parts.append(
            f"held-out macro-F1 {rules[-1]['macro_f1']:.2f} (VADER {rules[0]['macro_f1']:.2f})"
        )
    if metrics.get("text_model_spearman_with_csat") is not None:
        parts.append(
            f"rank correlation with CSAT {metrics['text_model_spearman_with_csat']:.2f} "
            f"(VADER {metrics.get('vader_spearman_with_csat') or 0:.2f})"
        )
    elif metrics.get("spearman_with_csat") is not None:
        parts.append(f"rank correlation with CSAT {metrics['spearman_with_csat']:.2f}")
    return "; ".join(parts)


def _method(kind: str, runs: dict[str, ModelRun]) -> str:
    """The method the app uses for ``kind`` now: learned once a run exists, else the simple one."""
    # Delivery dates are a walk over the lead-time and transit models, learned once either is.
    learned = ("lead_time" in runs or "transit" in runs) if kind == "promise" else kind in runs
    return LEARNED_METHODS[kind] if learned else f"simple: {SIMPLE_METHODS[kind]}"


def model_overview(conn: Connection) -> pd.DataFrame:
    """One row per model kind: the run in use, when it was trained and its headline result."""
    runs = models_in_use(conn)
    rows = []
    for kind in MODEL_KINDS:
        run = runs.get(kind)
        rows.append(
            {
                "model": KIND_LABELS[kind],
                "method": _method(kind, runs),
                "run": run.id if run else None,
                "version": run.version if run else None,
                "trained": run.finished_at if run else None,
                "result": _headline(kind, dict(run.metrics or {})) if run else "never trained",
            }
        )
    return pd.DataFrame(rows)


def demand_backtest_table(conn: Connection) -> pd.DataFrame:
    """The demand model in use against each baseline, one row per method (empty if untrained)."""
    run = models_in_use(conn).get("demand")
    methods = (dict(run.metrics or {}).get("methods") or {}) if run else {}
    if not methods:
        return pd.DataFrame()
    table = pd.DataFrame.from_dict(methods, orient="index")
    table.index.name = "method"
    return table.reset_index()


def demand_methods_by_product(conn: Connection) -> pd.DataFrame:
    """Which demand method serves each product in the run in use (product_id, sku, name,
    method), counted in the database from that run's forecast rows; empty if untrained."""
    run = models_in_use(conn).get("demand")
    if run is None:
        return pd.DataFrame(columns=["product_id", "sku", "name", "method"])
    per_product = (
        select(Forecast.product_id, func.max(Forecast.method).label("method"))
        .where(Forecast.model_run_id == run.id)
        .group_by(Forecast.product_id)
        .subquery()
    )
    rows = conn.execute(
        select(per_product.c.product_id, Product.sku, Product.name, per_product.c.method)
        .join(Product, Product.id == per_product.c.product_id)
        .order_by(per_product.c.product_id)
    ).all()
    return pd.DataFrame(rows, columns=["product_id", "sku", "name", "method"])
