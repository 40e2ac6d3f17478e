"""When will a short quantity be there? The placeholder rule behind every backorder date.

Kept to one function, :func:`expected_date`, so the forecasting package can replace its body
with the model-based available-to-promise timeline without touching any caller.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data.schema import Backorder, Product, PurchaseOrder, PurchaseOrderLine, Stock, Supplier

# A purchase order counts as supply once it is approved; drafts may never be sent.
OPEN_PO_STATUSES = ("approved", "sent", "partially_received")
# Late-case date = likely date + this share of the wait (at least one day).
LATE_CASE_EXTRA_SHARE = 0.5


@dataclass(frozen=True)
class Estimate:
    likely: dt.date
    late: dt.date
    reason: str
    po_id: int | None


def _late_case(today: dt.date, likely: dt.date) -> dt.date:
    wait_days = max((likely - today).days, 0)
    return likely + dt.timedelta(days=max(1, math.ceil(wait_days * LATE_CASE_EXTRA_SHARE)))


def expected_date(
    session: Session,
    product_id: int,
    qty_needed: int,
    today: dt.date,
    *,
    ahead: int | None = None,
) -> Estimate:
    """Likely and late-case date when ``qty_needed`` more units of the product can be reserved.

    Supply is the free stock now, then each open PO's outstanding quantity by expected date;
    it is consumed first by the ``ahead`` units of backorders queued before this one (default:
    every open backorder of the product). When no PO covers it: today + the supplier's lead time.
    """
    free = session.execute(
        select(func.coalesce(func.sum(Stock.on_hand - Stock.reserved), 0)).where(
            Stock.product_id == product_id
        )
    ).scalar_one()
    if ahead is None:
        ahead = session.execute(
            select(
                func.coalesce(
                    func.sum(Backorder.qty - Backorder.qty_filled - Backorder.qty_cancelled), 0
                )
            ).where(Backorder.product_id == product_id, Backorder.status == "open")
        ).scalar_one()
    wanted = ahead + qty_needed
    supply = free
    if supply >= wanted:
        return Estimate(today, _late_case(today, today), "in stock now", None)

    product = session.get(Product, product_id)
    supplier = session.get(Supplier, product.supplier_id)
    lead = supplier.lead_time_days
    pos = session.execute(
        select(
            PurchaseOrder.id,
            PurchaseOrder.number,
            PurchaseOrder.expected_date,
            PurchaseOrderLine.qty_ordered - PurchaseOrderLine.qty_received,
        )
        .join(PurchaseOrderLine, PurchaseOrderLine.po_id == PurchaseOrder.id)
        .where(
            PurchaseOrderLine.product_id == product_id,
            PurchaseOrder.status.in_(OPEN_PO_STATUSES),
            PurchaseOrderLine.qty_ordered > PurchaseOrderLine.qty_received,
        )
    ).all()
    # An approved PO not yet sent has no date: assume it goes out today with the quoted lead time.
    timeline = sorted(
        (
            (expected or today + dt.timedelta(days=lead), po_id, number, outstanding)
            for po_id, number, expected, outstanding in pos
        ),
        key=lambda row: (row[0], row[1]),
    )
    for arrival, po_id, number, outstanding in timeline:
        supply += outstanding
        if supply >= wanted:
            likely = max(arrival, today)
            queue = f"{ahead} units queued ahead" if ahead else "first in the queue"
            late_note = " (already overdue)" if arrival < today else ""
            reason = f"waits on {number}, expected {arrival.isoformat()}{late_note}; {queue}"
            return Estimate(likely, _late_case(today, likely), reason, po_id)
    likely = today + dt.timedelta(days=lead)
    reason = (
        f"no open purchase order covers it: reorder plus {supplier.name}'s {lead}-day lead time"
    )
    return Estimate(likely, _late_case(today, likely), reason, None)
