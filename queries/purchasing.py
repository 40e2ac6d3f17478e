"""What the buyer reads: low stock, drafted POs and why, late POs, suppliers' record, KPIs.

Sums and counts run in SQL; the supplier's learned record (lead time and delay against the
promised date, P50 and P90) comes from the newest lead-time model run, or, before any run, from
the same model fitted on the received purchase orders (so the figures are never made up).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Date, Engine, Float, Select, case, cast, func, select
from sqlalchemy.orm import Session

from data.schema import (
    OPEN_PO_STATUSES,
    Backorder,
    Carrier,
    Communication,
    Customer,
    Forecast,
    ModelRun,
    Order,
    OrderLine,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Stock,
    Supplier,
    utcnow,
)
from data.settings import get_setting
from models.leadtime import (
    SUPPLIER_LEVELS,
    DurationDistribution,
    figures_from_levels,
    first_level_figures,
)
from queries import as_stored, days_between, plain_rows, reading
from queries.demand import demand_rows
from queries.stock import DEMAND_WINDOW_DAYS, _overview_select

# The supplier scorecard and the purchasing lead time look back this far.
SCORECARD_WINDOW_DAYS = 365
PURCHASING_KPI_WINDOW_DAYS = 90
# Days per forecast period, by the demand model's frequency.
DAYS_PER_PERIOD = {"D": 1.0, "W": 7.0, "M": 30.4}
# Delays shorter than this many days count as on time in the "predicted late" flag.
PREDICTED_LATE_MIN_DAYS = 1


def open_value_per_po() -> Select:
    """Per purchase order, the value still to come: (ordered - received) x unit cost."""
    return select(
        PurchaseOrderLine.po_id,
        func.sum(
            (PurchaseOrderLine.qty_ordered - PurchaseOrderLine.qty_received)
            * PurchaseOrderLine.unit_cost
        ).label("open_value"),
    ).group_by(PurchaseOrderLine.po_id)


def backorders_waiting_per_po() -> Select:
    """Per purchase order, how many open backorders (and units) wait on it."""
    return (
        select(
            Backorder.waits_on_po_id.label("po_id"),
            func.count(Backorder.id).label("backorders"),
            func.sum(Backorder.qty_open).label("backordered"),
        )
        .where(Backorder.status == "open", Backorder.waits_on_po_id.is_not(None))
        .group_by(Backorder.waits_on_po_id)
    )


def _day(conn: Connection, column):
    """The calendar day of a timestamp column, comparable with a Date column on both databases."""
    if conn.dialect.name == "sqlite":
        return func.date(column)
    return cast(column, Date)


# --- the supplier's learned record ---------------------------------------------------------


@dataclass(frozen=True)
class LeadTimeRecord:
    """Per supplier: quoted days, learned lead time and delay (P50/P90), and where they come from."""

    table: pd.DataFrame  # supplier_id, supplier, quoted_days, lead_p50, lead_p90, lead_n,
    #                      delay_p50, delay_p90, delay_n
    source: str


def _history(conn: Connection, since: dt.date) -> pd.DataFrame:
    """Received POs since a day: supplier, days sent -> received, delay against the promised day.

    Per purchase order (not per line) and from its own row, so the fallback stays cheap.
    """
    query = select(
        PurchaseOrder.supplier_id,
        as_stored(PurchaseOrder.sent_at).label("sent_at"),
        as_stored(PurchaseOrder.received_at).label("received_at"),
        as_stored(
            func.coalesce(PurchaseOrder.original_expected_date, PurchaseOrder.expected_date)
        ).label("expected_date"),
    ).where(
        PurchaseOrder.sent_at.is_not(None),
        PurchaseOrder.received_at.is_not(None),
        PurchaseOrder.received_at >= dt.datetime.combine(since, dt.time()),
    )
    rows = plain_rows(conn.execute(query))
    frame = pd.DataFrame(rows, columns=list(query.selected_columns.keys()))
    for col in ("sent_at", "received_at", "expected_date"):
        frame[col] = pd.to_datetime(frame[col])
    frame["days"] = (frame["received_at"] - frame["sent_at"]).dt.total_seconds() / 86400
    frame["delay_days"] = (
        frame["received_at"].dt.normalize() - frame["expected_date"]
    ).dt.days.astype(float)
    return frame[frame["days"] >= 0].reset_index(drop=True)


def _models(
    conn: Connection,
) -> tuple[DurationDistribution | None, DurationDistribution | None, str]:
    from models.registry import latest

    with Session(bind=conn) as session:
        loaded = latest(session, "lead_time")
    if loaded is not None and isinstance(loaded.model, dict):
        return loaded.model.get("lead"), loaded.model.get("delay"), f"model run {loaded.run_id}"
    since = utcnow().date() - dt.timedelta(days=SCORECARD_WINDOW_DAYS)
    history = _history(conn, since)
    if history.empty:
        return None, None, "quoted lead times (no purchase order received yet)"
    supplier = history["supplier_id"].astype(str)
    lead = DurationDistribution().fit(supplier.to_frame(), history["days"])
    known = history["delay_days"].notna()
    delay = (
        DurationDistribution().fit(supplier[known].to_frame(), history.loc[known, "delay_days"])
        if known.any()
        else None
    )
    return (
        lead,
        delay,
        (
            f"fitted on the {len(history):,} POs received in the last {SCORECARD_WINDOW_DAYS} days "
            "(no lead-time model run yet)"
        ),
    )


def _stored_levels(conn: Connection) -> tuple[dict, dict, str] | None:
    """Each supplier's own lead time and delay as the newest lead-time run keeps them, or None
    when that run keeps none (a run trained before they were kept): the model is read then."""
    from models.registry import newest_run_query

    with Session(bind=conn) as session:
        run = session.scalars(newest_run_query("lead_time")).first()
        levels = (run.metrics or {}).get(SUPPLIER_LEVELS) if run is not None else None
        if not isinstance(levels, dict) or not {"lead", "delay"} <= set(levels):
            return None
        return levels["lead"], levels["delay"], f"model run {run.id}"


def lead_time_record(engine: Engine | Connection) -> LeadTimeRecord:
    """Every supplier's quoted lead time next to the learned P50/P90 lead time and delay."""
    with reading(engine) as conn:
        suppliers = conn.execute(
            select(Supplier.id, Supplier.name, Supplier.lead_time_days).order_by(Supplier.name)
        ).all()
        ids = [int(sid) for sid, _, _ in suppliers]
        stored = _stored_levels(conn)
        if stored is None:
            lead, delay, source = _models(conn)
    if stored is not None:
        lead_levels, delay_levels, source = stored
        figures = {
            "lead": figures_from_levels(lead_levels, ids),
            "delay": figures_from_levels(delay_levels, ids),
        }
    else:
        figures = {
            name: figures_from_levels({}, ids) if model is None else first_level_figures(model, ids)
            for name, model in (("lead", lead), ("delay", delay))
        }
    columns = ["supplier_id", "supplier", "quoted_days", "lead_p50", "lead_p90", "lead_n"]
    columns += ["delay_p50", "delay_p90", "delay_n"]
    table = pd.DataFrame(suppliers, columns=["supplier_id", "supplier", "quoted_days"])
    for prefix, own in figures.items():
        table[f"{prefix}_p50"] = own["p50"].astype(float).to_numpy()
        table[f"{prefix}_p90"] = own["p90"].astype(float).to_numpy()
        table[f"{prefix}_n"] = own["n"].astype(int).to_numpy()
    return LeadTimeRecord(table[columns], source)


