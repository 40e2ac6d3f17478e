"""The periodic check: overdue purchase orders, shipments that will arrive late, untold slips.

Run by the jobs runner (and safe to run at any time): each finding goes through its notification
rule, which keeps to one notice per subject per window, so running twice tells nobody twice.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, and_, exists, select

from data.db import write_session
from data.schema import OPEN_PO_STATUSES, Backorder, Notification, PurchaseOrder, Shipment, utcnow
from operations import notification_rules
from operations.validation import a_date


def check_overdue_and_late(engine: Engine, *, now: dt.datetime | None = None) -> dict[str, int]:
    """Raise the notices that time alone makes due; returns how many subjects were notified.

    - ``po_overdue``: open purchase orders past their expected date;
    - ``shipment_late``: outbound shipments on their way whose estimate is after the promise;
    - ``promise_slipped``: open backorders estimated later than promised and than last told
      (a slip that a repeat window held back, or that happened while the rule was off).
    """
    if now is None:
        now = utcnow()
    elif not isinstance(now, dt.datetime):
        now = dt.datetime.combine(a_date(now, "Now"), dt.time())
    today = now.date()
    counts = {"po_overdue": 0, "shipment_late": 0, "promise_slipped": 0}
    with write_session(engine) as session:
        overdue = session.scalars(
            select(PurchaseOrder)
            .where(
                PurchaseOrder.status.in_(OPEN_PO_STATUSES),
                PurchaseOrder.expected_date < today,
            )
            .order_by(PurchaseOrder.id)
        ).all()
        counts["po_overdue"] = sum(
            1 for po in overdue if notification_rules.po_overdue(session, po, now)
        )
        late = session.scalars(
            select(Shipment)
            .where(
                Shipment.direction == "outbound",
                Shipment.status.in_(notification_rules.LATE_SHIPMENT_STATUSES),
                Shipment.estimated_arrival > Shipment.promised_date,
            )
            .order_by(Shipment.id)
        ).all()
        counts["shipment_late"] = sum(
            1 for shipment in late if notification_rules.shipment_late(session, shipment, now)
        )
        already_told = exists().where(
            and_(
                Notification.kind == "promise_slipped",
                Notification.ref_type == "backorder",
                Notification.ref_id == Backorder.id,
                Notification.about_date >= Backorder.estimated_date,
            )
        )
        untold = session.scalars(
            select(Backorder)
            .where(
                Backorder.status == "open",
                Backorder.estimated_date > Backorder.promised_date,
                ~already_told,
            )
            .order_by(Backorder.id)
        ).all()
        counts["promise_slipped"] = sum(
            1 for backorder in untold if notification_rules.promise_slipped(session, backorder, now)
        )
    return counts
