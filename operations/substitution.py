"""Offering a substitute for a backordered line and, when the customer accepts, swapping to it.

An accepted swap moves the chosen quantity off the backorder (cancelled there, with the reason
"swapped") onto a new line of the same order for the substitute, which reserves what is free and
backorders the rest with its own estimate. Declined offers are recorded too: what a customer
turned down is as useful to the next conversation as what they took.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from data.db import write_session
from data.schema import (
    CHANNELS,
    Backorder,
    Communication,
    Customer,
    OrderLine,
    Product,
    utcnow,
)
from models.substitutes import substitutes_for
from operations import audit
from operations.errors import InvalidState, NotFound, ValidationError
from operations.estimates import expected_date
from operations.orders import CLOSED_ORDER_STATUSES
from operations.pick_tasks import sync_order_tasks
from operations.rollup import RollupChange
from operations.stock import lock_order, lock_stock, move_stock, resolve_warehouse
from operations.transactions import write_operation
from operations.validation import (
    actor_name,
    identifier,
    one_of,
    optional_identifier,
    optional_moment,
)
from operations.validation import quantity as a_quantity


@dataclass(frozen=True)
class SwapResult:
    """What an offer did: the communication recorded and, if accepted, the new line's split."""

    communication_id: int
    accepted: bool
    new_line_id: int | None = None
    qty_reserved: int = 0
    qty_backordered: int = 0
    expected_date: dt.date | None = None


@write_operation
def swap_to_substitute(
    engine: Engine,
    *,
    backorder_id: int,
    substitute_product_id: int,
    quantity: int,
    accepted: bool,
    actor: str,
    channel: str = "phone",
    sales_rep_id: int | None = None,
    now: dt.datetime | None = None,
    warehouse_id: int | None = None,
) -> SwapResult:
    """Record a substitute offer for an open backorder and the customer's answer.

    On acceptance ``quantity`` units leave the backorder and go onto a new line for the
    substitute: reserved as far as stock is free, backordered for the rest. Refused (nothing
    changed): a substitute the model does not list for this product (other use, or an added
    allergen), more than the open backordered quantity, a filled or cancelled backorder, a
    closed order, or, with ``sales_rep_id``, a customer of another representative.
    """
    actor = actor_name(actor)
    backorder_id = identifier(backorder_id, "Backorder")
    substitute_product_id = identifier(substitute_product_id, "Substitute product")
    qty = a_quantity(quantity, "The quantity to swap")
    if not isinstance(accepted, bool):
        raise ValidationError("Say whether the customer accepted the substitute (yes or no).")
    channel = one_of(channel, CHANNELS, "Channel")
    sales_rep_id = optional_identifier(sales_rep_id, "Sales representative")
    now = optional_moment(now, "The time of the answer") or utcnow()
    today = now.date()
    with write_session(engine) as session:
        found = session.execute(
            select(OrderLine.order_id, Backorder.customer_id, Customer.sales_rep_id)
            .join(Backorder, Backorder.order_line_id == OrderLine.id)
            .join(Customer, Customer.id == Backorder.customer_id)
            .where(Backorder.id == backorder_id)
        ).first()
        if found is None or (sales_rep_id is not None and found.sales_rep_id != sales_rep_id):
            raise NotFound(f"Backorder {backorder_id} is not a backorder of your customers.")
        order = lock_order(session, found.order_id)
        if order.status in CLOSED_ORDER_STATUSES:
            raise InvalidState(f"Order {order.number} is {order.status}: nothing can be swapped.")
        backorder = session.execute(
            select(Backorder)
            .where(Backorder.id == backorder_id)
            .execution_options(populate_existing=True)
        ).scalar_one()
        original = session.get(Product, backorder.product_id)
        substitute = session.get(Product, substitute_product_id)
        if substitute is None:
            raise NotFound(f"Product {substitute_product_id} does not exist.")
        if backorder.status != "open":
            raise InvalidState(
                f"The backorder of {original.sku} on order {order.number} is {backorder.status}: "
                "there is nothing left to swap."
            )
        waiting = backorder.qty_open
        if qty > waiting:
            raise ValidationError(
                f"Only {waiting} units of {original.sku} are on backorder; cannot swap {qty}."
            )
        ranked = substitutes_for(
            session, original.id, backorder.customer_id, backorder.promised_date or today
        )
        if substitute.id not in set(ranked["product_id"].astype(int)):
            raise ValidationError(
                f"{substitute.sku} is not an allowed substitute for {original.sku} "
                "(another use, no longer sold, or it adds an allergen). Choose one from the list."
            )
        warehouse_id = resolve_warehouse(session, warehouse_id)
        stock = lock_stock(session, [original.id, substitute.id], warehouse_id)
        answer = "accepted" if accepted else "declined"
        subject = f"Offered {substitute.sku} for {qty} x {original.sku} ({answer})"
        result = SwapResult(communication_id=0, accepted=accepted)
        if accepted:
            result = _swap(
                session,
                order,
                backorder,
                original,
                substitute,
                qty,
                stock,
                actor,
                now,
                warehouse_id,
            )
            body = (
                f"Order {order.number}: {qty} x {original.sku} {original.name} replaced by "
                f"{substitute.sku} {substitute.name}; {result.qty_reserved} reserved now, "
                f"{result.qty_backordered} on backorder."
            )
        else:
            body = f"Order {order.number}: the customer kept waiting for {original.sku}."
        message = Communication(
            created_at=now,
            customer_id=backorder.customer_id,
            order_id=order.id,
            actor=actor,
            channel=channel,
            direction="outbound",
            subject=subject[:200],
            body=body,
        )
        session.add(message)
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="swap_to_substitute" if accepted else "offer_substitute",
            entity="backorder",
            entity_id=backorder.id,
            before={"qty_open": waiting, "product": original.sku},
            after={
                "substitute": substitute.sku,
                "qty": qty,
                "accepted": accepted,
                "new_line_id": result.new_line_id,
                "reserved": result.qty_reserved,
                "backordered": result.qty_backordered,
            },
            at=now,
        )
        return SwapResult(
            communication_id=message.id,
            accepted=accepted,
            new_line_id=result.new_line_id,
            qty_reserved=result.qty_reserved,
            qty_backordered=result.qty_backordered,
            expected_date=result.expected_date,
        )