def usual_delay_days(value: float) -> int:
    """A learned delay as whole days, rounded (as the promise reason words it: "usually 3 days
    late"); missing or early counts as 0."""
    if value is None or not math.isfinite(value):
        return 0
    return max(0, round(value))


def _whole_days(value: float) -> int:
    return 0 if value is None or not math.isfinite(value) else max(0, math.ceil(value - 1e-9))


# --- low stock and forecast ----------------------------------------------------------------


# Forecast demand per day per product, and where it comes from ("demand model run N").
ForecastPerDay = tuple[dict[int, float], str | None]


def forecast_per_day(bind: Engine | Connection) -> ForecastPerDay:
    """Mean forecast demand per day per product from the newest demand run (empty without).

    It changes only with a new model run: a page keeps it apart from the reads that change with
    every order and passes it to them (``forecast=``)."""
    with reading(bind) as conn:
        run = conn.execute(
            select(ModelRun.id, ModelRun.params)
            .where(ModelRun.kind == "demand", ModelRun.status == "ok")
            .order_by(ModelRun.finished_at.desc(), ModelRun.id.desc())
            .limit(1)
        ).first()
        if run is None:
            return {}, None
        days = DAYS_PER_PERIOD.get(str((run.params or {}).get("freq", "W")), 7.0)
        rows = conn.execute(
            select(Forecast.product_id, func.avg(Forecast.mean))
            .where(Forecast.model_run_id == run.id)
            .group_by(Forecast.product_id)
        ).all()
    return {pid: float(mean) / days for pid, mean in rows}, f"demand model run {run.id}"


