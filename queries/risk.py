"""Backorder risk per product now: the model's features read live, scored, beside the rule.

Every sum runs in the database (stock, open purchase orders, waiting backorders, demand in the
last 28, 56 and 84 days before today). The scores come from the newest "backorder_risk" model
run (:mod:`models.risk`); before the first run the list shows the rule's verdict alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session

from data.schema import (
    OPEN_PO_STATUSES,
    Backorder,
    DemandDaily,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Stock,
    Supplier,
    utcnow,
)
from models.registry import latest, newest_run_query
from models.risk import features_from_state, rule_verdict, score
from queries import reading

STATE_COLUMNS = [
    "product_id",
    "sku",
    "name",
    "category",
    "supplier_id",
    "supplier",
    "quoted_days",
    "reorder_point",
    "on_hand",
    "reserved",
    "on_order",
    "backordered_units",
    "demand_28d",
    "demand_56d",
    "demand_84d",
]


def risk_state(engine: Engine | Connection, today: dt.date | None = None) -> pd.DataFrame:
    """Per active product: stock, open PO units, waiting backorder units, recent demand."""
    today = today or utcnow().date()
    stock = (
        select(
            Stock.product_id,
            func.sum(Stock.on_hand).label("on_hand"),
            func.sum(Stock.reserved).label("reserved"),
        )
        .group_by(Stock.product_id)
        .subquery("stock_totals")
    )
    on_order = (
        select(
            PurchaseOrderLine.product_id,
            func.sum(PurchaseOrderLine.qty_ordered - PurchaseOrderLine.qty_received).label(
                "on_order"
            ),
        )
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
        .where(PurchaseOrder.status.in_(OPEN_PO_STATUSES))
        .group_by(PurchaseOrderLine.product_id)
        .subquery("on_order")
    )
    waiting = (
        select(Backorder.product_id, func.sum(Backorder.qty).label("units"))
        .where(Backorder.status == "open")
        .group_by(Backorder.product_id)
        .subquery("waiting")
    )

    def asked(days: int, name: str):
        return (
            select(DemandDaily.product_id, func.sum(DemandDaily.qty_ordered).label("qty"))
            .where(DemandDaily.day >= today - dt.timedelta(days=days), DemandDaily.day < today)
            .group_by(DemandDaily.product_id)
            .subquery(name)
        )

    d28, d56, d84 = asked(28, "d28"), asked(56, "d56"), asked(84, "d84")
    statement = (
        select(
            Product.id,
            Product.sku,
            Product.name,
            Product.category,
            Product.supplier_id,
            Supplier.name,
            Supplier.lead_time_days,
            Product.reorder_point,
            func.coalesce(stock.c.on_hand, 0),
            func.coalesce(stock.c.reserved, 0),
            func.coalesce(on_order.c.on_order, 0),
            func.coalesce(waiting.c.units, 0),
            func.coalesce(d28.c.qty, 0),
            func.coalesce(d56.c.qty, 0),
            func.coalesce(d84.c.qty, 0),
        )
        .join(Supplier, Supplier.id == Product.supplier_id)
        .outerjoin(stock, stock.c.product_id == Product.id)
        .outerjoin(on_order, on_order.c.product_id == Product.id)
        .outerjoin(waiting, waiting.c.product_id == Product.id)
        .outerjoin(d28, d28.c.product_id == Product.id)
        .outerjoin(d56, d56.c.product_id == Product.id)
        .outerjoin(d84, d84.c.product_id == Product.id)
        .where(Product.active.is_(True))
        .order_by(Product.id)
    )
    with reading(engine) as conn:
        rows = conn.execute(statement).all()
    return pd.DataFrame(rows, columns=STATE_COLUMNS)


@dataclass(frozen=True)
class RiskList:
    """Products by backorder risk, with drivers and the rule's verdict."""

    table: pd.DataFrame  # product_id, sku, name, supplier, risk, drivers, rule, available...
    horizon_weeks: int | None  # None before the first model run
    source: str  # which model run scored it, or why only the rule is shown


def risk_horizon(engine: Engine | Connection) -> int | None:
    """The newest risk model's horizon in weeks, or None before the first training."""
    with reading(engine) as conn, Session(bind=conn) as session:
        loaded = latest(session, "backorder_risk")
    return None if loaded is None else int(loaded.model.horizon_weeks)


def backorder_risk(engine: Engine | Connection, today: dt.date | None = None) -> RiskList:
    """Every active product scored, riskiest first (by the rule alone before any training)."""
    state = risk_state(engine, today)
    with reading(engine) as conn, Session(bind=conn) as session:
        loaded = latest(session, "backorder_risk")
    keep = ["product_id", "sku", "name", "category", "supplier"]
    if state.empty:
        return RiskList(pd.DataFrame(columns=[*keep, "risk", "rule", "drivers"]), None, "")
    if loaded is None:
        base = features_from_state(
            state.assign(lead_days=state["quoted_days"], supplier_late_rate=0)
        )
        table = state[keep].assign(
            risk=float("nan"),
            rule=rule_verdict(base["available"], base["reorder_point"]),
            drivers="",
            available=base["available"],
            reorder_point=base["reorder_point"],
            on_order=base["on_order"],
            cover_days=base["cover_days"],
        )
        table = table.sort_values(["rule", "cover_days"], ascending=[False, True])
        return RiskList(
            table.reset_index(drop=True),
            None,
            "no risk model trained yet: the reorder rule alone",
        )
    model = loaded.model
    scored = score(model, state)
    table = pd.concat(
        [
            state[keep],
            scored[["risk", "rule", "drivers", "available", "reorder_point", "on_order"]],
            scored[["cover_days"]],
        ],
        axis=1,
    ).sort_values("risk", ascending=False)
    return RiskList(
        table.reset_index(drop=True),
        int(model.horizon_weeks),
        f"model run {loaded.run_id}, supplier records as of {model.as_of.isoformat()}",
    )


def risk_model_run(engine: Engine | Connection) -> int | None:
    """The id of the risk model run in use (None before the first), to key cached lists."""
    with reading(engine) as conn, Session(bind=conn) as session:
        run = session.scalars(newest_run_query("backorder_risk")).first()
        return run.id if run is not None else None
