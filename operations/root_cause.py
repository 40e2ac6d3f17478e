"""Why a line went short: one root cause per backorder, decided when the shortage happens.

The rule is checked in this order and the first that holds wins (the more specific facts first,
so a late delivery is not blamed on the forecast):

1. ``late_supplier``: an open purchase order for the product was due before today and has not
   fully arrived.
2. ``demand_spike``: the line asks for at least ``SPIKE_FACTOR`` times the product's usual line
   (average units per order line over the last ``USUAL_SIZE_DAYS`` days, with at least
   ``USUAL_SIZE_MIN_LINES`` lines of history).
3. ``allocation``: the stock on hand would have covered the whole line, but it was already
   reserved for other orders (placed earlier, or filled first by the priority score).
4. ``forecast_miss``: demand over the supplier's lead time (the last lead-time days, this line
   included) exceeded the P90 forecast for that many days (newest demand model run).
5. ``threshold_too_low``: the reorder point is below the forecast need over the lead time (mean
   forecast per day x lead-time days).
6. ``unknown``: none of the above (for example no forecast yet).

Short picks (goods missing from the bin) are recorded as ``short_pick`` by the warehouse.
Decided at the moment of the shortage because the facts (an overdue PO, the stock reserved for
others) change afterwards and cannot be read back reliably.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data.schema import (
    OPEN_PO_STATUSES,
    DemandDaily,
    Forecast,
    ModelRun,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Supplier,
)

SPIKE_FACTOR = 4.0
USUAL_SIZE_DAYS = 90
USUAL_SIZE_MIN_LINES = 3
DEMAND_MODEL_KIND = "demand"
# Days in one forecast period, by the frequency the demand run was trained at.
DAYS_PER_PERIOD = {"D": 1.0, "W": 7.0, "M": 30.4}

RULE_HELP = (
    "Each backorder gets one cause, the first of these that held when it went short: "
    "late supplier (an open purchase order for the product was due before that day and had not "
    f"arrived); demand spike (the line asked for at least {SPIKE_FACTOR:g}x the product's usual order "
    f"line over the previous {USUAL_SIZE_DAYS} days); allocation (the stock on hand would have covered the "
    "line but was already reserved for other orders); forecast miss (demand over the supplier's "
    "lead time exceeded the P90 forecast for it); threshold too low (the reorder point was below "
    "the forecast need over the lead time); short pick (goods missing in the bin at picking); "
    "otherwise unknown."
)


def _late_supplier(session: Session, product_id: int, today: dt.date) -> bool:
    overdue = session.execute(
        select(PurchaseOrderLine.id)
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
        .where(
            PurchaseOrderLine.product_id == product_id,
            PurchaseOrder.status.in_(OPEN_PO_STATUSES),
            PurchaseOrderLine.qty_received < PurchaseOrderLine.qty_ordered,
            PurchaseOrder.expected_date < today,
        )
        .limit(1)
    ).first()
    return overdue is not None


def _demand(session: Session, product_id: int, since: dt.date, until: dt.date) -> tuple[int, int]:
    """(lines, units) asked for the product on days in [since, until)."""
    lines, units = session.execute(
        select(
            func.coalesce(func.sum(DemandDaily.lines), 0),
            func.coalesce(func.sum(DemandDaily.qty_ordered), 0),
        ).where(
            DemandDaily.product_id == product_id,
            DemandDaily.day >= since,
            DemandDaily.day < until,
        )
    ).one()
    return int(lines), int(units)


def _daily_forecast(session: Session, product_id: int) -> tuple[float, float] | None:
    """(mean, P90) units per day from the newest demand run, or None without one."""
    run = session.execute(
        select(ModelRun.id, ModelRun.params)
        .where(ModelRun.kind == DEMAND_MODEL_KIND, ModelRun.status == "ok")
        .order_by(ModelRun.id.desc())
        .limit(1)
    ).first()
    if run is None:
        return None
    mean, p90 = session.execute(
        select(func.avg(Forecast.mean), func.avg(Forecast.p90)).where(
            Forecast.model_run_id == run.id, Forecast.product_id == product_id
        )
    ).one()
    if mean is None:
        return None
    per_period = DAYS_PER_PERIOD.get(str((run.params or {}).get("freq", "W")), 7.0)
    return float(mean) / per_period, float(p90) / per_period


def attribute_shortage(
    session: Session,
    *,
    product: Product,
    qty: int,
    on_hand: int,
    today: dt.date,
) -> str:
    """The root cause of a line of ``qty`` units of ``product`` going short today.

    ``on_hand`` is the stock on hand when the line was placed (before this order).
    """
    if _late_supplier(session, product.id, today):
        return "late_supplier"
    lines, units = _demand(session, product.id, today - dt.timedelta(days=USUAL_SIZE_DAYS), today)
    if lines >= USUAL_SIZE_MIN_LINES and qty >= SPIKE_FACTOR * units / lines:
        return "demand_spike"
    if on_hand >= qty:
        return "allocation"
    forecast = _daily_forecast(session, product.id)
    if forecast is None:
        return "unknown"
    daily_mean, daily_p90 = forecast
    lead_days = session.execute(
        select(Supplier.lead_time_days).where(Supplier.id == product.supplier_id)
    ).scalar_one()
    lead_days = max(int(lead_days), 1)
    # Today's earlier orders are in the summary already; this line is not yet.
    since = today - dt.timedelta(days=lead_days - 1)
    _, recent = _demand(session, product.id, since, today + dt.timedelta(days=1))
    asked = recent + qty
    if asked > daily_p90 * lead_days:
        return "forecast_miss"
    if product.reorder_point < daily_mean * lead_days:
        return "threshold_too_low"
    return "unknown"
