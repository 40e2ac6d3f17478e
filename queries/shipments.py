"""What logistics reads: shipments on the way in and out, their events, carriers' record.

Counts and sums run in SQL. Transit-time P50/P90 per carrier come from the newest transit model
run, or, before any run, from the same model fitted on the recent deliveries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Date, Engine, Float, case, cast, func, select

from data.plans import unindexed
from data.schema import (
    OPEN_PO_STATUSES,
    Backorder,
    Carrier,
    Communication,
    Customer,
    Order,
    OrderLine,
    PurchaseOrder,
    PurchaseOrderLine,
    Shipment,
    ShipmentEvent,
    ShipmentLine,
    Supplier,
    utcnow,
)
from models.leadtime import DurationDistribution, lookup_many
from queries import as_stored, plain_rows, read_frame, reading
from queries.purchasing import (
    LeadTimeRecord,
    backorders_waiting_per_po,
    lead_time_record,
    open_value_per_po,
    usual_delay_days,
)

# Carrier figures (on-time rate, transit times) look back this far.
CARRIER_WINDOW_DAYS = 90
OPEN_SHIPMENT_STATUSES = ("planned", "in_transit", "delayed")


def _day(conn: Connection, column):
    if conn.dialect.name == "sqlite":
        return func.date(column)
    return cast(column, Date)


def _last_events(conn: Connection, shipment_ids: list[int]) -> dict[int, tuple]:
    """The newest event (kind, at, note) of each shipment."""
    if not shipment_ids:
        return {}
    newest = (
        select(ShipmentEvent.shipment_id, func.max(ShipmentEvent.id).label("event_id"))
        .where(ShipmentEvent.shipment_id.in_(shipment_ids))
        .group_by(ShipmentEvent.shipment_id)
        .subquery("newest")
    )
    rows = conn.execute(
        select(
            ShipmentEvent.shipment_id, ShipmentEvent.kind, ShipmentEvent.at, ShipmentEvent.note
        ).join(newest, newest.c.event_id == ShipmentEvent.id)
    ).all()
    return {r.shipment_id: (r.kind, r.at, r.note) for r in rows}


# --- inbound -------------------------------------------------------------------------------

INBOUND_COLUMNS = [
    "shipment_id",
    "shipment",
    "po_id",
    "po_number",
    "supplier_id",
    "supplier",
    "carrier_id",
    "carrier",
    "tracking",
    "status",
    "promised_date",
    "estimated_arrival",
    "likely_arrival",
    "late_case_arrival",
    "predicted_late",
    "backorders",
    "backordered",
    "customers",
    "open_value",
    "last_event",
]


# Shipments on the way are picked by id from the open ones (the status index) and join their
# carrier (waiting backorders their customer) by key with the join column marked unindexed:
# with statistics, which give "on the way" as many rows as "delivered", SQLite would rather
# scan the carriers and build a throwaway index over every shipment ever made (data/plans.py).


def inbound_in_transit(
    engine: Engine | Connection,
    *,
    today: dt.date | None = None,
    only_filling_backorders: bool = False,
    record: LeadTimeRecord | None = None,
) -> pd.DataFrame:
    """Inbound shipments of open POs: the backorders each fills, the arrival the supplier's
    record predicts (estimated arrival + usual delay P50, late case P90), the customers waiting.
    """
    today = today or utcnow().date()
    table = (record or lead_time_record(engine)).table.set_index("supplier_id")
    with reading(engine) as conn:
        waiting = backorders_waiting_per_po().subquery("waiting")
        # Only the lines of open POs with a shipment on the way, not every PO ever sent.
        moving = select(Shipment.po_id).where(
            Shipment.direction == "inbound", Shipment.status.in_(OPEN_SHIPMENT_STATUSES)
        )
        value = open_value_per_po().where(PurchaseOrderLine.po_id.in_(moving)).subquery("value")
        query = (
            select(
                Shipment.id.label("shipment_id"),
                Shipment.number.label("shipment"),
                PurchaseOrder.id.label("po_id"),
                PurchaseOrder.number.label("po_number"),
                Supplier.id.label("supplier_id"),
                Supplier.name.label("supplier"),
                Carrier.id.label("carrier_id"),
                Carrier.name.label("carrier"),
                Shipment.tracking,
                Shipment.status,
                Shipment.promised_date,
                func.coalesce(Shipment.estimated_arrival, PurchaseOrder.expected_date).label(
                    "estimated_arrival"
                ),
                func.coalesce(waiting.c.backorders, 0).label("backorders"),
                func.coalesce(waiting.c.backordered, 0).label("backordered"),
                cast(func.coalesce(value.c.open_value, 0), Float).label("open_value"),
            )
            .join(PurchaseOrder, PurchaseOrder.id == Shipment.po_id)
            .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
            .join(Carrier, Carrier.id == unindexed(Shipment.carrier_id))
            .outerjoin(waiting, waiting.c.po_id == PurchaseOrder.id)
            .outerjoin(value, value.c.po_id == PurchaseOrder.id)
            .where(
                # By id from the status index: see the note above inbound_in_transit.
                Shipment.id.in_(
                    select(Shipment.id).where(
                        Shipment.direction == "inbound",
                        Shipment.status.in_(OPEN_SHIPMENT_STATUSES),
                    )
                ),
                PurchaseOrder.status.in_(OPEN_PO_STATUSES),
            )
            .order_by(Shipment.estimated_arrival, Shipment.id)
        )
        if only_filling_backorders:
            query = query.where(func.coalesce(waiting.c.backorders, 0) > 0)
        df = read_frame(conn, query)
        names = conn.execute(
            select(Backorder.waits_on_po_id, Customer.name)
            .join(Customer, Customer.id == unindexed(Backorder.customer_id))
            .where(
                Backorder.status == "open",
                Backorder.waits_on_po_id.in_(df["po_id"].tolist() or [0]),
            )
            .group_by(Backorder.waits_on_po_id, Customer.name)
            .order_by(Backorder.waits_on_po_id, Customer.name)
        ).all()
        events = _last_events(conn, df["shipment_id"].tolist())
    if df.empty:
        return pd.DataFrame(columns=INBOUND_COLUMNS)
    customers: dict[int, list[str]] = {}
    for po_id, name in names:
        customers.setdefault(po_id, []).append(name)
    for col in ("promised_date", "estimated_arrival"):
        df[col] = pd.to_datetime(df[col]).dt.date
    p50 = df["supplier_id"].map(table["delay_p50"]).map(usual_delay_days)
    p90 = df["supplier_id"].map(table["delay_p90"]).map(usual_delay_days)
    tomorrow = today + dt.timedelta(days=1)
    likely, late = [], []
    for est, d50, d90 in zip(df["estimated_arrival"], p50, p90, strict=True):
        if est is None or pd.isna(est):
            likely.append(None)
            late.append(None)
            continue
        one = max(est + dt.timedelta(days=int(d50)), tomorrow if est < today else today)
        likely.append(one)
        late.append(max(est + dt.timedelta(days=int(max(d50, d90))), one))
    df["likely_arrival"] = likely
    df["late_case_arrival"] = late
    df["predicted_late"] = [
        bool(one and promised and one > promised)
        for one, promised in zip(df["likely_arrival"], df["promised_date"], strict=True)
    ]
    df["customers"] = df["po_id"].map(lambda p: ", ".join(customers.get(p, [])))
    df["last_event"] = df["shipment_id"].map(lambda s: _event_text(events.get(s)))
    return df[INBOUND_COLUMNS]


def _event_text(event) -> str:
    if not event:
        return ""
    kind, at, note = event
    when = pd.Timestamp(at).strftime("%d %b %H:%M")
    return f"{kind.replace('_', ' ')} {when}" + (f": {note}" if note else "")


# --- outbound ------------------------------------------------------------------------------

OUTBOUND_COLUMNS = [
    "shipment_id",
    "shipment",
    "order_id",
    "order_number",
    "customer_id",
    "customer",
    "region",
    "carrier_id",
    "carrier",
    "tracking",
    "status",
    "shipped_at",
    "promised_date",
    "estimated_arrival",
    "days_late",
    "predicted_late",
    "backordered_lines",
    "value",
    "last_event",
]


def outbound_in_transit(
    engine: Engine | Connection,
    *,
    today: dt.date | None = None,
    only_backordered: bool = True,
    only_predicted_late: bool = False,
    carrier_id: int | None = None,
) -> pd.DataFrame:
    """Outbound shipments on the way, those carrying backordered goods by default.

    ``predicted_late``: the estimated arrival is after the promised date (flagged before the
    promise is missed); ``days_late`` is by how many days.
    """
    today = today or utcnow().date()
    with reading(engine) as conn:
        # Only the lines of shipments on the way: summing every shipment ever made per view
        # cost seconds on a long history.
        on_the_way = select(Shipment.id).where(
            Shipment.direction == "outbound", Shipment.status.in_(OPEN_SHIPMENT_STATUSES)
        )
        carries = (
            select(
                ShipmentLine.shipment_id,
                func.count(func.distinct(Backorder.id)).label("backordered_lines"),
            )
            .join(Backorder, Backorder.order_line_id == ShipmentLine.order_line_id)
            .where(ShipmentLine.shipment_id.in_(on_the_way))
            .group_by(ShipmentLine.shipment_id)
            .subquery("carries")
        )
        value = (
            select(
                ShipmentLine.shipment_id,
                func.sum(ShipmentLine.qty * OrderLine.unit_price).label("value"),
            )
            .join(OrderLine, OrderLine.id == ShipmentLine.order_line_id)
            .where(ShipmentLine.shipment_id.in_(on_the_way))
            .group_by(ShipmentLine.shipment_id)
            .subquery("value")
        )
        late = case(
            (Shipment.estimated_arrival > Shipment.promised_date, True),
            else_=False,
        )
        query = (
            select(
                Shipment.id.label("shipment_id"),
                Shipment.number.label("shipment"),
                Order.id.label("order_id"),
                Order.number.label("order_number"),
                Customer.id.label("customer_id"),
                Customer.name.label("customer"),
                func.coalesce(Shipment.region, Customer.region).label("region"),
                Carrier.id.label("carrier_id"),
                Carrier.name.label("carrier"),
                Shipment.tracking,
                Shipment.status,
                Shipment.shipped_at,
                Shipment.promised_date,
                Shipment.estimated_arrival,
                late.label("predicted_late"),
                func.coalesce(carries.c.backordered_lines, 0).label("backordered_lines"),
                cast(func.coalesce(value.c.value, 0), Float).label("value"),
            )
            .join(Order, Order.id == Shipment.order_id)
            .join(Customer, Customer.id == Order.customer_id)
            .join(Carrier, Carrier.id == unindexed(Shipment.carrier_id))
            .outerjoin(carries, carries.c.shipment_id == Shipment.id)
            .outerjoin(value, value.c.shipment_id == Shipment.id)
            # By id from the status index: see the note above inbound_in_transit.
            .where(Shipment.id.in_(on_the_way))
            .order_by(late.desc(), Shipment.estimated_arrival, Shipment.id)
        )
        if only_backordered:
            query = query.where(func.coalesce(carries.c.backordered_lines, 0) > 0)
        if only_predicted_late:
            query = query.where(Shipment.estimated_arrival > Shipment.promised_date)
        if carrier_id is not None:
            query = query.where(Shipment.carrier_id == carrier_id)
        df = read_frame(conn, query, dates=["shipped_at"])
        events = _last_events(conn, df["shipment_id"].tolist())
    if df.empty:
        return pd.DataFrame(columns=OUTBOUND_COLUMNS)
    for col in ("promised_date", "estimated_arrival"):
        df[col] = pd.to_datetime(df[col]).dt.date
    df["predicted_late"] = df["predicted_late"].astype(bool)
    df["days_late"] = [
        max((e - p).days, 0) if e and p and not pd.isna(e) and not pd.isna(p) else 0
        for e, p in zip(df["estimated_arrival"], df["promised_date"], strict=True)
    ]
    df["last_event"] = df["shipment_id"].map(lambda s: _event_text(events.get(s)))
    return df[OUTBOUND_COLUMNS]


def shipment_events(engine: Engine | Connection, shipment_id: int) -> pd.DataFrame:
    """Every tracking event of a shipment, oldest first."""
    with reading(engine) as conn:
        return pd.read_sql(
            select(ShipmentEvent.at, ShipmentEvent.kind, ShipmentEvent.note)
            .where(ShipmentEvent.shipment_id == shipment_id)
            .order_by(ShipmentEvent.at, ShipmentEvent.id),
            conn,
            parse_dates=["at"],
        )


def shipment_messages(engine: Engine | Connection, shipment_id: int) -> pd.DataFrame:
    """The calls and mails recorded about a shipment, newest first."""
    with reading(engine) as conn:
        return pd.read_sql(
            select(
                Communication.created_at,
                Communication.channel,
                Communication.direction,
                Customer.name.label("customer"),
                Carrier.name.label("carrier"),
                Communication.subject,
                Communication.actor,
            )
            .outerjoin(Customer, Customer.id == Communication.customer_id)
            .outerjoin(Carrier, Carrier.id == Communication.carrier_id)
            .where(Communication.shipment_id == shipment_id)
            .order_by(Communication.created_at.desc(), Communication.id.desc()),
            conn,
            parse_dates=["created_at"],
        )


# --- carriers' record and KPIs -------------------------------------------------------------


def on_time_by_carrier_region(
    engine: Engine | Connection,
    *,
    today: dt.date | None = None,
    days: int = CARRIER_WINDOW_DAYS,
) -> pd.DataFrame:
    """Outbound deliveries of the last ``days`` days per carrier and region: delivered, on time
    (delivered on or before the promised date) and the rate."""
    today = today or utcnow().date()
    start = today - dt.timedelta(days=days)
    with reading(engine) as conn:
        delivered_day = _day(conn, Shipment.delivered_at)
        # The same window on the bare column as well, so ix_shipments_delivered can serve it
        # (a function of the column cannot use an index).
        after = dt.datetime.combine(start + dt.timedelta(days=1), dt.time())
        before = dt.datetime.combine(today + dt.timedelta(days=1), dt.time())
        region = func.coalesce(Shipment.region, "(unknown)")
        rows = conn.execute(
            select(
                Carrier.name.label("carrier"),
                region.label("region"),
                func.count(Shipment.id).label("delivered"),
                func.sum(case((delivered_day <= Shipment.promised_date, 1), else_=0)).label(
                    "on_time"
                ),
            )
            .join(Carrier, Carrier.id == Shipment.carrier_id)
            .where(
                Shipment.direction == "outbound",
                Shipment.delivered_at.is_not(None),
                Shipment.promised_date.is_not(None),
                Shipment.delivered_at >= after,
                Shipment.delivered_at < before,
                delivered_day > start,
                delivered_day <= today,
            )
            .group_by(Carrier.name, region)
            .order_by(Carrier.name, region)
        ).all()
    df = pd.DataFrame(rows, columns=["carrier", "region", "delivered", "on_time"])
    df["on_time"] = df["on_time"].astype(int)
    df["rate"] = df["on_time"] / df["delivered"]
    return df


def on_time_rate(
    engine: Engine | Connection, *, today: dt.date | None = None, days: int = CARRIER_WINDOW_DAYS
) -> float | None:
    """Share of outbound deliveries of the last ``days`` days that arrived by the promised date."""
    table = on_time_by_carrier_region(engine, today=today, days=days)
    delivered = int(table["delivered"].sum()) if not table.empty else 0
    return float(table["on_time"].sum()) / delivered if delivered else None


def _transit_model(conn: Connection, start: dt.date) -> tuple[DurationDistribution | None, str]:
    from sqlalchemy.orm import Session

    from models.registry import latest

    with Session(bind=conn) as session:
        loaded = latest(session, "transit")
    if loaded is not None and isinstance(loaded.model, dict) and loaded.model.get("by_carrier"):
        return loaded.model["by_carrier"], f"model run {loaded.run_id}"
    rows = plain_rows(
        conn.execute(
            select(
                Carrier.name,
                as_stored(Shipment.shipped_at).label("shipped_at"),
                as_stored(Shipment.delivered_at).label("delivered_at"),
            )
            .join(Carrier, Carrier.id == Shipment.carrier_id)
            .where(
                Shipment.direction == "outbound",
                Shipment.shipped_at.is_not(None),
                Shipment.delivered_at.is_not(None),
                Shipment.delivered_at >= dt.datetime.combine(start, dt.time()),
            )
        )
    )
    if not rows:
        return None, "quoted transit times (no delivery recorded yet)"
    frame = pd.DataFrame(rows, columns=["carrier", "shipped_at", "delivered_at"])
    days = (
        pd.to_datetime(frame["delivered_at"]) - pd.to_datetime(frame["shipped_at"])
    ).dt.total_seconds() / 86400
    keep = days >= 0
    model = DurationDistribution().fit(frame.loc[keep, ["carrier"]].astype(str), days[keep])
    return (
        model,
        f"fitted on the {int(keep.sum()):,} deliveries of the last {CARRIER_WINDOW_DAYS} days",
    )


@dataclass(frozen=True)
class TransitRecord:
    table: pd.DataFrame  # carrier_id, carrier, quoted_days, p50, p90, n
    source: str


def transit_times(
    engine: Engine | Connection, *, today: dt.date | None = None, days: int = CARRIER_WINDOW_DAYS
) -> TransitRecord:
    """Per carrier: transit days P50/P90 (learned) against the quoted transit days."""
    today = today or utcnow().date()
    with reading(engine) as conn:
        carriers = conn.execute(
            select(Carrier.id, Carrier.name, Carrier.transit_days).order_by(Carrier.name)
        ).all()
        model, source = _transit_model(conn, today - dt.timedelta(days=days))
    table = pd.DataFrame(carriers, columns=["carrier_id", "carrier", "quoted_days"])
    table["p50"], table["p90"], table["n"] = np.nan, np.nan, 0
    if model is not None and not table.empty:
        figures = lookup_many(model, [(str(name),) for name in table["carrier"]])
        own = (figures["level"] >= 1).to_numpy()
        table.loc[own, "p50"] = figures.loc[own, "p50"].astype(float).to_numpy()
        table.loc[own, "p90"] = figures.loc[own, "p90"].astype(float).to_numpy()
        table.loc[own, "n"] = figures.loc[own, "n"].astype(int).to_numpy()
    return TransitRecord(
        table[["carrier_id", "carrier", "quoted_days", "p50", "p90", "n"]],
        source,
    )


@dataclass(frozen=True)
class InTransitValue:
    outbound: float  # order value of outbound shipments on the way (at price)
    inbound: float  # outstanding value of POs with a shipment on the way (at cost)
    outbound_shipments: int
    inbound_shipments: int


def in_transit_value(engine: Engine | Connection) -> InTransitValue:
    """Money on the road: outbound at selling price, inbound at cost."""
    with reading(engine) as conn:
        out_value, out_count = conn.execute(
            select(
                func.coalesce(func.sum(ShipmentLine.qty * OrderLine.unit_price), 0),
                func.count(func.distinct(Shipment.id)),
            )
            .select_from(Shipment)
            .join(ShipmentLine, ShipmentLine.shipment_id == Shipment.id)
            .join(OrderLine, OrderLine.id == ShipmentLine.order_line_id)
            .where(Shipment.direction == "outbound", Shipment.status.in_(OPEN_SHIPMENT_STATUSES))
        ).one()
        # The POs with an inbound shipment on the way, listed once: as a correlated EXISTS the
        # shipments were searched again for every open PO (50 ms on the large demo, 1 ms so).
        moving = PurchaseOrder.id.in_(
            select(Shipment.po_id).where(
                Shipment.direction == "inbound", Shipment.status.in_(OPEN_SHIPMENT_STATUSES)
            )
        )
        in_value = conn.execute(
            select(
                func.coalesce(
                    func.sum(
                        (PurchaseOrderLine.qty_ordered - PurchaseOrderLine.qty_received)
                        * PurchaseOrderLine.unit_cost
                    ),
                    0,
                )
            )
            .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
            .where(PurchaseOrder.status.in_(OPEN_PO_STATUSES), moving)
        ).scalar_one()
        in_count = conn.execute(
            select(func.count(Shipment.id))
            .join(PurchaseOrder, PurchaseOrder.id == Shipment.po_id)
            .where(
                Shipment.direction == "inbound",
                Shipment.status.in_(OPEN_SHIPMENT_STATUSES),
                PurchaseOrder.status.in_(OPEN_PO_STATUSES),
            )
        ).scalar_one()
    return InTransitValue(float(out_value), float(in_value), int(out_count), int(in_count))


def carrier_choices(engine: Engine | Connection) -> pd.DataFrame:
    """Carriers (id, name, email, quoted transit days), by name."""
    with reading(engine) as conn:
        return pd.read_sql(
            select(Carrier.id, Carrier.name, Carrier.email, Carrier.transit_days).order_by(
                Carrier.name
            ),
            conn,
        )
