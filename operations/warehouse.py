"""Warehouse work: pick, short pick, pack, ship, deliver, stock counts and thresholds."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from data.db import read_connection, write_session
from data.numbering import document_number, provisional_number
from data.schema import (
    Backorder,
    Bin,
    Carrier,
    Customer,
    Order,
    OrderLine,
    PickTask,
    Product,
    Shipment,
    ShipmentEvent,
    ShipmentLine,
    utcnow,
)
from operations import audit, notification_rules
from operations.allocation import fill_backorders
from operations.backorder_costs import book_handling, book_split_freight
from operations.errors import InvalidState, NotFound, ValidationError
from operations.estimates import expected_date
from operations.limits import check_ceiling, check_sizes
from operations.rollup import RollupChange, add_delivery
from operations.stock import lock_order, lock_stock, move_stock, resolve_warehouse
from operations.transactions import write_operation
from operations.validation import (
    a_date,
    actor_name,
    flag,
    identifier,
    non_negative,
    optional_identifier,
    optional_moment,
    text,
)


def _locked_task(session: Session, task_id: int) -> tuple[PickTask, OrderLine, Order]:
    """The task with its line and order, order row locked first (the house lock order)."""
    found = session.execute(
        select(OrderLine.order_id)
        .join(PickTask, PickTask.order_line_id == OrderLine.id)
        .where(PickTask.id == task_id)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"Pick task {task_id} does not exist.")
    order = session.execute(
        select(Order)
        .where(Order.id == found)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).scalar_one()
    task = session.execute(
        select(PickTask)
        .where(PickTask.id == task_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).scalar_one()
    line = session.get(OrderLine, task.order_line_id)
    return task, line, order


def _task_label(session: Session, task: PickTask) -> str:
    sku = session.execute(select(Product.sku).where(Product.id == task.product_id)).scalar_one()
    return f"pick task {task.id} ({task.qty} x {sku})"


# A scanned code is at most this long (bin codes and SKUs are 20 characters in the schema).
SCAN_MAX_LENGTH = 40


def _scanned(value, what: str) -> str | None:
    """A scanned or typed code, stripped and upper-cased; None when the caller did not scan."""
    if value is None:
        return None
    return text(value, what, max_length=SCAN_MAX_LENGTH).upper()


def _check_scans(
    session: Session, task: PickTask, *, bin_code: str | None, sku: str | None
) -> None:
    """Refuse a scan of another bin or another product than the task's (nothing is booked)."""
    label = _task_label(session, task)
    if bin_code is not None:
        expected = session.execute(select(Bin.code).where(Bin.id == task.bin_id)).scalar()
        if expected is None:
            raise InvalidState(f"{label.capitalize()} has no bin: ask the warehouse manager.")
        if bin_code != expected.upper():
            raise ValidationError(
                f"Wrong bin: you scanned {bin_code}, but {label} is in bin {expected}. "
                f"Nothing was picked: go to {expected} and scan again."
            )
    if sku is not None:
        expected_sku, name = session.execute(
            select(Product.sku, Product.name).where(Product.id == task.product_id)
        ).one()
        if sku != expected_sku.upper():
            raise ValidationError(
                f"Wrong product: you scanned {sku}, but {label} asks for {expected_sku} "
                f"({name}). Nothing was booked: scan the product the task asks for."
            )


def check_scan(
    engine: Engine,
    *,
    task_id: int,
    bin_code: str | None = None,
    sku: str | None = None,
) -> None:
    """Refuse a scan that does not match the task, before the pick is confirmed (writes nothing).

    The operator scans the bin first and the product second; this answers the first scan at
    once. ``confirm_pick`` checks both again when it books the pick.
    """
    task_id = identifier(task_id, "Pick task")
    bin_code = _scanned(bin_code, "The bin code")
    sku = _scanned(sku, "The SKU")
    with read_connection(engine) as conn, Session(conn) as session:
        task = session.get(PickTask, task_id)
        if task is None:
            raise NotFound(f"Pick task {task_id} does not exist.")
        _require_open(session, task)
        _check_scans(session, task, bin_code=bin_code, sku=sku)