INBOX_COLUMNS = [
    "product_id",
    "sku",
    "name",
    "supplier_id",
    "supplier",
    "available",
    "on_order",
    "reorder_point",
    "days_of_cover",
    "lead_days",
    "demand_over_lead",
    "backorders",
    "backordered",
    "demand_basis",
]


def low_stock_inbox(
    engine: Engine | Connection,
    *,
    today: dt.date | None = None,
    record: LeadTimeRecord | None = None,
    forecast: ForecastPerDay | None = None,
) -> pd.DataFrame:
    """Active products whose available stock is below the reorder point, most urgent first.

    ``demand_over_lead`` is forecast demand per day (the newest demand run; else the last 28
    days' average) times the supplier's lead time (learned P50; else quoted). ``backorders`` and
    ``backordered`` are the open backorders waiting and their units.
    """
    today = today or utcnow().date()
    record = (record or lead_time_record(engine)).table.set_index("supplier_id")
    with reading(engine) as conn:
        ratio = float(get_setting(conn, "low_stock_ratio"))
        statement, _ = _overview_select(ratio, today)
        inner = statement.subquery("overview")
        waiting = (
            select(Backorder.product_id, func.count(Backorder.id).label("backorders"))
            .where(Backorder.status == "open")
            .group_by(Backorder.product_id)
            .subquery("waiting_lines")
        )
        query = (
            select(inner, func.coalesce(waiting.c.backorders, 0).label("backorders"))
            .outerjoin(waiting, waiting.c.product_id == inner.c.product_id)
            .where(inner.c.available < inner.c.reorder_point)
        )
        df = pd.read_sql(query, conn)
        forecast, basis = forecast if forecast is not None else forecast_per_day(conn)
    if df.empty:
        return pd.DataFrame(columns=INBOX_COLUMNS)
    learned = df["supplier_id"].map(record["lead_p50"])
    quoted = df["supplier_id"].map(record["quoted_days"]).astype(float)
    df["lead_days"] = learned.where(learned.notna(), quoted).map(_whole_days)
    per_day = df["product_id"].map(forecast) if forecast else pd.Series(np.nan, index=df.index)
    df["demand_basis"] = np.where(per_day.notna(), basis or "", "last 28 days' average")
    per_day = per_day.where(per_day.notna(), df["avg_daily_demand"]).astype(float)
    df["demand_over_lead"] = (per_day * df["lead_days"]).round(1)
    demand = df["avg_daily_demand"].astype(float)
    df["days_of_cover"] = (df["available"].clip(lower=0) / demand.where(demand > 0)).round(1)
    df = df.sort_values(
        ["backordered", "days_of_cover", "sku"], ascending=[False, True, True], na_position="last"
    )
    return df.reset_index(drop=True)[INBOX_COLUMNS]


# --- drafted purchase orders ---------------------------------------------------------------

DRAFT_COLUMNS = [
    "po_id",
    "po_number",
    "status",
    "supplier_id",
    "supplier",
    "po_line_id",
    "product_id",
    "sku",
    "product",
    "qty",
    "pack_size",
    "min_order_qty",
    "unit_cost",
    "line_value",
    "reason",
]


