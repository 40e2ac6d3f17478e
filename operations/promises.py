"""Re-promising: when supply moves, open backorders get new estimates and people are told."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from data.db import write_session
from data.schema import Backorder, Warehouse, utcnow
from models.promise import reestimate_open_backorders
from operations import notification_rules
from operations.stock import lock_stock
from operations.transactions import write_operation
from operations.validation import a_date


def reestimate_backorders(
    session: Session, product_ids: Iterable[int], today: dt.date
) -> list[tuple[Backorder, dt.date | None]]:
    """New estimates for every open backorder of the products, walked in priority order.

    Returns the backorders whose new estimate is later than the date promised to the customer,
    with their old estimate; whether that is news to the customer (later than anything they were
    told) is the promise-slipped rule's call (``operations.notification_rules.promise_slipped``).
    """
    changes = reestimate_open_backorders(session, sorted(set(product_ids)), today)
    return [
        (session.get(Backorder, change.backorder_id), change.old_likely)
        for change in changes
        if change.promised_date is not None and change.new_likely > change.promised_date
    ]


def tell_about_slips(
    session: Session,
    slipped: list[tuple[Backorder, dt.date | None]],
    now: dt.datetime | None = None,
) -> int:
    """Raise the promise-slipped notice for each backorder; returns the notices written."""
    now = now or utcnow()
    return sum(
        notification_rules.promise_slipped(session, backorder, now) for backorder, _ in slipped
    )


@write_operation
def reestimate_all_backorders(engine: Engine, *, today: dt.date | None = None) -> dict[str, int]:
    """Re-estimate every open backorder with the newest models and tell people of slips.

    One transaction. A second run on the same day with nothing changed in between changes no
    date and tells no one (only changed estimates are written, only new slips are told).
    Returns counts: open backorders walked, estimates changed, promises slipped, notices sent.
    """
    today = utcnow().date() if today is None else a_date(today, "Today")
    with write_session(engine) as session:
        walked = session.scalar(
            select(func.count()).select_from(Backorder).where(Backorder.status == "open")
        )
        products = session.scalars(
            select(Backorder.product_id).where(Backorder.status == "open").distinct()
        ).all()
        # Backorders change only under their products' stock locks (as in orders and receipts).
        for warehouse_id in session.scalars(select(Warehouse.id)).all():
            lock_stock(session, products, warehouse_id)
        changes = reestimate_open_backorders(session, None, today)
        slipped = [
            (session.get(Backorder, change.backorder_id), change.old_likely)
            for change in changes
            if change.slipped
        ]
        told = tell_about_slips(session, slipped)
    return {
        "open_backorders": int(walked or 0),
        "estimates_changed": len(changes),
        "promises_slipped": len(slipped),
        "notices": told,
    }
