"""Re-promising: when supply moves, open backorders get new estimates and people are told."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy.orm import Session

from data.schema import Backorder, utcnow
from models.promise import reestimate_open_backorders
from operations import notification_rules


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