def line_reason(
    *,
    qty: int,
    free: int,
    waiting: int,
    on_order_elsewhere: int,
    reorder_point: int,
    safety_stock: int,
    order_up_to: int,
    pack_size: int,
    min_order_qty: int,
    demand_over_lead: float,
    lead_days: int,
) -> str:
    """Why a drafted line orders what it does, in words (the drafting rule, replayed)."""
    position = free - waiting + on_order_elsewhere
    need = order_up_to - position
    parts = [
        f"forecast {demand_over_lead:,.0f} over the {lead_days}-day lead time + "
        f"{safety_stock:,} safety stock -> reorder point {reorder_point:,}",
        f"position {position:,} = {free:,} free - {waiting:,} on backorder + "
        f"{on_order_elsewhere:,} already on order",
        f"up to {order_up_to:,} needs {max(need, 0):,}",
    ]
    rounded = max(need, min_order_qty)
    rounded = int(math.ceil(rounded / pack_size)) * pack_size if rounded > 0 else 0
    if need > 0 and rounded != need:
        how = []
        if need < min_order_qty:
            how.append(f"minimum {min_order_qty:,}")
        if pack_size > 1:
            how.append(f"packs of {pack_size:,}")
        parts.append(f"rounded to {rounded:,} ({', '.join(how)})")
    if qty != rounded:
        parts.append(f"edited to {qty:,}")
    return "; ".join(parts)


def draft_purchase_orders(
    engine: Engine | Connection,
    *,
    statuses: tuple[str, ...] = ("draft", "approved"),
    today: dt.date | None = None,
    record: LeadTimeRecord | None = None,
    forecast: ForecastPerDay | None = None,
) -> pd.DataFrame:
    """Lines of the POs not yet sent, grouped by supplier, each with its reason in words."""
    today = today or utcnow().date()
    record = (record or lead_time_record(engine)).table.set_index("supplier_id")
    with reading(engine) as conn:
        free = (
            select(Stock.product_id, func.sum(Stock.on_hand - Stock.reserved).label("free"))
            .group_by(Stock.product_id)
            .subquery("free")
        )
        waiting = (
            select(
                Backorder.product_id,
                func.sum(Backorder.qty_open).label("waiting"),
            )
            .where(Backorder.status == "open")
            .group_by(Backorder.product_id)
            .subquery("waiting")
        )
        # Everything on order, drafts included (the drafting rule's position).
        coming = (
            select(
                PurchaseOrderLine.product_id,
                func.sum(PurchaseOrderLine.qty_ordered - PurchaseOrderLine.qty_received).label(
                    "coming"
                ),
            )
            .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
            .where(PurchaseOrder.status.in_(("draft", *OPEN_PO_STATUSES)))
            .group_by(PurchaseOrderLine.product_id)
            .subquery("coming")
        )
        query = (
            select(
                PurchaseOrder.id.label("po_id"),
                PurchaseOrder.number.label("po_number"),
                PurchaseOrder.status,
                PurchaseOrder.supplier_id,
                Supplier.name.label("supplier"),
                PurchaseOrderLine.id.label("po_line_id"),
                Product.id.label("product_id"),
                Product.sku,
                Product.name.label("product"),
                PurchaseOrderLine.qty_ordered.label("qty"),
                Product.pack_size,
                Product.min_order_qty,
                cast(PurchaseOrderLine.unit_cost, Float).label("unit_cost"),
                Product.reorder_point,
                Product.safety_stock,
                Product.order_up_to,
                func.coalesce(free.c.free, 0).label("free"),
                func.coalesce(waiting.c.waiting, 0).label("waiting"),
                func.coalesce(coming.c.coming, 0).label("coming"),
            )
            .join(PurchaseOrderLine, PurchaseOrderLine.po_id == PurchaseOrder.id)
            .join(Product, Product.id == PurchaseOrderLine.product_id)
            .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
            .outerjoin(free, free.c.product_id == Product.id)
            .outerjoin(waiting, waiting.c.product_id == Product.id)
            .outerjoin(coming, coming.c.product_id == Product.id)
            .where(PurchaseOrder.status.in_(statuses))
            .order_by(Supplier.name, PurchaseOrder.id, Product.sku)
        )
        df = pd.read_sql(query, conn)
        asked = demand_rows(
            today - dt.timedelta(days=DEMAND_WINDOW_DAYS), today, ("qty_ordered",)
        ).subquery("asked")
        demand = dict(
            conn.execute(
                select(asked.c.product_id, func.sum(asked.c.qty_ordered)).group_by(
                    asked.c.product_id
                )
            ).all()
        )
        forecast, _ = forecast if forecast is not None else forecast_per_day(conn)
    if df.empty:
        return pd.DataFrame(columns=DRAFT_COLUMNS)
    # Plain Python values, looked up in dicts: row by row through the frame and the record's
    # Series cost ten times more than the reasons themselves.
    learned = record["lead_p50"].to_dict()
    quoted = record["quoted_days"].to_dict()
    numbers = ("qty", "free", "waiting", "coming", "reorder_point", "safety_stock",
               "order_up_to", "pack_size", "min_order_qty")  # fmt: skip
    columns = {name: [int(v) for v in df[name].tolist()] for name in numbers}
    reasons = []
    for i, (supplier_id, product_id) in enumerate(
        zip(df["supplier_id"].tolist(), df["product_id"].tolist(), strict=True)
    ):
        p50 = learned.get(supplier_id, np.nan)
        lead_days = _whole_days(p50 if pd.notna(p50) else quoted.get(supplier_id, 0))
        per_day = forecast.get(product_id, (demand.get(product_id) or 0) / DEMAND_WINDOW_DAYS)
        row = {name: values[i] for name, values in columns.items()}
        reasons.append(
            line_reason(
                qty=row["qty"],
                free=row["free"],
                waiting=row["waiting"],
                on_order_elsewhere=row["coming"] - row["qty"],
                reorder_point=row["reorder_point"],
                safety_stock=row["safety_stock"],
                order_up_to=row["order_up_to"],
                pack_size=row["pack_size"],
                min_order_qty=row["min_order_qty"],
                demand_over_lead=per_day * lead_days,
                lead_days=lead_days,
            )
        )
    df["reason"] = reasons
    df["line_value"] = (df["qty"] * df["unit_cost"]).round(2)
    return df[DRAFT_COLUMNS]


