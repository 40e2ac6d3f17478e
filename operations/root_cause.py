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
from dataclasses import dataclass

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.orm import Session

from data.db import core_connection
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


@dataclass(frozen=True)
class ShortageFacts:
    """What the rule reads about one product, gathered before it is applied."""

    late_supplier: bool
    usual_lines: int  # order lines over the last USUAL_SIZE_DAYS days
    usual_units: int
    forecast: tuple[float, float] | None  # (mean, P90) units per day, newest demand run
    lead_days: int  # the supplier's quoted lead time, at least 1
    recent_units: int  # units asked over the last lead-time days, today's earlier orders in
    reorder_point: int


def decide_cause(facts: ShortageFacts, qty: int, on_hand: int) -> str:
    """The rule applied to gathered facts (the first cause that holds, in the order above)."""
    if facts.late_supplier:
        return "late_supplier"
    lines, units = facts.usual_lines, facts.usual_units
    if lines >= USUAL_SIZE_MIN_LINES and qty >= SPIKE_FACTOR * units / lines:
        return "demand_spike"
    if on_hand >= qty:
        return "allocation"
    if facts.forecast is None:
        return "unknown"
    daily_mean, daily_p90 = facts.forecast
    if facts.recent_units + qty > daily_p90 * facts.lead_days:
        return "forecast_miss"
    if facts.reorder_point < daily_mean * facts.lead_days:
        return "threshold_too_low"
    return "unknown"


@dataclass(frozen=True)
class ProductFacts:
    """The facts of a product that placing orders does not change (catalogue, POs, forecasts)."""

    reorder_point: int
    lead_days: int  # the supplier's quoted lead time, at least 1
    late_supplier: bool  # an open PO line for it was due before the day asked about
    forecast: tuple[float, float] | None


def product_facts(
    session: Session, product_ids: list[int] | None, today: dt.date
) -> dict[int, ProductFacts]:
    """:class:`ProductFacts` of several products (None: every product) as of ``today``, in at
    most four queries."""
    ids = None if product_ids is None else sorted(set(product_ids))
    if ids == []:
        return {}
    products = select(Product.id, Product.reorder_point, Supplier.lead_time_days).join(
        Supplier, Supplier.id == Product.supplier_id
    )
    late = (
        select(PurchaseOrderLine.product_id)
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
        .where(
            PurchaseOrder.status.in_(OPEN_PO_STATUSES),
            PurchaseOrderLine.qty_received < PurchaseOrderLine.qty_ordered,
            PurchaseOrder.expected_date < today,
        )
        .distinct()
    )
    if ids is not None:
        products = products.where(Product.id.in_(ids))
        late = late.where(PurchaseOrderLine.product_id.in_(ids))
    late_ids = set(session.scalars(late))
    forecasts = _daily_forecasts(session, ids)
    return {
        pid: ProductFacts(reorder_point, max(int(lead), 1), pid in late_ids, forecasts.get(pid))
        for pid, reorder_point, lead in session.execute(products)
    }


# Built once (placing an order runs it for every short order). A day before ``recent_from``
# (the start of the longest lead-time window asked about) only counts in the usual line, so
# those days come back summed in one row per product (day NULL), the later ones day by day.
_DEMAND_DAYS = (
    select(
        DemandDaily.product_id,
        case(
            (
                DemandDaily.day >= bindparam("recent_from", type_=DemandDaily.day.type),
                DemandDaily.day,
            )
        ).label("day"),
        DemandDaily.lines,
        DemandDaily.qty_ordered,
    )
    .where(
        # Days listed, not a range: the summary's key starts with the day, so this seeks
        # (day, product) pairs instead of reading every product's rows in the range.
        DemandDaily.day.in_(bindparam("days", expanding=True)),
        DemandDaily.product_id.in_(bindparam("ids", expanding=True)),
    )
    .subquery("asked")
)
_RECENT_DEMAND = select(
    _DEMAND_DAYS.c.product_id,
    _DEMAND_DAYS.c.day,
    func.sum(_DEMAND_DAYS.c.lines),
    func.sum(_DEMAND_DAYS.c.qty_ordered),
).group_by(_DEMAND_DAYS.c.product_id, _DEMAND_DAYS.c.day)


def shortage_facts(
    session: Session,
    product_ids: list[int],
    today: dt.date,
    known: dict[int, ProductFacts] | None = None,
) -> dict[int, ShortageFacts]:
    """The facts of several products: their :func:`product_facts` (``known`` when the caller
    has them, for every product asked) and one query of their recent demand."""
    ids = sorted(set(product_ids))
    if not ids:
        return {}
    products = known if known is not None else product_facts(session, ids, today)
    lead = max([1] + [products[pid].lead_days for pid in ids if pid in products])
    longest = max(USUAL_SIZE_DAYS, lead)
    recent_from = today - dt.timedelta(days=lead - 1)  # no product's recent window starts earlier
    # The days before recent_from (summed, day None) lie in the usual window unless a lead
    # time is longer than it (then they are only the one day beyond it).
    older_usual = longest == USUAL_SIZE_DAYS
    days: dict[int, list[tuple[dt.date | None, int, int]]] = {}
    for pid, day, lines, units in core_connection(session).execute(
        _RECENT_DEMAND,
        {
            "days": [today - dt.timedelta(days=n) for n in range(longest + 1)],
            "ids": ids,
            "recent_from": recent_from,
        },
    ):
        days.setdefault(pid, []).append((day, int(lines or 0), int(units or 0)))
    usual_since = today - dt.timedelta(days=USUAL_SIZE_DAYS)
    facts = {}
    for pid in ids:
        product = products.get(pid)
        if product is None:  # a product without a supplier row
            continue
        recent_since = today - dt.timedelta(days=product.lead_days - 1)
        history = days.get(pid, [])
        usual = [
            (n, u)
            for day, n, u in history
            if (older_usual if day is None else usual_since <= day < today)
        ]
        facts[pid] = ShortageFacts(
            late_supplier=product.late_supplier,
            usual_lines=sum(n for n, _ in usual),
            usual_units=sum(u for _, u in usual),
            forecast=product.forecast,
            lead_days=product.lead_days,
            recent_units=sum(u for day, _, u in history if day is not None and day >= recent_since),
            reorder_point=product.reorder_point,
        )
    return facts


def _daily_forecasts(
    session: Session, product_ids: list[int] | None
) -> dict[int, tuple[float, float]]:
    """(mean, P90) units per day of each product (None: every one) from the newest demand run."""
    run = session.execute(
        select(ModelRun.id, ModelRun.params)
        .where(ModelRun.kind == DEMAND_MODEL_KIND, ModelRun.status == "ok")
        .order_by(ModelRun.id.desc())
        .limit(1)
    ).first()
    if run is None:
        return {}
    per_period = DAYS_PER_PERIOD.get(str((run.params or {}).get("freq", "W")), 7.0)
    query = (
        select(Forecast.product_id, func.avg(Forecast.mean), func.avg(Forecast.p90))
        .where(Forecast.model_run_id == run.id)
        .group_by(Forecast.product_id)
    )
    if product_ids is not None:
        query = query.where(Forecast.product_id.in_(product_ids))
    rows = session.execute(query)
    return {
        pid: (float(mean) / per_period, float(p90) / per_period)
        for pid, mean, p90 in rows
        if mean is not None
    }


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
    facts = shortage_facts(session, [product.id], today)[product.id]
    return decide_cause(facts, qty, on_hand)
