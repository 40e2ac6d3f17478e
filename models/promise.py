"""Restock and delivery dates for backorders, from the available-to-promise timeline.

The walk: free stock now; then each open purchase order line by its expected date, shifted by
that supplier's learned delay (P50 for the likely date, P90 for the late case); the supply is
consumed first by the open backorders ahead in the queue. Beyond the open POs, the time to the
next reorder plus the supplier's lead time (P50/P90). Delivery adds the picking days (setting
``pick_days``, working days) and the carrier transit time to the customer's region (P50/P90).

Learned figures come from the newest "lead_time" and "transit" model runs (see
:mod:`models.train`); without them the supplier's quoted lead time and the carriers' quoted
transit days stand in, and the reason says so.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from data.db import core_connection
from data.schema import (
    OPEN_PO_STATUSES,
    Backorder,
    Carrier,
    Customer,
    ModelRun,
    Order,
    OrderLine,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Stock,
    Supplier,
)
from data.settings import all_settings
from models.leadtime import ConditionalDurations, DurationDistribution, lookup
from models.priority import priority_score

# Days from a shortage beyond every open PO to the next purchase order going out: POs are
# drafted when stock falls below the reorder point and reviewed within a couple of days.
DAYS_TO_NEXT_REORDER = 2
# Without any history, the late case of a quoted lead time is this much longer.
QUOTED_LATE_FACTOR = 1.5


@dataclass(frozen=True)
class Estimate:
    """Likely and late-case delivery date, why, and the PO it waits on (write side's fields)."""

    likely: dt.date
    late: dt.date
    reason: str
    po_id: int | None
    restock_likely: dt.date | None = None
    restock_late: dt.date | None = None


@dataclass
class PromiseModels:
    """The learned duration distributions a promise needs (any may be missing).

    Each may be a fitted model or its table (:class:`DurationTable` for a
    :class:`DurationDistribution`, :class:`ConditionalTable` for a :class:`ConditionalDurations`);
    :func:`load_promise_models` hands out tables.
    """

    # sent -> received, by [supplier_id, category] (with start and quote when conditional)
    lead: DurationDistribution | ConditionalDurations | DurationTable | ConditionalTable | None = (
        None
    )
    delay: DurationDistribution | DurationTable | None = None  # expected -> received, [supplier]
    # shipped -> delivered, by [region] (with start when conditional)
    transit: (
        DurationDistribution | ConditionalDurations | DurationTable | ConditionalTable | None
    ) = None
    sources: dict = field(default_factory=dict)  # kind -> model run id, for the record


class DurationTable:
    """A fitted :class:`DurationDistribution` as plain dicts: one group's figures per lookup.

    The same walk as the model's own lookup (finest level first, then coarser ones, then the
    overall figures) without building a frame or checking the input per call, so a promise
    costs dictionary lookups. Keys are compared as text, as the model compares them.
    """

    __slots__ = ("levels", "overall")

    def __init__(self, model: DurationDistribution):
        def row(figures) -> tuple[float, float, int]:
            return float(figures[0]), float(figures[1]), int(figures[4])

        self.levels = [
            {tuple(str(k) for k in key): row(fig) for key, fig in level.items()}
            for level in model.levels_
        ]
        self.overall = row(model.overall_)

    def figures(self, key: list) -> tuple[float, float, int]:
        """(p50, p90, n) of the finest known group of ``key`` (given from coarse to fine)."""
        key = tuple(str(k) for k in key)
        for depth in range(min(len(self.levels), len(key)), 0, -1):
            hit = self.levels[depth - 1].get(key[:depth])
            if hit is not None:
                return hit
        return self.overall


class ConditionalTable:
    """A fitted :class:`ConditionalDurations` behind a memo of its own lookups.

    A conditional model's figures depend on the day (month, weekday) and the quoted days as
    well as the group, through boosted trees: no table of groups holds them. So this kind falls
    back to the model's own :func:`models.leadtime.lookup`, and keeps each answer by group and
    features; the same supplier on the same day costs one prediction per model run. The
    answers are exactly the model's (the memo only skips repeating a prediction).
    """

    __slots__ = ("model", "memo")

    KEPT = 20_000  # answers kept before the memo starts again (a few days of every group)

    def __init__(self, model: ConditionalDurations):
        self.model = model
        self.memo: dict[tuple, tuple[float, float, int]] = {}

    def figures(self, key: list, **features) -> tuple[float, float, int]:
        """(p50, p90, n) of ``key`` (coarse to fine) given ``features`` (start=, quoted_days=)."""
        memo_key = (tuple(str(k) for k in key), tuple(sorted(features.items())))
        hit = self.memo.get(memo_key)
        if hit is None:
            row = lookup(self.model, *key, **features)
            hit = float(row["p50"]), float(row["p90"]), int(row["n"])
            if len(self.memo) >= self.KEPT:
                self.memo.clear()
            self.memo[memo_key] = hit
        return hit

    def prime(self, asks: list[tuple[list, dict]]) -> None:
        """Answer many ``(key, features)`` asks in one prediction and keep the answers.

        Every ask gives the same feature names. The answers are the ones :meth:`figures` would
        give one by one; asks already kept are skipped.
        """
        todo: dict[tuple, tuple[list, dict]] = {}
        for key, features in asks:
            memo_key = (tuple(str(k) for k in key), tuple(sorted(features.items())))
            if memo_key not in self.memo:
                todo[memo_key] = (key, features)
        if not todo:
            return
        model = self.model
        rows = [
            {**{col: str(k) for col, k in zip(model.group_cols, key, strict=False)}, **features}
            for key, features in todo.values()
        ]
        found = model.predict_distribution(pd.DataFrame(rows))
        if len(self.memo) + len(todo) >= self.KEPT:
            self.memo.clear()
        for memo_key, p50, p90, n in zip(todo, found["p50"], found["p90"], found["n"], strict=True):
            self.memo[memo_key] = float(p50), float(p90), int(n)


def table_of(model):
    """The plain table of a fitted duration model (None stays None)."""
    if model is None:
        return None
    if isinstance(model, ConditionalDurations):
        return ConditionalTable(model)
    return DurationTable(model)


# Tables of the model runs in use, by database and runs (see _newest_runs): built once per run.
_TABLES: dict[tuple, PromiseModels] = {}
_TABLES_LOCK = threading.Lock()
TABLES_KEPT = 4


def _newest_runs(session: Session) -> tuple:
    """Which lead-time and transit runs are newest, in one small query: the key of their tables.

    The database is part of the key and each run's finish time with its id: run ids alone
    repeat across databases (several demo databases in one process, a database made afresh).
    """
    from models.registry import newest_run_query  # late import, as below

    def newest(kind: str, column):
        return newest_run_query(kind).with_only_columns(column).scalar_subquery()

    runs = session.execute(
        select(
            newest("lead_time", ModelRun.id),
            newest("lead_time", ModelRun.finished_at),
            newest("transit", ModelRun.id),
            newest("transit", ModelRun.finished_at),
        )
    ).one()
    return (str(session.get_bind().engine.url), *runs)


def _tables_of(models: PromiseModels) -> PromiseModels:
    return PromiseModels(
        lead=table_of(models.lead),
        delay=table_of(models.delay),
        transit=table_of(models.transit),
        sources=dict(models.sources),
    )


def _load_fitted(session: Session) -> PromiseModels:
    """The newest lead-time and transit models as fitted objects (read from the registry)."""
    from models.registry import latest  # late import: registry reads the engine only when asked

    models = PromiseModels()
    lead = latest(session, "lead_time")
    if lead is not None:
        models.lead = lead.model.get("lead")
        models.delay = lead.model.get("delay")
        models.sources["lead_time"] = lead.run_id
    transit = latest(session, "transit")
    if transit is not None:
        models.transit = transit.model.get("transit")
        models.sources["transit"] = transit.run_id
    return models


def load_promise_models(session: Session) -> PromiseModels:
    """The newest lead-time and transit models of this database (empty when never trained).

    One query asks which runs are newest; their tables are built the first time a run is seen
    and kept in memory by database and run, so a newer run is picked up by the next call.
    """
    key = _newest_runs(session)
    with _TABLES_LOCK:
        found = _TABLES.get(key)
    if found is not None:
        return found
    # A run finishing between the two reads only makes this entry newer than its key says;
    # the next call sees the newer key and loads again.
    models = _tables_of(_load_fitted(session))
    with _TABLES_LOCK:
        _TABLES[key] = models
        while len(_TABLES) > TABLES_KEPT:
            _TABLES.pop(next(iter(_TABLES)))
    return models


def _figures(
    model: DurationDistribution | ConditionalDurations | DurationTable | ConditionalTable | None,
    key: list,
    **features,
) -> tuple[float, float, int] | None:
    """(p50, p90, n) of ``key``; ``features`` (start, quoted_days) count for conditional models."""
    if model is None:
        return None
    if isinstance(model, DurationTable):
        return model.figures(key)  # a plain distribution has no other features
    if isinstance(model, ConditionalTable):
        return model.figures(key, **features)
    row = lookup(model, *key, **features)
    return float(row["p50"]), float(row["p90"]), int(row["n"])


def _days(value: float) -> int:
    return max(0, math.ceil(value - 1e-9))


def add_working_days(day: dt.date, days: int) -> dt.date:
    """``day`` moved forward by ``days`` working days (Monday to Friday)."""
    if days <= 0:
        return day
    return np.busday_offset(np.datetime64(day), days, roll="forward").astype(dt.date)


def _span(low: int, high: int) -> str:
    """'2' or '2-4': a range of days, one number when both ends agree."""
    return str(low) if high <= low else f"{low}-{high}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(frozen=True)
class Inbound:
    po_id: int
    number: str
    expected: dt.date
    likely: dt.date
    late: dt.date
    qty: int


@dataclass
class Timeline:
    """One product's supply: free stock now and open PO lines in likely-arrival order."""

    product_id: int
    free: int
    inbound: list[Inbound]
    supplier_name: str
    delay_note: str
    reorder_likely_days: int
    reorder_late_days: int
    reorder_note: str

    def restock(
        self, ahead: int, qty: int, today: dt.date
    ) -> tuple[dt.date, dt.date, Inbound | None, str]:
        """(likely, late, PO waited on, reason) for ``qty`` units after ``ahead`` queued units."""
        wanted = ahead + qty
        if self.free >= wanted:
            return today, today, None, "in stock now"
        supply, latest_late = self.free, today
        for po in self.inbound:
            supply += po.qty
            latest_late = max(latest_late, po.late)
            if supply >= wanted:
                note = f"waits on {po.number}"
                if po.expected < today:
                    note += f" (was due {po.expected.isoformat()})"
                return po.likely, latest_late, po, note
        # A new order rarely overtakes the ones already on the way.
        last_inbound = max((po.likely for po in self.inbound), default=today)
        likely = max(today + dt.timedelta(days=self.reorder_likely_days), last_inbound)
        late = max(latest_late, likely, today + dt.timedelta(days=self.reorder_late_days))
        covered = (
            "no open purchase order covers it"
            if not self.inbound
            else ("open purchase orders do not cover it")
        )
        return likely, late, None, f"{covered}: next reorder plus {self.reorder_note}"


@dataclass(frozen=True)
class SupplierRecord:
    """What a promise needs to know about the supplier of a product."""

    supplier_id: int
    name: str
    category: str
    quoted_days: int


def _lead_ask(supplier: SupplierRecord, today: dt.date) -> tuple[list, dict]:
    """The lead-time model's key and features for a new order to ``supplier`` placed today.

    A new order goes out about now, quoted at the supplier's usual lead time.
    """
    key = [str(supplier.supplier_id), supplier.category]
    return key, {"start": pd.Timestamp(today), "quoted_days": float(supplier.quoted_days)}


def prime_lead_times(
    models: PromiseModels, suppliers: Iterable[SupplierRecord], today: dt.date
) -> None:
    """Predict the lead times of many suppliers at once, so the timelines that follow only
    look them up (a conditional model's prediction costs far more one row at a time)."""
    if isinstance(models.lead, ConditionalTable):
        models.lead.prime([_lead_ask(supplier, today) for supplier in suppliers])


def make_timeline(
    product_id: int,
    free: int,
    open_lines: list[tuple[int, str, dt.date | None, int]],
    supplier: SupplierRecord,
    today: dt.date,
    models: PromiseModels,
) -> Timeline:
    """The timeline from free stock and open PO lines (po_id, number, expected date, qty)."""
    quoted = supplier.quoted_days
    delay = _figures(models.delay, [str(supplier.supplier_id)])
    delay_p50, delay_p90 = (
        (delay[0], delay[1]) if delay else (0.0, quoted * (QUOTED_LATE_FACTOR - 1))
    )
    if delay and delay[2] > 0 and round(delay_p50) > 0:
        delay_note = f"{supplier.name} usually {round(delay_p50)} days late"
    elif delay and delay[2] > 0:
        delay_note = f"{supplier.name} usually on time"
    else:
        delay_note = ""

    key, features = _lead_ask(supplier, today)
    lead = _figures(models.lead, key, **features)
    if lead and lead[2] > 0:
        lead_p50, lead_p90 = lead[0], lead[1]
        lead_note = (
            f"{supplier.name}'s lead time ({_days(lead_p50)} days, late case {_days(lead_p90)})"
        )
    else:
        lead_p50, lead_p90 = float(quoted), quoted * QUOTED_LATE_FACTOR
        lead_note = f"{supplier.name}'s quoted {quoted}-day lead time (no history yet)"

    inbound = []
    for po_id, number, expected, outstanding in open_lines:
        # An approved PO not yet sent has no date yet: it goes out now with the usual lead time.
        expected = expected or today + dt.timedelta(days=_days(lead_p50))
        likely = expected + dt.timedelta(days=_days(delay_p50)) if delay_p50 > 0 else expected
        late = expected + dt.timedelta(days=max(_days(delay_p90), 0))
        # Overdue beyond its usual delay: it can come at the earliest tomorrow, and the late
        # case keeps the supplier's usual spread instead of collapsing onto the likely date.
        overdue = expected < today
        floor = today + dt.timedelta(days=1) if overdue else today
        likely = max(likely, floor)
        spread = dt.timedelta(days=max(_days(delay_p90) - _days(delay_p50), 1))
        late = max(late, likely + spread) if overdue else max(late, likely)
        inbound.append(Inbound(po_id, number, expected, likely, late, outstanding))
    inbound.sort(key=lambda p: (p.likely, p.po_id))
    return Timeline(
        product_id=product_id,
        free=max(int(free), 0),
        inbound=inbound,
        supplier_name=supplier.name,
        delay_note=delay_note,
        reorder_likely_days=DAYS_TO_NEXT_REORDER + _days(lead_p50),
        reorder_late_days=DAYS_TO_NEXT_REORDER + _days(lead_p90),
        reorder_note=lead_note,
    )


def build_timeline(
    session: Session, product_id: int, today: dt.date, models: PromiseModels
) -> Timeline:
    """Free stock and inbound supply of one product now, with the supplier's learned record."""
    free = session.execute(
        select(func.coalesce(func.sum(Stock.on_hand - Stock.reserved), 0)).where(
            Stock.product_id == product_id
        )
    ).scalar_one()
    suppliers, open_lines = read_supply(session, [product_id])
    return make_timeline(
        product_id, int(free), open_lines.get(product_id, []), suppliers[product_id], today, models
    )


@dataclass(frozen=True)
class Transit:
    likely_days: int
    late_days: int
    note: str


def transit_from_models(
    region: str | None, models: PromiseModels, today: dt.date | None = None
) -> Transit | None:
    """Learned transit days to a region (P50/P90), or None without a transit model.

    ``today`` gives a conditional model the season; carrier, size and quote are not known yet.
    """
    when = {"start": pd.Timestamp(today)} if today is not None else {}
    figures = _figures(models.transit, [region or "(unknown)"], **when)
    if figures and figures[2] > 0:
        p50, p90 = _days(figures[0]), _days(figures[1])
        where = f" to {region}" if region else ""
        return Transit(p50, max(p90, p50), f"{_span(p50, p90)} days in transit{where}")
    return None


def transit_for(
    session: Session, region: str | None, models: PromiseModels, today: dt.date | None = None
) -> Transit:
    """Transit days to a region: learned P50/P90, else the carriers' quoted days."""
    learned = transit_from_models(region, models, today)
    if learned is not None:
        return learned
    quoted = session.execute(
        select(func.min(Carrier.transit_days), func.max(Carrier.transit_days))
    ).one()
    low = int(quoted[0]) if quoted[0] is not None else 2
    high = int(quoted[1]) if quoted[1] is not None else low
    return Transit(low, max(high, low), f"{_span(low, high)} days quoted transit")


def _delivery(
    restock_likely: dt.date,
    restock_late: dt.date,
    pick_days: int,
    transit: Transit,
) -> tuple[dt.date, dt.date]:
    likely = add_working_days(restock_likely, pick_days) + dt.timedelta(days=transit.likely_days)
    late = add_working_days(restock_late, pick_days) + dt.timedelta(days=transit.late_days)
    return likely, max(late, likely)


def _queue_ahead(session: Session, product_id: int) -> tuple[int, int]:
    """Units and count of open backorders of a product (all are ahead of a new one)."""
    units, count = session.execute(
        select(
            func.coalesce(func.sum(Backorder.qty_open), 0),
            func.count(Backorder.id),
        ).where(Backorder.product_id == product_id, Backorder.status == "open")
    ).one()
    return int(units), int(count)


def _region(session: Session, customer_id: int | None) -> str | None:
    if customer_id is None:
        return None
    return session.execute(
        select(Customer.region).where(Customer.id == customer_id)
    ).scalar_one_or_none()


def _reason(
    restock_note: str,
    position: int | None,
    ahead: int,
    timeline: Timeline,
    pick: int,
    transit: Transit,
) -> str:
    parts = [restock_note]
    if restock_note != "in stock now":
        if position is not None:
            parts[0] += f", {_ordinal(position)} in queue"
        else:
            parts[0] += f", {ahead} units queued ahead" if ahead else ", first in queue"
        if timeline.delay_note and restock_note.startswith("waits on"):
            parts.append(timeline.delay_note)
    parts.append(f"then {pick} pick day{'s' if pick != 1 else ''} and {transit.note}")
    return "; ".join(parts)


def estimate_backorder(
    session: Session,
    product_id: int,
    qty_needed: int,
    customer_id: int | None,
    today: dt.date,
    *,
    ahead: int | None = None,
    position: int | None = None,
    models: PromiseModels | None = None,
) -> Estimate:
    """Likely and late delivery dates for ``qty_needed`` units of a product short for a customer.

    ``ahead`` is the number of units queued before this request (default: every open
    backorder of the product) and ``position`` its place in the queue (default: last when
    ``ahead`` is counted here; when only ``ahead`` is given the reason counts units instead).
    """
    models = models if models is not None else load_promise_models(session)
    timeline = build_timeline(session, product_id, today, models)
    if ahead is None:
        ahead, count = _queue_ahead(session, product_id)
        position = position or count + 1
    pick_days = int(all_settings(session.connection())["pick_days"])
    transit = transit_for(session, _region(session, customer_id), models, today)
    return _estimate(timeline, ahead, qty_needed, position, today, pick_days, transit)


def _estimate(timeline, ahead, qty, position, today, pick_days, transit) -> Estimate:
    r_likely, r_late, po, note = timeline.restock(ahead, qty, today)
    likely, late = _delivery(r_likely, r_late, pick_days, transit)
    return Estimate(
        likely=likely,
        late=late,
        reason=_reason(note, position, ahead, timeline, pick_days, transit)[:300],
        po_id=po.po_id if po else None,
        restock_likely=r_likely,
        restock_late=r_late,
    )


@dataclass(frozen=True)
class PromiseInputs:
    """Everything a new backorder's estimate needs for some products, read in a few queries.

    Read once before an order takes its stock locks; :meth:`estimate` is then plain arithmetic,
    giving the same dates and reasons as :func:`estimate_backorder` on the same data.
    """

    today: dt.date
    models: PromiseModels
    pick_days: int
    transit: Transit  # to the customer's region
    free: dict[int, int]  # product -> free units over every warehouse
    suppliers: dict[int, SupplierRecord]
    open_lines: dict[int, list[tuple[int, str, dt.date | None, int]]]
    queue: dict[int, tuple[int, int]]  # product -> (open backorder units, count)

    def estimate(
        self,
        product_id: int,
        qty: int,
        *,
        free: int | None = None,
        behind: tuple[int, int] = (0, 0),
    ) -> Estimate:
        """Dates for ``qty`` units queued behind every open backorder of the product.

        ``free`` overrides the free stock read (for example after this order's reservations);
        ``behind`` is (units, backorders) queued since the read, ahead of these units (the
        earlier lines of the same order for a product it holds on several lines).
        """
        timeline = make_timeline(
            product_id,
            self.free.get(product_id, 0) if free is None else free,
            self.open_lines.get(product_id, []),
            self.suppliers[product_id],
            self.today,
            self.models,
        )
        ahead, count = self.queue.get(product_id, (0, 0))
        ahead, count = ahead + behind[0], count + behind[1]
        return _estimate(timeline, ahead, qty, count + 1, self.today, self.pick_days, self.transit)


# Per product: its supplier, and its open purchase order lines (PO id, number, expected, units).
Supply = tuple[dict[int, SupplierRecord], dict[int, list[tuple[int, str, dt.date | None, int]]]]


def read_supply(session: Session, product_ids: list[int] | None) -> Supply:
    """The supplier and the open purchase order lines of each product (None: every product),
    in two queries.

    Placing orders changes neither, so a caller may keep them while the catalogue and the
    purchase orders stand still (see ``operations.reference``).
    """
    ids = None if product_ids is None else sorted(set(product_ids))
    if ids == []:
        return {}, {}
    suppliers_query = select(
        Product.id, Product.category, Supplier.id, Supplier.name, Supplier.lead_time_days
    ).join(Supplier, Supplier.id == Product.supplier_id)
    lines_query = (
        select(
            PurchaseOrderLine.product_id,
            PurchaseOrder.id,
            PurchaseOrder.number,
            PurchaseOrder.expected_date,
            PurchaseOrderLine.qty_ordered - PurchaseOrderLine.qty_received,
        )
        .join(PurchaseOrderLine, PurchaseOrderLine.po_id == PurchaseOrder.id)
        .where(
            PurchaseOrder.status.in_(OPEN_PO_STATUSES),
            PurchaseOrderLine.qty_ordered > PurchaseOrderLine.qty_received,
        )
    )
    if ids is not None:
        suppliers_query = suppliers_query.where(Product.id.in_(ids))
        lines_query = lines_query.where(PurchaseOrderLine.product_id.in_(ids))
    suppliers = {
        pid: SupplierRecord(sid, name, category, quoted)
        for pid, category, sid, name, quoted in session.execute(suppliers_query)
    }
    open_lines: dict[int, list[tuple[int, str, dt.date | None, int]]] = {}
    for pid, po_id, number, expected, outstanding in session.execute(lines_query):
        open_lines.setdefault(pid, []).append((po_id, number, expected, outstanding))
    return suppliers, open_lines


# Units and count of the open backorders of some products (built once: read for every order
# with a short line).
_OPEN_QUEUES = (
    select(
        Backorder.product_id,
        func.coalesce(func.sum(Backorder.qty_open), 0),
        func.count(Backorder.id),
    )
    .where(Backorder.product_id.in_(bindparam("ids", expanding=True)), Backorder.status == "open")
    .group_by(Backorder.product_id)
)


def read_promise_inputs(
    session: Session,
    product_ids: list[int],
    region: str | None,
    today: dt.date,
    *,
    pick_days: int | None = None,
    free: dict[int, int] | None = None,
    models: PromiseModels | None = None,
    transit: Transit | None = None,
    supply: Supply | None = None,
) -> PromiseInputs:
    """The inputs of :class:`PromiseInputs` for ``product_ids`` (batched: one query per kind).

    ``pick_days``, ``free``, the promise ``models``, the region's ``transit`` and the products'
    ``supply`` (:func:`read_supply`, covering every product asked) may be given when the caller
    has read them already; the open backorders ahead are always read here.
    """
    ids = sorted(set(product_ids))
    models = models if models is not None else load_promise_models(session)
    if pick_days is None:
        pick_days = int(all_settings(session.connection())["pick_days"])
    if transit is None:
        transit = transit_for(session, region, models, today)
    if not ids:
        return PromiseInputs(today, models, pick_days, transit, {}, {}, {}, {})
    if free is None:
        free = {
            pid: int(units)
            for pid, units in session.execute(
                select(Stock.product_id, func.sum(Stock.on_hand - Stock.reserved))
                .where(Stock.product_id.in_(ids))
                .group_by(Stock.product_id)
            )
        }
    suppliers, open_lines = supply if supply is not None else read_supply(session, ids)
    queue = {
        pid: (int(units), int(count))
        for pid, units, count in core_connection(session).execute(_OPEN_QUEUES, {"ids": ids})
    }
    return PromiseInputs(
        today,
        models,
        pick_days,
        transit,
        dict(free),
        {pid: suppliers[pid] for pid in ids if pid in suppliers},
        {pid: open_lines[pid] for pid in ids if pid in open_lines},
        queue,
    )


@dataclass(frozen=True)
class PromiseChange:
    """A backorder's estimate before and after re-promising."""

    backorder_id: int
    product_id: int
    customer_id: int
    old_likely: dt.date | None
    new_likely: dt.date
    old_late: dt.date | None
    new_late: dt.date
    promised_date: dt.date | None
    reason: str

    @property
    def slipped(self) -> bool:
        """Later than before and later than the date promised to the customer."""
        return (
            self.old_likely is not None
            and self.new_likely > self.old_likely
            and self.promised_date is not None
            and self.new_likely > self.promised_date
        )


def open_backorder_queue(session: Session, product_id: int, today: dt.date) -> list[Backorder]:
    """Open backorders of a product in the order stock will reach them (priority, then age)."""
    weights = all_settings(session.connection())
    rows = session.execute(
        select(Backorder, Order.priority, Customer.tier)
        .join(OrderLine, OrderLine.id == Backorder.order_line_id)
        .join(Order, Order.id == OrderLine.order_id)
        .join(Customer, Customer.id == Backorder.customer_id)
        .where(Backorder.product_id == product_id, Backorder.status == "open")
    ).all()
    now = dt.datetime.combine(today, dt.time())
    ranked = []
    for backorder, priority, tier in rows:
        score, _ = priority_score(
            tier=tier,
            priority=priority,
            days_waiting=(now - backorder.created_at).total_seconds() / 86400,
            days_to_promise=None
            if backorder.promised_date is None
            else (backorder.promised_date - today).days,
            weights=weights,
        )
        ranked.append((-score, backorder.created_at, backorder.id, backorder))
    ranked.sort(key=lambda r: r[:3])
    return [r[3] for r in ranked]


def reestimate_open_backorders(
    session: Session,
    product_ids: list[int] | None = None,
    today: dt.date | None = None,
    models: PromiseModels | None = None,
) -> list[PromiseChange]:
    """New estimates for every open backorder (of the given products), written to the rows.

    Walks each product's queue once, in priority order. Returns the backorders whose likely or
    late date changed; ``change.slipped`` marks a promise that now looks broken.
    """
    today = today or dt.date.today()
    models = models if models is not None else load_promise_models(session)
    query = select(Backorder.product_id).where(Backorder.status == "open").distinct()
    if product_ids is not None:
        query = query.where(Backorder.product_id.in_(list(product_ids)))
    pick_days = int(all_settings(session.connection())["pick_days"])
    transits: dict[str | None, Transit] = {}
    changes = []
    for product_id in sorted(session.scalars(query).all()):
        timeline = build_timeline(session, product_id, today, models)
        ahead = 0
        for position, backorder in enumerate(open_backorder_queue(session, product_id, today), 1):
            waiting = backorder.qty_open
            region = _region(session, backorder.customer_id)
            if region not in transits:
                transits[region] = transit_for(session, region, models, today)
            est = _estimate(timeline, ahead, waiting, position, today, pick_days, transits[region])
            ahead += waiting
            old_likely, old_late = backorder.estimated_date, backorder.estimated_late_date
            backorder.estimated_date = est.likely
            backorder.estimated_late_date = est.late
            backorder.estimate_reason = est.reason
            backorder.waits_on_po_id = est.po_id
            if (old_likely, old_late) != (est.likely, est.late):
                changes.append(
                    PromiseChange(
                        backorder.id,
                        product_id,
                        backorder.customer_id,
                        old_likely,
                        est.likely,
                        old_late,
                        est.late,
                        backorder.promised_date,
                        est.reason,
                    )
                )
    session.flush()
    return changes