def purchase_order_choices(engine: Engine | Connection, po_id: int) -> pd.DataFrame:
    """Active products of the PO's supplier not yet on it (id, sku, name, pack, minimum)."""
    with reading(engine) as conn:
        supplier = select(PurchaseOrder.supplier_id).where(PurchaseOrder.id == po_id)
        on_it = select(PurchaseOrderLine.product_id).where(PurchaseOrderLine.po_id == po_id)
        return pd.read_sql(
            select(
                Product.id.label("product_id"),
                Product.sku,
                Product.name,
                Product.pack_size,
                Product.min_order_qty,
            )
            .where(
                Product.active.is_(True),
                Product.supplier_id == supplier.scalar_subquery(),
                Product.id.not_in(on_it),
            )
            .order_by(Product.sku),
            conn,
        )


# --- late and at-risk purchase orders ------------------------------------------------------

AT_RISK_COLUMNS = [
    "po_id",
    "po_number",
    "status",
    "supplier_id",
    "supplier",
    "sent_at",
    "expected_date",
    "likely_arrival",
    "late_case_arrival",
    "days_overdue",
    "overdue",
    "predicted_late",
    "open_value",
    "backorders",
    "backordered",
    "customers",
]


def late_and_at_risk(
    engine: Engine | Connection,
    *,
    today: dt.date | None = None,
    include_all: bool = False,
    record: LeadTimeRecord | None = None,
) -> pd.DataFrame:
    """Open POs that are overdue or that the supplier's record says will come late.

    ``likely_arrival`` = expected date + the supplier's usual delay (P50), ``late_case_arrival``
    the same with P90; an overdue PO comes at the earliest tomorrow. ``backorders`` counts the
    open backorders waiting on the PO, ``customers`` names the customers behind them.
    With ``include_all`` every open PO is returned (flags still set).
    """
    today = today or utcnow().date()
    record = (record or lead_time_record(engine)).table.set_index("supplier_id")
    with reading(engine) as conn:
        # The open POs' lines only (through the PO id index), not every line ever ordered.
        open_pos = select(PurchaseOrder.id).where(PurchaseOrder.status.in_(OPEN_PO_STATUSES))
        value = (
            open_value_per_po().where(PurchaseOrderLine.po_id.in_(open_pos)).subquery("open_value")
        )
        waiting = backorders_waiting_per_po().subquery("waiting")
        query = (
            select(
                PurchaseOrder.id.label("po_id"),
                PurchaseOrder.number.label("po_number"),
                PurchaseOrder.status,
                PurchaseOrder.supplier_id,
                Supplier.name.label("supplier"),
                PurchaseOrder.sent_at,
                PurchaseOrder.expected_date,
                cast(func.coalesce(value.c.open_value, 0), Float).label("open_value"),
                func.coalesce(waiting.c.backorders, 0).label("backorders"),
                func.coalesce(waiting.c.backordered, 0).label("backordered"),
            )
            .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
            .outerjoin(value, value.c.po_id == PurchaseOrder.id)
            .outerjoin(waiting, waiting.c.po_id == PurchaseOrder.id)
            .where(
                PurchaseOrder.status.in_(OPEN_PO_STATUSES),
                PurchaseOrder.expected_date.is_not(None),
            )
            .order_by(PurchaseOrder.expected_date, PurchaseOrder.id)
        )
        df = pd.read_sql(query, conn, parse_dates=["sent_at"])
        names = conn.execute(
            select(Backorder.waits_on_po_id, Customer.name)
            .join(Customer, Customer.id == Backorder.customer_id)
            .where(Backorder.status == "open", Backorder.waits_on_po_id.is_not(None))
            .group_by(Backorder.waits_on_po_id, Customer.name)
            .order_by(Backorder.waits_on_po_id, Customer.name)
        ).all()
    if df.empty:
        return pd.DataFrame(columns=AT_RISK_COLUMNS)
    customers: dict[int, list[str]] = {}
    for po_id, name in names:
        customers.setdefault(po_id, []).append(name)
    df["expected_date"] = pd.to_datetime(df["expected_date"]).dt.date
    p50 = df["supplier_id"].map(record["delay_p50"]).map(usual_delay_days)
    p90 = df["supplier_id"].map(record["delay_p90"]).map(usual_delay_days)
    tomorrow = today + dt.timedelta(days=1)
    likely, late = [], []
    for expected, d50, d90 in zip(df["expected_date"], p50, p90, strict=True):
        one = expected + dt.timedelta(days=int(d50))
        worst = expected + dt.timedelta(days=int(max(d90, d50)))
        if expected < today:
            one = max(one, tomorrow)
            worst = max(worst, one + dt.timedelta(days=max(int(d90) - int(d50), 1)))
        likely.append(one)
        late.append(max(worst, one))
    df["likely_arrival"] = likely
    df["late_case_arrival"] = late
    df["overdue"] = df["expected_date"] < today
    df["days_overdue"] = [max((today - e).days, 0) for e in df["expected_date"]]
    df["predicted_late"] = p50 >= PREDICTED_LATE_MIN_DAYS
    df["customers"] = df["po_id"].map(lambda p: ", ".join(customers.get(p, [])))
    if not include_all:
        df = df[df["overdue"] | df["predicted_late"]]
    df = df.sort_values(["overdue", "backorders", "expected_date"], ascending=[False, False, True])
    return df.reset_index(drop=True)[AT_RISK_COLUMNS]