def _swap(
    session, order, backorder, original, substitute, qty, stock, actor, now, warehouse_id
) -> SwapResult:
    """Move ``qty`` from the backorder onto a new substitute line (inside the caller's lock)."""
    line = session.execute(
        select(OrderLine)
        .where(OrderLine.id == backorder.order_line_id)
        .execution_options(populate_existing=True)
    ).scalar_one()
    next_no = session.execute(
        select(func.max(OrderLine.line_no)).where(OrderLine.order_id == order.id)
    ).scalar_one()
    on_hand, reserved = stock.get(substitute.id, (0, 0))
    reserve = max(min(qty, on_hand - reserved), 0)
    short = qty - reserve
    rollup = RollupChange(session)  # the backorder rollup moves in this same transaction
    rollup.watch(line, backorder)
    # No query between these edits until both lines add up again (autoflush).
    backorder.qty_cancelled += qty
    backorder.cancel_reason = f"swapped to {substitute.sku}"[:200]
    if backorder.qty_filled + backorder.qty_cancelled == backorder.qty:
        backorder.status = "cancelled"
        backorder.closed_at = now
    line.qty_backordered -= qty
    line.qty_cancelled += qty
    new_line = OrderLine(
        order_id=order.id,
        line_no=int(next_no or 0) + 1,
        product_id=substitute.id,
        qty_ordered=qty,
        qty_allocated=reserve,
        qty_backordered=short,
        qty_cancelled=0,
        qty_shipped=0,
        unit_price=substitute.price,
        substitute_for_id=original.id,
    )
    session.add(new_line)
    session.flush()
    move_stock(
        session,
        product_id=substitute.id,
        warehouse_id=warehouse_id,
        reason="reserve",
        actor=actor,
        reserved_delta=reserve,
        ref_type="order_line",
        ref_id=new_line.id,
        note=f"substitute for {original.sku}",
    )
    estimate = None
    new_backorder = None
    if short:
        estimate = expected_date(
            session, substitute.id, short, now.date(), customer_id=order.customer_id
        )
        new_backorder = Backorder(
            order_line_id=new_line.id,
            product_id=substitute.id,
            customer_id=order.customer_id,
            qty=short,
            qty_filled=0,
            qty_cancelled=0,
            status="open",
            created_at=now,
            promised_date=estimate.likely,
            estimated_date=estimate.likely,
            estimated_late_date=estimate.late,
            estimate_reason=estimate.reason[:300],
            waits_on_po_id=estimate.po_id,
        )
        session.add(new_backorder)
        session.flush()
    rollup.watch(new_line, new_backorder, new=True)
    rollup.save()
    sync_order_tasks(session, order, warehouse_id=warehouse_id, now=now, fills_backorder=False)
    return SwapResult(
        communication_id=0,
        accepted=True,
        new_line_id=new_line.id,
        qty_reserved=reserve,
        qty_backordered=short,
        expected_date=estimate.likely if estimate else None,
    )
