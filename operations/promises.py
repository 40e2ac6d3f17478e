"""Re-promising: when supply moves, open backorders get new estimates and people are told."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from data.db import write_session
from data.schema import Backorder, Customer, Product, User, utcnow
from models.promise import reestimate_open_backorders
from operations.notifications import notify
from operations.validation import a_date


def reestimate_backorders(
    session: Session, product_ids: Iterable[int], today: dt.date
) -> list[tuple[Backorder, dt.date | None]]:
    """New estimates for every open backorder of the products, walked in priority order.

    Returns the backorders whose promise has slipped with this change, with their old estimate:
    the new date is later than before and later than the date promised to the customer.
    """
    changes = reestimate_open_backorders(session, sorted(set(product_ids)), today)
    return [
        (session.get(Backorder, change.backorder_id), change.old_likely)
        for change in changes
        if change.slipped
    ]


def tell_about_slips(session: Session, slipped: list[tuple[Backorder, dt.date | None]]) -> int:
    """Notify the customer's users and their sales rep of each slipped promise; returns the count."""
    sent = 0
    for backorder, old in slipped:
        customer = session.get(Customer, backorder.customer_id)
        sku = session.execute(
            select(Product.sku).where(Product.id == backorder.product_id)
        ).scalar_one()
        subject = f"Backorder of {sku} for {customer.name} now expected {backorder.estimated_date}"
        body = (
            f"Promised {backorder.promised_date}, previously expected {old}, now expected "
            f"{backorder.estimated_date} (late case {backorder.estimated_late_date}): "
            f"{backorder.estimate_reason}."
        )
        recipients = session.scalars(select(User).where(User.customer_id == customer.id)).all()
        if customer.sales_rep_id is not None:
            recipients += session.scalars(
                select(User).where(User.sales_rep_id == customer.sales_rep_id)
            ).all()
        for user in recipients:
            if not user.active:
                continue
            notify(
                session,
                kind="promise_slipped",
                subject=subject,
                body=body,
                user_id=user.id,
                customer_id=customer.id,
                email_to=user.email or None,
                ref_type="backorder",
                ref_id=backorder.id,
            )
            sent += 1
        notify(
            session,
            kind="promise_slipped",
            subject=subject,
            body=body,
            role="customer_service",
            customer_id=customer.id,
            ref_type="backorder",
            ref_id=backorder.id,
        )
        sent += 1
    return sent


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