def backorders_waiting_on(engine: Engine | Connection, po_id: int) -> pd.DataFrame:
    """The open backorders a PO will fill: customer, order, product, units, promise, estimate."""
    with reading(engine) as conn:
        return pd.read_sql(
            select(
                Backorder.id.label("backorder_id"),
                Customer.name.label("customer"),
                Customer.tier,
                Order.number.label("order_number"),
                Product.sku,
                Backorder.qty_open.label("qty_open"),
                Backorder.promised_date,
                Backorder.estimated_date,
                Backorder.estimated_late_date.label("late_case_date"),
                Backorder.estimate_reason.label("reason"),
            )
            .join(Customer, Customer.id == Backorder.customer_id)
            .join(OrderLine, OrderLine.id == Backorder.order_line_id)
            .join(Order, Order.id == OrderLine.order_id)
            .join(Product, Product.id == Backorder.product_id)
            .where(Backorder.status == "open", Backorder.waits_on_po_id == po_id)
            .order_by(Backorder.estimated_date, Backorder.id),
            conn,
            parse_dates=["promised_date", "estimated_date", "late_case_date"],
        )


# --- supplier scorecard and purchasing KPIs ------------------------------------------------

SCORECARD_COLUMNS = [
    "supplier_id",
    "supplier",
    "quoted_days",
    "lead_p50",
    "lead_p90",
    "lead_n",
    "received_pos",
    "on_time_rate",
    "fill_rate",
    "open_pos",
    "open_value",
]


