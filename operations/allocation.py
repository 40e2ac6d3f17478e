"""Scarce stock goes by priority: open backorders are filled best score first, then oldest.

The score and its parts are :func:`models.priority.priority_score`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.schema import Allocation, Backorder, Customer, Order, OrderLine
from data.settings import all_settings
from models.priority import WEIGHT_KEYS, priority_score
from operations.pick_tasks import sync_order_tasks
from operations.rollup import RollupChange
from operations.stock import lock_stock, move_stock


@dataclass(frozen=True)
class Fill:
    backorder_id: int
    order_line_id: int
    product_id: int
    qty: int
    score: float


def fill_backorders(
    session: Session,
    *,
    product_ids: Iterable[int],
    warehouse_id: int,
    actor: str,
    now: dt.datetime,
    po_id: int | None = None,
) -> list[Fill]:
    """Give free stock of these products to their open backorders, best score first, then oldest.

    The caller holds (or this takes) the stock locks. Every fill reserves stock, moves the line
    from backordered to allocated, records an Allocation with its score, and adds pick tasks.
    """
    ids = sorted(set(product_ids))
    stock = lock_stock(session, ids, warehouse_id)
    weights = {
        key: value
        for key, value in all_settings(session.connection()).items()
        if key in WEIGHT_KEYS
    }
    fills: list[Fill] = []
    rollup = RollupChange(session)
    touched_orders: dict[int, Order] = {}
    for product_id in ids:
        on_hand, reserved = stock.get(product_id, (0, 0))
        free = on_hand - reserved
        if free <= 0:
            continue
        queue = session.execute(
            select(Backorder, OrderLine, Order, Customer.tier)
            .join(OrderLine, OrderLine.id == Backorder.order_line_id)
            .join(Order, Order.id == OrderLine.order_id)
            .join(Customer, Customer.id == Backorder.customer_id)
            .where(Backorder.product_id == product_id, Backorder.status == "open")
            .execution_options(populate_existing=True)
        ).all()
        ranked = []
        for backorder, line, order, tier in queue:
            days_to_promise = (
                None
                if backorder.promised_date is None
                else (backorder.promised_date - now.date()).days
            )
            score, parts = priority_score(
                tier=tier,
                priority=order.priority,
                days_waiting=(now - backorder.created_at).total_seconds() / 86400,
                days_to_promise=days_to_promise,
                weights=weights,
            )
            ranked.append(
                (-score, backorder.created_at, backorder.id, score, parts, backorder, line, order)
            )
        ranked.sort(key=lambda row: row[:3])
        for _, _, _, score, parts, backorder, line, order in ranked:
            if free <= 0:
                break
            waiting = backorder.qty_open
            qty = min(waiting, free)
            if qty <= 0:
                continue
            free -= qty
            move_stock(
                session,
                product_id=product_id,
                warehouse_id=warehouse_id,
                reason="reserve",
                actor=actor,
                reserved_delta=qty,
                ref_type="order_line",
                ref_id=line.id,
                note=f"fills backorder {backorder.id}",
            )
            rollup.watch(line, backorder)
            line.qty_allocated += qty
            line.qty_backordered -= qty
            backorder.qty_filled += qty
            if backorder.qty_filled + backorder.qty_cancelled == backorder.qty:
                backorder.status = "filled"
                backorder.closed_at = now
            session.add(
                Allocation(
                    at=now,
                    backorder_id=backorder.id,
                    product_id=product_id,
                    qty=qty,
                    score=score,
                    score_parts=parts,
                    po_id=po_id,
                    actor=actor,
                )
            )
            fills.append(Fill(backorder.id, line.id, product_id, qty, score))
            touched_orders[order.id] = order
    rollup.save()
    session.flush()
    for order in touched_orders.values():
        sync_order_tasks(session, order, warehouse_id=warehouse_id, now=now, fills_backorder=True)
    return fills
