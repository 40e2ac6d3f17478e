"""How good were the delivery dates? Replay the promise at each backorder's creation.

For every backorder created in the test window and later delivered, the walk is redone as it
would have been on the day it was created: models fitted only on history before the window,
the purchase orders open that day at the date the supplier had given, and the backorders of the
same product still waiting that day ahead in the queue (free stock was nil: that is why a
backorder exists). The likely date is scored by its mean absolute error in days, the late-case
date by how many actual deliveries came on or before it (target: at least 85 %).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from data.db import read_connection
from data.schema import (
    Backorder,
    Customer,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    Shipment,
    ShipmentLine,
    Supplier,
)
from data.settings import all_settings
from models.history import lead_time_history, plain_rows, transit_history
from models.leadtime import DurationDistribution
from models.promise import (
    PromiseModels,
    SupplierRecord,
    Transit,
    _estimate,
    _tables_of,
    make_timeline,
    transit_from_models,
)

DEFAULT_TEST_DAYS = 120
FALLBACK_TRANSIT = Transit(2, 4, "2-4 days assumed transit")


def fit_promise_models(engine: Engine, before: dt.datetime | None = None) -> PromiseModels:
    """Lead, delay and transit distributions from history that had ended before ``before``."""
    lead_hist = lead_time_history(engine)
    transit_hist = transit_history(engine)
    if before is not None:
        lead_hist = lead_hist[lead_hist["received_at"] < before]
        transit_hist = transit_hist[transit_hist["delivered_at"] < before]
    models = PromiseModels()
    if not lead_hist.empty:
        supplier = lead_hist["supplier_id"].astype(str)
        models.lead = DurationDistribution().fit(
            pd.DataFrame({"supplier": supplier, "category": lead_hist["category"]}),
            lead_hist["days"],
        )
        known = lead_hist["delay_days"].notna()
        if known.any():
            models.delay = DurationDistribution().fit(
                supplier[known].to_frame(), lead_hist.loc[known, "delay_days"]
            )
    if not transit_hist.empty:
        models.transit = DurationDistribution().fit(
            transit_hist[["region"]].astype(str), transit_hist["days"]
        )
    return models


def _frame(conn, query) -> pd.DataFrame:
    return pd.DataFrame(
        plain_rows(conn.execute(query)), columns=list(query.selected_columns.keys())
    )


def _load(engine: Engine, since: dt.datetime) -> tuple[pd.DataFrame, ...]:
    delivered = func.max(Shipment.delivered_at).label("delivered_at")
    tested = (
        select(
            Backorder.id,
            Backorder.product_id,
            Backorder.qty,
            Backorder.created_at,
            Backorder.closed_at,
            Customer.region,
            delivered,
        )
        .join(Customer, Customer.id == Backorder.customer_id)
        .join(ShipmentLine, ShipmentLine.order_line_id == Backorder.order_line_id)
        .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
        .where(
            Backorder.created_at >= since,
            Backorder.status == "filled",
            Shipment.direction == "outbound",
            Shipment.delivered_at.is_not(None),
        )
        .group_by(
            Backorder.id,
            Backorder.product_id,
            Backorder.qty,
            Backorder.created_at,
            Backorder.closed_at,
            Customer.region,
        )
    )
    queue = select(
        Backorder.product_id,
        Backorder.created_at,
        Backorder.closed_at,
        (Backorder.qty - Backorder.qty_cancelled).label("units"),
    )
    first_receipt = (
        select(Receipt.po_line_id, func.min(Receipt.received_at).label("received_at"))
        .group_by(Receipt.po_line_id)
        .subquery()
    )
    lines = (
        select(
            PurchaseOrderLine.product_id,
            PurchaseOrder.id.label("po_id"),
            PurchaseOrder.number,
            func.coalesce(PurchaseOrder.approved_at, PurchaseOrder.sent_at).label("open_from"),
            PurchaseOrder.sent_at,
            func.coalesce(PurchaseOrder.original_expected_date, PurchaseOrder.expected_date).label(
                "expected"
            ),
            PurchaseOrderLine.qty_ordered,
            first_receipt.c.received_at,
        )
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
        .outerjoin(first_receipt, first_receipt.c.po_line_id == PurchaseOrderLine.id)
        .where(PurchaseOrder.status != "cancelled")
    )
    suppliers = select(
        Product.id.label("product_id"),
        Product.category,
        Supplier.id.label("supplier_id"),
        Supplier.name,
        Supplier.lead_time_days,
    ).join(Supplier, Supplier.id == Product.supplier_id)
    with read_connection(engine) as conn:
        frames = tuple(_frame(conn, q) for q in (tested, queue, lines, suppliers))
        pick_days = int(all_settings(conn)["pick_days"])
    for frame in frames[:3]:
        for col in frame.columns:
            if col.endswith("_at") or col in ("open_from",):
                frame[col] = pd.to_datetime(frame[col], format="ISO8601")
    frames[2]["expected"] = pd.to_datetime(frames[2]["expected"], format="ISO8601")
    return (*frames, pick_days)


class _ByProduct:
    """A frame's columns as arrays sorted by product (rows of a product kept in their order),
    so one product's rows are a slice found by binary search."""

    def __init__(self, frame: pd.DataFrame, times: list[str], numbers: list[str], other=()):
        order = np.argsort(frame["product_id"].to_numpy(), kind="stable")
        self.products = frame["product_id"].to_numpy()[order]
        self.columns = {col: frame[col].to_numpy(dtype="datetime64[ns]")[order] for col in times}
        self.columns.update({col: frame[col].to_numpy(dtype=float)[order] for col in numbers})
        self.columns.update({col: frame[col].to_numpy()[order] for col in other})

    def rows(self, product_id) -> dict[str, np.ndarray]:
        lo = int(np.searchsorted(self.products, product_id, side="left"))
        hi = int(np.searchsorted(self.products, product_id, side="right"))
        return {col: values[lo:hi] for col, values in self.columns.items()}


