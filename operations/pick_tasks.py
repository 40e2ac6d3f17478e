"""Keeping pick tasks in step with what each order line has reserved.

A line's reserved-but-unshipped quantity is covered by its active tasks: an open task counts
its ``qty``; a picked or packed one counts ``qty_picked`` (a short pick found less). An order
placed "ship complete" gets no tasks while any of its lines is still on backorder.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from data.schema import Backorder, Order, OrderLine, PickTask, Product

ACTIVE_TASK_STATUSES = ("open", "picked", "packed")


def holds_for_backorders(session: Session, order: Order) -> bool:
    """True when a ship-complete order still waits on a backorder (so nothing is picked yet)."""
    if order.backorder_choice != "ship_complete":
        return False
    waiting = session.execute(
        select(func.coalesce(func.sum(OrderLine.qty_backordered), 0)).where(
            OrderLine.order_id == order.id
        )
    ).scalar_one()
    return waiting > 0


def covered_qty(session: Session, order_line_id: int) -> int:
    """Units of the line that active pick tasks already cover."""
    return session.execute(
        select(
            func.coalesce(
                func.sum(
                    # open tasks still have their full qty to pick; later ones what was found
                    case((PickTask.status == "open", PickTask.qty), else_=PickTask.qty_picked)
                ),
                0,
            )
        ).where(
            PickTask.order_line_id == order_line_id,
            PickTask.status.in_(ACTIVE_TASK_STATUSES),
        )
    ).scalar_one()


def new_task(
    session: Session,
    *,
    line: OrderLine,
    order: Order,
    qty: int,
    warehouse_id: int,
    fills_backorder: bool,
    now: dt.datetime,
    bin_id: int | None = None,
) -> PickTask:
    if bin_id is None:
        bin_id = session.execute(
            select(Product.bin_id).where(Product.id == line.product_id)
        ).scalar_one()
    task = PickTask(
        order_line_id=line.id,
        product_id=line.product_id,
        warehouse_id=warehouse_id,
        bin_id=bin_id,
        qty=qty,
        qty_picked=0,
        status="open",
        fills_backorder=fills_backorder,
        urgent=order.priority == "urgent",
        due_date=order.requested_date,
        created_at=now,
    )
    session.add(task)
    return task


def sync_order_tasks(
    session: Session,
    order: Order,
    *,
    warehouse_id: int,
    now: dt.datetime,
    fills_backorder: bool,
) -> list[PickTask]:
    """Create tasks for every reserved unit of the order that no active task covers yet."""
    if order.status == "cancelled" or holds_for_backorders(session, order):
        return []
    created = []
    lines = session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)).all()
    for line in lines:
        uncovered = line.qty_allocated - line.qty_shipped - covered_qty(session, line.id)
        if uncovered > 0:
            created.append(
                new_task(
                    session,
                    line=line,
                    order=order,
                    qty=uncovered,
                    warehouse_id=warehouse_id,
                    fills_backorder=fills_backorder,
                    now=now,
                )
            )
    return created


def cancel_line_tasks(session: Session, order_line_id: int) -> int:
    """Cancel every active task of a line (picked goods go back to the bin); returns how many."""
    return session.execute(
        update(PickTask)
        .where(
            PickTask.order_line_id == order_line_id,
            PickTask.status.in_(ACTIVE_TASK_STATUSES),
        )
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    ).rowcount


def open_backorder_qty(session: Session, order_line_id: int) -> int:
    return session.execute(
        select(func.coalesce(func.sum(Backorder.qty_open), 0)).where(
            Backorder.order_line_id == order_line_id, Backorder.status == "open"
        )
    ).scalar_one()
