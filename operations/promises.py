"""Re-promising: when supply moves, open backorders get new estimates and people are told."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.schema import Backorder, Customer, Product, User
from operations.estimates import expected_date
from operations.notifications import notify


def reestimate_backorders(
    session: Session, product_ids: Iterable[int], today: dt.date
) -> list[tuple[Backorder, dt.date | None]]:
    """New estimates for every open backorder of the products, in queue order (oldest first).

    Returns the backorders whose promise has slipped with this change, with their old estimate:
    the new date is later than before and later than the date promised to the customer.
    """
    slipped = []
    for product_id in sorted(set(product_ids)):
        queue = session.scalars(
            select(Backorder)
            .where(Backorder.product_id == product_id, Backorder.status == "open")
            .order_by(Backorder.created_at, Backorder.id)
            .execution_options(populate_existing=True)
        ).all()
        ahead = 0
        for backorder in queue:
            waiting = backorder.qty - backorder.qty_filled - backorder.qty_cancelled
            estimate = expected_date(session, product_id, waiting, today, ahead=ahead)
            ahead += waiting
            old = backorder.estimated_date
            backorder.estimated_date = estimate.likely
            backorder.estimated_late_date = estimate.late
            backorder.estimate_reason = estimate.reason[:300]
            backorder.waits_on_po_id = estimate.po_id
            if (
                old is not None
                and estimate.likely > old
                and backorder.promised_date is not None
                and estimate.likely > backorder.promised_date
            ):
                slipped.append((backorder, old))
    return slipped


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