def delivery_backtest(engine: Engine, test_days: int = DEFAULT_TEST_DAYS) -> dict:
    """Likely-date MAE and late-date coverage of delivery promises replayed at creation."""
    with read_connection(engine) as conn:
        end = conn.execute(select(func.max(Backorder.created_at))).scalar_one()
    if end is None:
        return {"tested": 0, "note": "no backorders"}
    end = pd.Timestamp(end)
    since = (end - pd.Timedelta(days=test_days)).to_pydatetime()
    # The models as plain tables: the same figures as the fitted models' own lookups, without
    # building a frame per backorder.
    models = _tables_of(fit_promise_models(engine, before=since))
    tested, queue, lines, suppliers, pick_days = _load(engine, since)
    queue = _ByProduct(queue, ["created_at", "closed_at"], ["units"])
    lines = _ByProduct(
        lines,
        ["open_from", "received_at", "sent_at", "expected"],
        ["po_id", "qty_ordered"],
        ["number"],
    )
    records = {
        int(product): SupplierRecord(int(supplier_id), name, category, int(lead_days))
        for product, category, supplier_id, name, lead_days in suppliers[
            ["product_id", "category", "supplier_id", "name", "lead_time_days"]
        ].itertuples(index=False)
    }
    transits: dict[str, Transit] = {}
    rows = []
    for bo in tested.sort_values("created_at").itertuples(index=False):
        t0 = bo.created_at
        now = np.datetime64(t0, "ns")
        today = t0.date()
        waiting = queue.rows(bo.product_id)
        ahead = (waiting["created_at"] < now) & (
            np.isnat(waiting["closed_at"]) | (waiting["closed_at"] > now)
        )
        ahead_units, ahead_count = int(waiting["units"][ahead].sum()), int(ahead.sum())
        po = lines.rows(bo.product_id)
        is_open = (po["open_from"] <= now) & (
            np.isnat(po["received_at"]) | (po["received_at"] > now)
        )
        open_lines = []
        for k in np.flatnonzero(is_open):
            # A PO approved but not yet sent that day had no date from the supplier yet.
            sent = not np.isnat(po["sent_at"][k]) and po["sent_at"][k] <= now
            expected = po["expected"][k]
            expected = pd.Timestamp(expected).date() if sent and not np.isnat(expected) else None
            open_lines.append(
                (int(po["po_id"][k]), po["number"][k], expected, int(po["qty_ordered"][k]))
            )
        timeline = make_timeline(
            bo.product_id, 0, open_lines, records[int(bo.product_id)], today, models
        )
        if bo.region not in transits:
            transits[bo.region] = transit_from_models(bo.region, models) or FALLBACK_TRANSIT
        est = _estimate(
            timeline,
            ahead_units,
            int(bo.qty),
            ahead_count + 1,
            today,
            pick_days,
            transits[bo.region],
        )
        delivered = bo.delivered_at.date()
        restocked = bo.closed_at.date() if pd.notna(bo.closed_at) else None
        rows.append(
            {
                "likely_error": (est.likely - delivered).days,
                "covered": delivered <= est.late,
                "by_likely": delivered <= est.likely,
                "restock_error": None
                if restocked is None
                else (est.restock_likely - restocked).days,
                "restock_covered": None if restocked is None else restocked <= est.restock_late,
                "waits_on_po": est.po_id is not None,
            }
        )
    if not rows:
        return {"tested": 0, "note": "no delivered backorders in the test window"}
    scored = pd.DataFrame(rows)
    restock = scored.dropna(subset=["restock_error"])
    return {
        "tested": len(scored),
        "window_start": since.date().isoformat(),
        "window_end": end.date().isoformat(),
        "delivery_likely_mae_days": float(np.mean(np.abs(scored["likely_error"]))),
        "delivery_likely_bias_days": float(np.mean(scored["likely_error"])),
        "delivery_late_coverage": float(scored["covered"].mean()),
        "delivery_likely_coverage": float(scored["by_likely"].mean()),
        "restock_likely_mae_days": float(np.mean(np.abs(restock["restock_error"].astype(float)))),
        "restock_late_coverage": float(restock["restock_covered"].astype(bool).mean()),
        "share_waiting_on_a_po": float(scored["waits_on_po"].mean()),
    }
