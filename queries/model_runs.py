"""Reads of the model registry: which model of each kind is in use, and how well it tested."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, func, select

from data.schema import Forecast, ModelRun, Product

# The kinds models.train records, in the order the Admin page lists them.
MODEL_KINDS = ("demand", "lead_time", "transit", "promise", "sentiment")
KIND_LABELS = {
    "demand": "Demand forecast",
    "lead_time": "Supplier lead time",
    "transit": "Carrier transit time",
    "promise": "Backorder delivery dates",
    "sentiment": "Feedback sentiment",
}

# What the app does for each kind until a run of it exists (and the learned model after).
SIMPLE_METHODS = {
    "demand": "none yet: reorder points stay as set on each product",
    "lead_time": "each supplier's quoted lead time",
    "transit": "each carrier's quoted transit days",
    "promise": "available-to-promise walk on quoted lead and transit times",
    "sentiment": "none yet: comments stay unscored",
}
LEARNED_METHODS = {
    "demand": "learned demand model",
    "lead_time": "learned lead times per supplier and category",
    "transit": "learned transit times per region",
    "promise": "available-to-promise walk on learned lead and transit times",
    "sentiment": "VADER sentiment scores",
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
        grouped = backtest.get("by_group") or {}
        if not grouped:
            return ""
        return (
            f"MAE {grouped['mae_days']:.2f} days, bias {grouped['bias_days']:+.2f} days, "
            f"P90 covers {grouped['coverage_p90']:.0%} (n = {grouped['n']:,})"
        )
    if kind == "promise" and "delivery_late_coverage" in metrics:
        return (
            f"late-case date covers {metrics['delivery_late_coverage']:.0%} of deliveries; "
            f"likely date MAE {metrics['delivery_likely_mae_days']:.1f} days "
            f"({metrics['tested']:,} backorders replayed)"
        )
    if kind == "sentiment" and "spearman_with_csat" in metrics:
        return f"rank correlation with CSAT {metrics['spearman_with_csat']:.2f}"
    return ""


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