def supplier_scorecard(
    engine: Engine | Connection,
    *,
    today: dt.date | None = None,
    days: int = SCORECARD_WINDOW_DAYS,
    record: LeadTimeRecord | None = None,
) -> pd.DataFrame:
    """Per supplier: learned lead time P50/P90 against the quoted days, on-time and fill rates
    over the last ``days`` days, open POs and their value.

    On time: received on or before the date given when the PO was sent. Fill rate: units
    received / units ordered on POs due in the window (sent, partly or fully received).
    """
    today = today or utcnow().date()
    start = today - dt.timedelta(days=days)
    record = (record or lead_time_record(engine)).table
    with reading(engine) as conn:
        promised = func.coalesce(PurchaseOrder.original_expected_date, PurchaseOrder.expected_date)
        received_day = _day(conn, PurchaseOrder.received_at)
        received = (
            select(
                PurchaseOrder.supplier_id,
                func.count(PurchaseOrder.id).label("received_pos"),
                func.sum(case((received_day <= promised, 1), else_=0)).label("on_time"),
            )
            .where(
                PurchaseOrder.received_at.is_not(None),
                received_day > start,
                received_day <= today,
            )
            .group_by(PurchaseOrder.supplier_id)
        )
        due = (
            select(
                PurchaseOrder.supplier_id,
                func.sum(PurchaseOrderLine.qty_ordered).label("ordered"),
                func.sum(PurchaseOrderLine.qty_received).label("got"),
            )
            .join(PurchaseOrderLine, PurchaseOrderLine.po_id == PurchaseOrder.id)
            .where(
                PurchaseOrder.status.in_(("sent", "partially_received", "received")),
                promised > start,
                promised <= today,
            )
            .group_by(PurchaseOrder.supplier_id)
        )
        open_ = (
            select(
                PurchaseOrder.supplier_id,
                func.count(func.distinct(PurchaseOrder.id)).label("open_pos"),
                func.sum(
                    (PurchaseOrderLine.qty_ordered - PurchaseOrderLine.qty_received)
                    * PurchaseOrderLine.unit_cost
                ).label("open_value"),
            )
            .join(PurchaseOrderLine, PurchaseOrderLine.po_id == PurchaseOrder.id)
            .where(PurchaseOrder.status.in_(OPEN_PO_STATUSES))
            .group_by(PurchaseOrder.supplier_id)
        )
        got = {r.supplier_id: r for r in conn.execute(received).all()}
        filled = {r.supplier_id: r for r in conn.execute(due).all()}
        still = {r.supplier_id: r for r in conn.execute(open_).all()}
    rows = []
    for row in record.itertuples(index=False):
        r, f, o = got.get(row.supplier_id), filled.get(row.supplier_id), still.get(row.supplier_id)
        rows.append(
            {
                "supplier_id": row.supplier_id,
                "supplier": row.supplier,
                "quoted_days": row.quoted_days,
                "lead_p50": row.lead_p50,
                "lead_p90": row.lead_p90,
                "lead_n": row.lead_n,
                "received_pos": int(r.received_pos) if r else 0,
                "on_time_rate": float(r.on_time) / r.received_pos if r else np.nan,
                "fill_rate": float(f.got) / f.ordered if f and f.ordered else np.nan,
                "open_pos": int(o.open_pos) if o else 0,
                "open_value": float(o.open_value or 0) if o else 0.0,
            }
        )
    return pd.DataFrame(rows, columns=SCORECARD_COLUMNS)