@write_operation
def confirm_pick(
    engine: Engine,
    *,
    task_id: int,
    qty_picked: int,
    actor: str,
    note: str = "",
    bin_code: str | None = None,
    sku: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """The operator picked the task; fewer units than asked is a short pick.

    ``bin_code`` and ``sku`` are what the operator scanned (or typed) at the bin; when given,
    a scan of another bin or product is refused and nothing is booked.
    """
    actor = actor_name(actor)
    task_id = identifier(task_id, "Pick task")
    qty_picked = non_negative(qty_picked, "The quantity picked")
    note = text(note, "Note", max_length=200, required=False)
    bin_code = _scanned(bin_code, "The bin code")
    sku = _scanned(sku, "The SKU")
    now = optional_moment(now, "The time of picking") or utcnow()
    with write_session(engine) as session:
        task, line, order = _locked_task(session, task_id)
        _require_open(session, task)
        _check_scans(session, task, bin_code=bin_code, sku=sku)
        if qty_picked > task.qty:
            raise ValidationError(
                f"{_task_label(session, task)} asks for {task.qty}; {qty_picked} is more than "
                "that. Pick only what the task asks."
            )
        if qty_picked < task.qty:
            _short_pick(
                session,
                task=task,
                line=line,
                order=order,
                qty_found=qty_picked,
                actor=actor,
                note=note or "short at pick",
                now=now,
            )
            return
        task.qty_picked = qty_picked
        task.status = "picked"
        task.picked_at = now
        task.actor = actor
        if order.status == "open":
            order.status = "picking"
        audit.record(
            session,
            actor=actor,
            action="confirm_pick",
            entity="pick_task",
            entity_id=task.id,
            after={"qty_picked": qty_picked},
            at=now,
        )


def _require_open(session: Session, task: PickTask) -> None:
    if task.status != "open":
        raise InvalidState(
            f"{_task_label(session, task)} is {task.status}, not open: it cannot be picked again."
        )


@write_operation
def report_short_pick(
    engine: Engine,
    *,
    task_id: int,
    qty_found: int,
    actor: str,
    note: str = "",
    bin_code: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """The bin held less than the system thought: write the stock down, backorder the rest.

    Other free stock the system shows for the product is suspect until someone counts it
    (``adjust_stock``), so the new backorder is not filled from it here; the warehouse manager
    is asked to count, and the customer's users and sales rep hear of the new date.
    ``bin_code``, when given, is the bin the operator scanned and must be the task's.
    """
    actor = actor_name(actor)
    task_id = identifier(task_id, "Pick task")
    qty_found = non_negative(qty_found, "The quantity found")
    note = text(note, "Note", max_length=200, required=False)
    bin_code = _scanned(bin_code, "The bin code")
    now = optional_moment(now, "The time of picking") or utcnow()
    with write_session(engine) as session:
        task, line, order = _locked_task(session, task_id)
        _require_open(session, task)
        _check_scans(session, task, bin_code=bin_code, sku=None)
        if qty_found >= task.qty:
            raise ValidationError(
                f"{_task_label(session, task)}: finding {qty_found} is not short. "
                "Confirm the pick instead."
            )
        _short_pick(
            session,
            task=task,
            line=line,
            order=order,
            qty_found=qty_found,
            actor=actor,
            note=note,
            now=now,
        )


def _short_pick(
    session: Session,
    *,
    task: PickTask,
    line: OrderLine,
    order: Order,
    qty_found: int,
    actor: str,
    note: str,
    now: dt.datetime,
) -> None:
    missing = task.qty - qty_found
    lock_stock(session, [task.product_id], task.warehouse_id)
    session.refresh(line)
    move_stock(
        session,
        product_id=task.product_id,
        warehouse_id=task.warehouse_id,
        reason="short_pick",
        actor=actor,
        on_hand_delta=-missing,
        reserved_delta=-missing,
        ref_type="pick_task",
        ref_id=task.id,
        note=note,
    )
    backorder = session.execute(
        select(Backorder)
        .where(Backorder.order_line_id == line.id)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    takes_backorders = order.backorder_choice != "cancel_short"
    estimate = (
        expected_date(session, line.product_id, missing, now.date(), customer_id=order.customer_id)
        if takes_backorders
        else None
    )
    rollup = RollupChange(session)
    rollup.watch(line, backorder)
    # From here on no query runs until every changed row is consistent again (autoflush).
    task.qty_picked = qty_found
    task.status = "picked" if qty_found else "short"
    task.picked_at = now
    task.actor = actor
    line.qty_allocated -= missing
    is_new = backorder is None
    if backorder is None:
        backorder = Backorder(
            order_line_id=line.id,
            product_id=line.product_id,
            customer_id=order.customer_id,
            qty=0,
            qty_filled=0,
            qty_cancelled=0,
            created_at=now,
            estimate_reason="",
        )
        session.add(backorder)
    backorder.qty += missing
    backorder.root_cause = backorder.root_cause or "short_pick"
    rollup.watch(line, backorder)
    if estimate is not None:
        line.qty_backordered += missing
        backorder.status = "open"
        backorder.closed_at = None
        backorder.promised_date = backorder.promised_date or estimate.likely
        backorder.estimated_date = estimate.likely
        backorder.estimated_late_date = estimate.late
        backorder.estimate_reason = estimate.reason[:300]
        backorder.waits_on_po_id = estimate.po_id
    else:
        line.qty_cancelled += missing
        backorder.qty_cancelled += missing
        backorder.status = "cancelled"
        backorder.closed_at = now
        backorder.cancel_reason = (
            "cancel_short: short pick, the customer takes only what is in stock"
        )
    rollup.save()
    if is_new:
        session.flush()
        book_handling(session, [backorder], now)
    if order.status == "open" and qty_found:
        order.status = "picking"
    sku = session.execute(select(Product.sku).where(Product.id == task.product_id)).scalar_one()
    notification_rules.short_pick(session, task, sku, missing, note, now)
    if estimate is not None:
        session.flush()
        notification_rules.backorder_created(
            session,
            customer_id=order.customer_id,
            order_number=order.number,
            lines=[(sku, missing, estimate.likely)],
            now=now,
            dedup_key=f"order:{order.id}",
            ref_type="backorder",
            ref_id=backorder.id,
        )
    audit.record(
        session,
        actor=actor,
        action="short_pick",
        entity="pick_task",
        entity_id=task.id,
        before={"qty": task.qty},
        after={"qty_found": qty_found, "missing": missing},
        note=note,
        at=now,
    )


@write_operation
def confirm_pack(
    engine: Engine,
    *,
    task_id: int,
    actor: str,
    sku: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """The picked goods of the task are packed and ready to ship.

    ``sku``, when given, is the product the packer scanned and must be the task's.
    """
    actor = actor_name(actor)
    task_id = identifier(task_id, "Pick task")
    sku = _scanned(sku, "The SKU")
    now = optional_moment(now, "The time of packing") or utcnow()
    with write_session(engine) as session:
        task, _line, _order = _locked_task(session, task_id)
        if task.status != "picked":
            raise InvalidState(
                f"{_task_label(session, task)} is {task.status}: only picked goods can be packed."
            )
        _check_scans(session, task, bin_code=None, sku=sku)
        task.status = "packed"
        task.packed_at = now
        task.actor = actor
        audit.record(
            session,
            actor=actor,
            action="confirm_pack",
            entity="pick_task",
            entity_id=task.id,
            after={"status": "packed"},
            at=now,
        )


@write_operation
def ship_order(
    engine: Engine,
    *,
    order_id: int,
    carrier_id: int,
    actor: str,
    tracking: str | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Ship everything packed for the order with a carrier; returns the shipment id."""
    actor = actor_name(actor)
    order_id = identifier(order_id, "Order")
    carrier_id = identifier(carrier_id, "Carrier")
    tracking = text(tracking, "Tracking number", max_length=40, required=False) or None
    now = optional_moment(now, "The time of shipping") or utcnow()
    with write_session(engine) as session:
        order = lock_order(session, order_id)
        if order.status in ("shipped", "delivered", "cancelled"):
            raise InvalidState(f"Order {order.number} is {order.status}: there is nothing to ship.")
        carrier = session.get(Carrier, carrier_id)
        if carrier is None:
            raise NotFound(f"Carrier {carrier_id} does not exist: choose one from the list.")
        tasks = session.scalars(
            select(PickTask)
            .join(OrderLine, OrderLine.id == PickTask.order_line_id)
            .where(OrderLine.order_id == order.id, PickTask.status == "packed")
            .order_by(PickTask.id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        ).all()
        if not tasks:
            raise InvalidState(
                f"Order {order.number} has nothing packed yet: pick and pack it before shipping."
            )
        by_stock: dict[int, set[int]] = defaultdict(set)
        for task in tasks:
            by_stock[task.warehouse_id].add(task.product_id)
        for warehouse_id, products in sorted(by_stock.items()):
            lock_stock(session, products, warehouse_id)
        region = session.execute(
            select(Customer.region).where(Customer.id == order.customer_id)
        ).scalar_one()
        shipment = Shipment(
            number=provisional_number(),
            direction="outbound",
            order_id=order.id,
            carrier_id=carrier.id,
            tracking=tracking,
            region=region,
            status="in_transit",
            shipped_at=now,
            promised_date=order.requested_date,
            estimated_arrival=now.date() + dt.timedelta(days=carrier.transit_days),
        )
        session.add(shipment)
        session.flush()
        shipment.number = document_number("SH", shipment.id)
        per_line: dict[int, int] = defaultdict(int)
        for task in tasks:
            move_stock(
                session,
                product_id=task.product_id,
                warehouse_id=task.warehouse_id,
                reason="ship",
                actor=actor,
                on_hand_delta=-task.qty_picked,
                reserved_delta=-task.qty_picked,
                ref_type="shipment",
                ref_id=shipment.id,
            )
            task.status = "shipped"
            per_line[task.order_line_id] += task.qty_picked
        for line_id, qty in sorted(per_line.items()):
            session.add(ShipmentLine(shipment_id=shipment.id, order_line_id=line_id, qty=qty))
            line = session.get(OrderLine, line_id)
            session.refresh(line)
            line.qty_shipped += qty
        session.add(
            ShipmentEvent(shipment_id=shipment.id, at=now, kind="picked_up", note=carrier.name)
        )
        session.flush()
        notification_rules.shipment_late(session, shipment, now)
        book_split_freight(session, order_id=order.id, shipment=shipment, now=now)
        lines = session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)).all()
        done = all(ln.qty_allocated - ln.qty_shipped + ln.qty_backordered == 0 for ln in lines)
        before = order.status
        order.status = "shipped" if done else "open"
        audit.record(
            session,
            actor=actor,
            action="ship_order",
            entity="order",
            entity_id=order.id,
            before={"status": before},
            after={"status": order.status, "shipment": shipment.number, "lines": dict(per_line)},
            at=now,
        )
        return shipment.id


@write_operation
def mark_delivered(
    engine: Engine, *, shipment_id: int, actor: str, now: dt.datetime | None = None
) -> None:
    """The carrier delivered the shipment; an order whose shipments are all delivered is too."""
    actor = actor_name(actor)
    shipment_id = identifier(shipment_id, "Shipment")
    now = optional_moment(now, "The time of delivery") or utcnow()
    with write_session(engine) as session:
        shipment = session.get(Shipment, shipment_id, with_for_update={"key_share": True})
        if shipment is None:
            raise NotFound(f"Shipment {shipment_id} does not exist.")
        if shipment.status in ("delivered", "cancelled"):
            raise InvalidState(f"Shipment {shipment.number} is already {shipment.status}.")
        before = shipment.status
        shipment.status = "delivered"
        shipment.delivered_at = now
        if shipment.direction == "outbound":
            add_delivery(session, now, shipment.promised_date)
        session.add(ShipmentEvent(shipment_id=shipment.id, at=now, kind="delivered"))
        session.flush()
        if shipment.order_id is not None:
            order = session.get(Order, shipment.order_id)
            undelivered = session.execute(
                select(Shipment.id).where(
                    Shipment.order_id == order.id,
                    Shipment.direction == "outbound",
                    Shipment.status.not_in(("delivered", "cancelled")),
                )
            ).first()
            if order.status == "shipped" and undelivered is None:
                order.status = "delivered"
        audit.record(
            session,
            actor=actor,
            action="mark_delivered",
            entity="shipment",
            entity_id=shipment.id,
            before={"status": before},
            after={"status": "delivered"},
            at=now,
        )


def report_delivery_failed(
    engine: Engine,
    *,
    shipment_id: int,
    reason: str,
    actor: str,
    next_attempt: dt.date | None = None,
    now: dt.datetime | None = None,
) -> None:
    """The carrier could not deliver: the shipment is delayed, and the people concerned are told.

    ``next_attempt`` (optional) becomes the shipment's estimated arrival.
    """
    actor = actor_name(actor)
    shipment_id = identifier(shipment_id, "Shipment")
    reason = text(reason, "The reason the delivery failed", max_length=200)
    if next_attempt is not None:
        next_attempt = a_date(next_attempt, "The next delivery attempt")
    now = now or utcnow()
    if next_attempt is not None and next_attempt < now.date():
        raise ValidationError(
            f"The next attempt {next_attempt.isoformat()} is in the past; give today or later."
        )
    with write_session(engine) as session:
        shipment = session.get(Shipment, shipment_id, with_for_update={"key_share": True})
        if shipment is None:
            raise NotFound(f"Shipment {shipment_id} does not exist.")
        if shipment.direction != "outbound" or shipment.status not in ("in_transit", "delayed"):
            raise InvalidState(
                f"Shipment {shipment.number} is {shipment.status} ({shipment.direction}): only an "
                "outbound shipment on its way can fail to be delivered."
            )
        before = {"status": shipment.status, "estimated_arrival": shipment.estimated_arrival}
        shipment.status = "delayed"
        if next_attempt is not None:
            shipment.estimated_arrival = next_attempt
        session.add(
            ShipmentEvent(shipment_id=shipment.id, at=now, kind="delivery_failed", note=reason)
        )
        session.flush()
        notification_rules.delivery_failed(session, shipment, reason, next_attempt, now)
        audit.record(
            session,
            actor=actor,
            action="report_delivery_failed",
            entity="shipment",
            entity_id=shipment.id,
            before=before,
            after={"status": "delayed", "estimated_arrival": shipment.estimated_arrival},
            note=reason,
            at=now,
        )


def _product(session: Session, product_id: int) -> Product:
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound(f"Product {product_id} does not exist.")
    return product


@write_operation
def adjust_stock(
    engine: Engine,
    *,
    product_id: int,
    counted_on_hand: int,
    reason: str,
    actor: str,
    warehouse_id: int | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Set on-hand to what a count found (with a reason); returns the change. Gains fill backorders."""
    actor = actor_name(actor)
    product_id = identifier(product_id, "Product")
    counted = non_negative(counted_on_hand, "The counted quantity")
    reason = text(reason, "The reason for the adjustment", max_length=200)
    warehouse_id = optional_identifier(warehouse_id, "Warehouse")
    now = optional_moment(now, "The time of the count") or utcnow()
    with write_session(engine) as session:
        check_ceiling(session, counted, "The counted quantity")
        product = _product(session, product_id)
        warehouse_id = resolve_warehouse(session, warehouse_id)
        on_hand, reserved = lock_stock(session, [product.id], warehouse_id).get(product.id, (0, 0))
        if counted < reserved:
            raise InvalidState(
                f"{product.sku} has {reserved} units reserved for orders, so a count of {counted} "
                "cannot be booked: report the short picks on those orders (or cancel them) first."
            )
        delta = counted - on_hand
        move_stock(
            session,
            product_id=product.id,
            warehouse_id=warehouse_id,
            reason="adjust",
            actor=actor,
            on_hand_delta=delta,
            ref_type="count",
            note=reason,
        )
        audit.record(
            session,
            actor=actor,
            action="adjust_stock",
            entity="stock",
            entity_id=product.id,
            before={"on_hand": on_hand, "reserved": reserved},
            after={"on_hand": counted, "reserved": reserved},
            note=reason,
            at=now,
        )
        if delta < 0:
            free = on_hand - reserved
            notification_rules.stock_fell(session, product, free, free + delta, now)
        if delta > 0:
            fill_backorders(
                session, product_ids=[product.id], warehouse_id=warehouse_id, actor=actor, now=now
            )
        return delta


@write_operation
def set_thresholds(
    engine: Engine,
    *,
    product_id: int,
    reorder_point: int,
    safety_stock: int,
    order_up_to: int,
    actor: str,
    confirm_large: bool = False,
) -> None:
    """Set a product's reorder point, safety stock and order-up-to level.

    Levels above the ceiling setting are refused; far above the product's usual size they need
    ``confirm_large`` (see :mod:`operations.limits`).
    """
    actor = actor_name(actor)
    product_id = identifier(product_id, "Product")
    reorder_point = non_negative(reorder_point, "The reorder point")
    safety_stock = non_negative(safety_stock, "The safety stock")
    order_up_to = non_negative(order_up_to, "The order-up-to level")
    confirm_large = flag(confirm_large, "Confirm large levels")
    if order_up_to < reorder_point:
        raise ValidationError(
            f"The order-up-to level ({order_up_to}) must be at least the reorder point "
            f"({reorder_point}), or every order would leave the product below its reorder point."
        )
    if safety_stock > reorder_point:
        raise ValidationError(
            f"The safety stock ({safety_stock}) cannot exceed the reorder point ({reorder_point}): "
            "the reorder point includes the safety stock."
        )
    with write_session(engine) as session:
        product = session.get(Product, product_id, with_for_update={"key_share": True})
        if product is None:
            raise NotFound(f"Product {product_id} does not exist.")
        check_sizes(
            session,
            [
                (product, reorder_point, "The reorder point"),
                (product, safety_stock, "The safety stock"),
                (product, order_up_to, "The order-up-to level"),
            ],
            confirmed=confirm_large,
        )
        before = {
            "reorder_point": product.reorder_point,
            "safety_stock": product.safety_stock,
            "order_up_to": product.order_up_to,
        }
        product.reorder_point = reorder_point
        product.safety_stock = safety_stock
        product.order_up_to = order_up_to
        audit.record(
            session,
            actor=actor,
            action="set_thresholds",
            entity="product",
            entity_id=product.id,
            before=before,
            after={
                "reorder_point": reorder_point,
                "safety_stock": safety_stock,
                "order_up_to": order_up_to,
            },
        )