@dataclass(frozen=True)
class PurchasingLeadTime:
    need_to_sent_days: float | None  # PO drafted (the need) -> sent, mean
    sent_to_received_days: float | None  # sent -> fully received, mean
    sent_pos: int
    received_pos: int
    help: str


def purchasing_lead_time(
    engine: Engine | Connection,
    *,
    today: dt.date | None = None,
    days: int = PURCHASING_KPI_WINDOW_DAYS,
) -> PurchasingLeadTime:
    """Mean days from the need (the PO drafted) to the PO sent, and from sent to received."""
    today = today or utcnow().date()
    start = dt.datetime.combine(today - dt.timedelta(days=days), dt.time())
    end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time())
    with reading(engine) as conn:
        sent = conn.execute(
            select(
                func.count(PurchaseOrder.id),
                func.avg(days_between(conn, PurchaseOrder.sent_at, PurchaseOrder.created_at)),
            ).where(PurchaseOrder.sent_at >= start, PurchaseOrder.sent_at < end)
        ).one()
        received = conn.execute(
            select(
                func.count(PurchaseOrder.id),
                func.avg(days_between(conn, PurchaseOrder.received_at, PurchaseOrder.sent_at)),
            ).where(
                PurchaseOrder.received_at >= start,
                PurchaseOrder.received_at < end,
                PurchaseOrder.sent_at.is_not(None),
            )
        ).one()
    return PurchasingLeadTime(
        need_to_sent_days=None if sent[1] is None else float(sent[1]),
        sent_to_received_days=None if received[1] is None else float(received[1]),
        sent_pos=int(sent[0]),
        received_pos=int(received[0]),
        help=(
            f"Mean days over the last {days} days: from the need (the purchase order drafted) "
            "to the order sent, and from sent to fully received."
        ),
    )


# --- choices and the communications log ----------------------------------------------------


def carrier_choices(engine: Engine | Connection) -> pd.DataFrame:
    """Carriers (id, name, quoted transit days), by name."""
    with reading(engine) as conn:
        return pd.read_sql(
            select(Carrier.id, Carrier.name, Carrier.transit_days).order_by(Carrier.name), conn
        )


def supplier_contacts(engine: Engine | Connection) -> pd.DataFrame:
    """Suppliers (id, name, email, quoted lead time), by name."""
    with reading(engine) as conn:
        return pd.read_sql(
            select(Supplier.id, Supplier.name, Supplier.email, Supplier.lead_time_days).order_by(
                Supplier.name
            ),
            conn,
        )


def supplier_communications(
    engine: Engine | Connection, *, supplier_id: int | None = None, limit: int = 50
) -> pd.DataFrame:
    """The newest recorded calls and mails with suppliers (one supplier, or all)."""
    statement = (
        select(
            Communication.created_at,
            Supplier.name.label("supplier"),
            PurchaseOrder.number.label("po_number"),
            Communication.channel,
            Communication.direction,
            Communication.subject,
            Communication.body,
            Communication.actor,
        )
        .join(Supplier, Supplier.id == Communication.supplier_id)
        .outerjoin(PurchaseOrder, PurchaseOrder.id == Communication.po_id)
        .order_by(Communication.created_at.desc(), Communication.id.desc())
        .limit(limit)
    )
    if supplier_id is not None:
        statement = statement.where(Communication.supplier_id == supplier_id)
    with reading(engine) as conn:
        return pd.read_sql(statement, conn, parse_dates=["created_at"])
