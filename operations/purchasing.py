"""Purchase orders: drafting from stock positions, approving, sending, re-dating, receiving."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from data.db import read_connection, write_session
from data.numbering import document_number, provisional_number
from data.schema import (
    Backorder,
    Carrier,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    Shipment,
    ShipmentEvent,
    Stock,
    Supplier,
    utcnow,
)
from operations import audit, notification_rules
from operations.allocation import Fill, fill_backorders
from operations.errors import InvalidState, NotFound, ValidationError
from operations.limits import check_ceiling
from operations.po_documents import queue_po_mail
from operations.promises import reestimate_backorders, tell_about_slips
from operations.stock import lock_stock, move_stock, resolve_warehouse
from operations.transactions import write_operation
from operations.validation import (
    a_date,
    actor_name,
    excerpt,
    identifier,
    optional_identifier,
    optional_moment,
    quantity,
    text,
)

# Stock already coming: everything ordered and not received on POs not cancelled or complete.
ON_ORDER_STATUSES = ("draft", "approved", "sent", "partially_received")
RECEIVABLE_STATUSES = ("approved", "sent", "partially_received")


def _round_up(qty: int, multiple: int) -> int:
    return int(math.ceil(qty / multiple)) * multiple


def order_quantity(*, need: int, pack_size: int, min_order_qty: int) -> int:
    """What to order for a need: rounded up to whole packs and to at least the minimum order."""
    return _round_up(max(need, min_order_qty), pack_size)


def _positions(session: Session, warehouse_id: int) -> list:
    """Per active product: free stock, open backorders and stock on order (all in SQL)."""
    free = (
        select(
            Stock.product_id.label("product_id"),
            func.sum(Stock.on_hand - Stock.reserved).label("free"),
        )
        .where(Stock.warehouse_id == warehouse_id)
        .group_by(Stock.product_id)
        .subquery()
    )
    waiting = (
        select(
            Backorder.product_id.label("product_id"),
            func.sum(Backorder.qty_open).label("waiting"),
        )
        .where(Backorder.status == "open")
        .group_by(Backorder.product_id)
        .subquery()
    )
    coming = (
        select(
            PurchaseOrderLine.product_id.label("product_id"),
            func.sum(PurchaseOrderLine.qty_ordered - PurchaseOrderLine.qty_received).label(
                "coming"
            ),
        )
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
        .where(PurchaseOrder.status.in_(ON_ORDER_STATUSES))
        .group_by(PurchaseOrderLine.product_id)
        .subquery()
    )
    position = (
        func.coalesce(free.c.free, 0)
        - func.coalesce(waiting.c.waiting, 0)
        + func.coalesce(coming.c.coming, 0)
    )
    return session.execute(
        select(Product, position.label("position"))
        .outerjoin(free, free.c.product_id == Product.id)
        .outerjoin(waiting, waiting.c.product_id == Product.id)
        .outerjoin(coming, coming.c.product_id == Product.id)
        .where(Product.active.is_(True), position < Product.reorder_point)
        .order_by(Product.supplier_id, Product.id)
    ).all()


def _new_po(
    session: Session, *, supplier_id: int, warehouse_id: int, actor: str, now
) -> PurchaseOrder:
    po = PurchaseOrder(
        number=provisional_number(),
        supplier_id=supplier_id,
        warehouse_id=warehouse_id,
        status="draft",
        created_at=now,
        created_by=actor,
    )
    session.add(po)
    session.flush()
    po.number = document_number("PO", po.id)
    return po


@write_operation
def draft_purchase_orders(
    engine: Engine,
    *,
    actor: str,
    today: dt.date | None = None,
    warehouse_id: int | None = None,
) -> list[int]:
    """Draft POs for every active product whose position is below its reorder point.

    Position = free stock - open backorders + stock on order (drafts included, so running this
    twice orders nothing twice). The quantity brings the position up to ``order_up_to``, rounded
    up to the pack size and at least the minimum order. One draft per supplier: lines go onto
    the supplier's existing draft. Returns the ids of the drafts that changed. ``today`` dates
    the drafts (default: today, UTC).
    """
    actor = actor_name(actor)
    warehouse_id = optional_identifier(warehouse_id, "Warehouse")
    now = utcnow()
    if today is not None:
        now = dt.datetime.combine(a_date(today, "Today"), now.time())
    with write_session(engine) as session:
        warehouse_id = resolve_warehouse(session, warehouse_id)
        # Two people drafting at once on PostgreSQL would each see the other's need as unmet:
        # the supplier rows serialize drafting runs (NO KEY UPDATE leaves PO inserts alone).
        session.execute(
            select(Supplier.id).order_by(Supplier.id).with_for_update(key_share=True)
        ).all()
        touched: dict[int, PurchaseOrder] = {}
        added: dict[int, list] = {}
        for product, position in _positions(session, warehouse_id):
            need = product.order_up_to - int(position)
            if need <= 0:
                continue
            qty = order_quantity(
                need=need, pack_size=product.pack_size, min_order_qty=product.min_order_qty
            )
            po = touched.get(product.supplier_id)
            if po is None:
                po = session.scalars(
                    select(PurchaseOrder)
                    .where(
                        PurchaseOrder.supplier_id == product.supplier_id,
                        PurchaseOrder.warehouse_id == warehouse_id,
                        PurchaseOrder.status == "draft",
                    )
                    .order_by(PurchaseOrder.id)
                    .limit(1)
                    .with_for_update(key_share=True)
                ).first() or _new_po(
                    session,
                    supplier_id=product.supplier_id,
                    warehouse_id=warehouse_id,
                    actor=actor,
                    now=now,
                )
                touched[product.supplier_id] = po
            line = session.scalars(
                select(PurchaseOrderLine).where(
                    PurchaseOrderLine.po_id == po.id, PurchaseOrderLine.product_id == product.id
                )
            ).first()
            if line is None:
                session.add(
                    PurchaseOrderLine(
                        po_id=po.id,
                        product_id=product.id,
                        qty_ordered=qty,
                        qty_received=0,
                        unit_cost=product.cost,
                    )
                )
            else:
                line.qty_ordered += qty
            added.setdefault(po.id, []).append([product.sku, qty])
        for po in touched.values():
            audit.record(
                session,
                actor=actor,
                action="draft_po",
                entity="purchase_order",
                entity_id=po.id,
                after={"number": po.number, "added": added[po.id]},
                at=now,
            )
        notification_rules.pos_drafted(session, list(touched.values()), now)
        return sorted(po.id for po in touched.values())


def _locked_po(session: Session, po_id: int) -> PurchaseOrder:
    po = session.execute(
        select(PurchaseOrder)
        .where(PurchaseOrder.id == po_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if po is None:
        raise NotFound(f"Purchase order {po_id} does not exist.")
    return po


def _po_lines(session: Session, po_id: int) -> list[PurchaseOrderLine]:
    return session.scalars(
        select(PurchaseOrderLine)
        .where(PurchaseOrderLine.po_id == po_id)
        .order_by(PurchaseOrderLine.id)
        .execution_options(populate_existing=True)
    ).all()


def _line_problem(sku: str, qty: object, pack_size: int, min_order_qty: int) -> str | None:
    """Why ``qty`` cannot be ordered of a product (None when it can), naming the product."""
    try:
        qty = quantity(qty, f"{sku}: the quantity to order")
    except ValidationError as err:
        return err.message
    if qty < min_order_qty:
        return f"{sku}: {qty} is below the supplier's minimum order of {min_order_qty}."
    if qty % pack_size:
        lower = qty // pack_size * pack_size
        options = f"{lower} or {lower + pack_size}" if lower else str(pack_size)
        return f"{sku}: {qty} is not a whole number of packs of {pack_size} (order {options})."
    return None


def _draft_for_edit(session: Session, po_id: int) -> PurchaseOrder:
    po = _locked_po(session, po_id)
    if po.status != "draft":
        raise InvalidState(
            f"{po.number} is {po.status}: only a draft can be edited. "
            "Cancel it and draft a new one to change what is ordered."
        )
    return po


@write_operation
def update_po_lines(engine: Engine, *, po_id: int, quantities: dict, actor: str) -> int:
    """Change several lines of a draft at once (all or nothing); returns the lines changed.

    Each quantity must be a whole number of the product's packs and at least its minimum
    order; every line at fault is named in one message and nothing is saved.
    """
    actor = actor_name(actor)
    po_id = identifier(po_id, "Purchase order")
    if not isinstance(quantities, dict) or not quantities:
        raise ValidationError("Say which lines to change and to what quantity.")
    wanted = {identifier(k, "Purchase order line"): v for k, v in quantities.items()}
    with write_session(engine) as session:
        po = _draft_for_edit(session, po_id)
        rows = {
            line.id: (line, product)
            for line, product in session.execute(
                select(PurchaseOrderLine, Product)
                .join(Product, Product.id == PurchaseOrderLine.product_id)
                .where(PurchaseOrderLine.po_id == po.id)
                .execution_options(populate_existing=True)
            ).all()
        }
        strangers = sorted(set(wanted) - set(rows))
        if strangers:
            raise NotFound(
                f"Line {', '.join(map(str, strangers))} is not on {po.number}: reload the page."
            )
        problems = [
            problem
            for line_id, qty in wanted.items()
            if (
                problem := _line_problem(
                    rows[line_id][1].sku,
                    qty,
                    rows[line_id][1].pack_size,
                    rows[line_id][1].min_order_qty,
                )
            )
        ]
        if problems:
            raise ValidationError(f"Nothing saved on {po.number}. " + " ".join(problems))
        for qty in wanted.values():
            check_ceiling(session, qty, "The quantity to order")
        changed = 0
        for line_id, qty in sorted(wanted.items()):
            line, product = rows[line_id]
            if line.qty_ordered == int(qty):
                continue
            before = {"qty_ordered": line.qty_ordered}
            line.qty_ordered = int(qty)
            audit.record(
                session,
                actor=actor,
                action="update_po_line",
                entity="purchase_order_line",
                entity_id=line.id,
                before=before,
                after={"qty_ordered": int(qty)},
                note=f"{po.number} {product.sku}",
            )
            changed += 1
        return changed


@write_operation
def update_po_line(engine: Engine, *, po_line_id: int, qty: int, actor: str) -> None:
    """Change the quantity of a line on a draft purchase order (whole packs, at least the minimum)."""
    actor = actor_name(actor)
    po_line_id = identifier(po_line_id, "Purchase order line")
    qty = quantity(qty, "The quantity to order")
    with read_connection(engine) as conn, Session(conn) as session:
        check_ceiling(session, qty, "The quantity to order")  # an absurd number, whatever line
        po_id = session.execute(
            select(PurchaseOrderLine.po_id).where(PurchaseOrderLine.id == po_line_id)
        ).scalar_one_or_none()
    if po_id is None:
        raise NotFound(f"Purchase order line {po_line_id} does not exist.")
    update_po_lines(engine, po_id=po_id, quantities={po_line_id: qty}, actor=actor)


@write_operation
def add_po_line(engine: Engine, *, po_id: int, product_id: int, qty: int, actor: str) -> int:
    """Add a product of the PO's supplier to a draft; returns the new line's id."""
    actor = actor_name(actor)
    po_id = identifier(po_id, "Purchase order")
    product_id = identifier(product_id, "Product")
    with write_session(engine) as session:
        po = _draft_for_edit(session, po_id)
        product = session.get(Product, product_id)
        if product is None or not product.active:
            raise NotFound(f"Product {product_id} does not exist or is no longer sold.")
        if product.supplier_id != po.supplier_id:
            raise ValidationError(
                f"{product.sku} comes from another supplier: it cannot go on {po.number}."
            )
        if session.execute(
            select(PurchaseOrderLine.id).where(
                PurchaseOrderLine.po_id == po.id, PurchaseOrderLine.product_id == product.id
            )
        ).first():
            raise InvalidState(f"{product.sku} is already on {po.number}: change its quantity.")
        problem = _line_problem(product.sku, qty, product.pack_size, product.min_order_qty)
        if problem:
            raise ValidationError(problem)
        check_ceiling(session, qty, "The quantity to order")
        line = PurchaseOrderLine(
            po_id=po.id,
            product_id=product.id,
            qty_ordered=int(qty),
            qty_received=0,
            unit_cost=product.cost,
        )
        session.add(line)
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="add_po_line",
            entity="purchase_order_line",
            entity_id=line.id,
            after={"sku": product.sku, "qty_ordered": int(qty)},
            note=po.number,
        )
        return line.id


@write_operation
def remove_po_line(engine: Engine, *, po_line_id: int, actor: str) -> None:
    """Take a line off a draft purchase order."""
    actor = actor_name(actor)
    po_line_id = identifier(po_line_id, "Purchase order line")
    with write_session(engine) as session:
        po_id = session.execute(
            select(PurchaseOrderLine.po_id).where(PurchaseOrderLine.id == po_line_id)
        ).scalar_one_or_none()
        if po_id is None:
            raise NotFound(f"Purchase order line {po_line_id} does not exist.")
        po = _draft_for_edit(session, po_id)
        line = session.get(PurchaseOrderLine, po_line_id)
        sku = session.execute(select(Product.sku).where(Product.id == line.product_id)).scalar_one()
        audit.record(
            session,
            actor=actor,
            action="remove_po_line",
            entity="purchase_order_line",
            entity_id=line.id,
            before={"sku": sku, "qty_ordered": line.qty_ordered},
            note=po.number,
        )
        session.delete(line)


@write_operation
def approve_po(engine: Engine, *, po_id: int, actor: str) -> None:
    """Approve a draft purchase order (it then counts as supply in every estimate)."""
    actor = actor_name(actor)
    po_id = identifier(po_id, "Purchase order")
    now = utcnow()
    with write_session(engine) as session:
        po = _locked_po(session, po_id)
        if po.status != "draft":
            raise InvalidState(f"{po.number} is {po.status}: only a draft can be approved.")
        if not _po_lines(session, po.id):
            raise InvalidState(f"{po.number} has no lines: add what to order before approving.")
        po.status = "approved"
        po.approved_at = now
        po.approved_by = actor
        audit.record(
            session,
            actor=actor,
            action="approve_po",
            entity="purchase_order",
            entity_id=po.id,
            before={"status": "draft"},
            after={"status": "approved"},
            at=now,
        )
        _repromise(session, po, now)


def _repromise(session: Session, po: PurchaseOrder, now: dt.datetime) -> int:
    products = [line.product_id for line in _po_lines(session, po.id)]
    session.flush()
    # Backorders of a product only change under its stock lock (orders, fills, cancels), so
    # re-estimating them takes it too: no two transactions update them in different orders.
    lock_stock(session, products, po.warehouse_id)
    slipped = reestimate_backorders(session, products, now.date())
    return tell_about_slips(session, slipped, now)


@write_operation
def send_po(
    engine: Engine,
    *,
    po_id: int,
    actor: str,
    expected_date: dt.date | None = None,
    now: dt.datetime | None = None,
    carrier_id: int | None = None,
    tracking: str | None = None,
) -> dt.date:
    """Send an approved PO to its supplier; returns the expected date (default: today + lead time).

    The order is queued in the outbox as mail to the supplier with a PDF and a CSV attached.
    With a ``carrier_id`` the inbound shipment that brings the goods is opened too (tracking
    number optional), so logistics can follow it and record its events.
    """
    actor = actor_name(actor)
    po_id = identifier(po_id, "Purchase order")
    carrier_id = optional_identifier(carrier_id, "Carrier")
    tracking = text(tracking, "Tracking number", max_length=40, required=False) or None
    now = optional_moment(now, "The time of sending") or utcnow()
    if expected_date is not None:
        expected_date = a_date(expected_date, "Expected date")
        if expected_date < now.date():
            raise ValidationError(
                f"The expected date {expected_date.isoformat()} is in the past; "
                "give the date the supplier promised."
            )
    with write_session(engine) as session:
        po = _locked_po(session, po_id)
        if po.status != "approved":
            raise InvalidState(
                f"{po.number} is {po.status}: only an approved purchase order can be sent."
            )
        supplier = session.get(Supplier, po.supplier_id)
        expected = expected_date or now.date() + dt.timedelta(days=supplier.lead_time_days)
        po.status = "sent"
        po.sent_at = now
        po.expected_date = expected
        po.original_expected_date = expected
        session.flush()
        # The supplier's mail (PDF and CSV attached) is queued in this same transaction.
        mail = queue_po_mail(session, po)
        audit.record(
            session,
            actor=actor,
            action="send_po",
            entity="purchase_order",
            entity_id=po.id,
            before={"status": "approved"},
            after={
                "status": "sent",
                "expected_date": expected,
                "mailed_to": mail.recipients if mail else None,
            },
            note="" if mail else f"{supplier.name} has no mail address: send the order by hand.",
            at=now,
        )
        if carrier_id is not None:
            _open_inbound_shipment(session, po, carrier_id, tracking, actor, now)
        _repromise(session, po, now)
        return expected


def _open_inbound_shipment(
    session: Session,
    po: PurchaseOrder,
    carrier_id: int,
    tracking: str | None,
    actor: str,
    now: dt.datetime,
) -> Shipment:
    """The shipment that brings a sent PO in: planned, due on the PO's expected date."""
    carrier = session.get(Carrier, carrier_id)
    if carrier is None:
        raise NotFound(f"Carrier {carrier_id} does not exist: choose one from the list.")
    shipment = Shipment(
        number=provisional_number(),
        direction="inbound",
        po_id=po.id,
        carrier_id=carrier.id,
        tracking=tracking,
        status="planned",
        promised_date=po.expected_date,
        estimated_arrival=po.expected_date,
    )
    session.add(shipment)
    session.flush()
    shipment.number = document_number("IN", shipment.id)
    session.add(
        ShipmentEvent(
            shipment_id=shipment.id, at=now, kind="booked", note=f"{po.number} with {carrier.name}"
        )
    )
    audit.record(
        session,
        actor=actor,
        action="open_inbound_shipment",
        entity="shipment",
        entity_id=shipment.id,
        after={
            "number": shipment.number,
            "po": po.number,
            "carrier": carrier.name,
            "tracking": tracking,
        },
        at=now,
    )
    return shipment


@write_operation
def set_po_expected_date(
    engine: Engine,
    *,
    po_id: int,
    expected_date: dt.date,
    actor: str,
    now: dt.datetime | None = None,
) -> int:
    """Record the supplier's new date; re-promise waiting backorders. Returns notifications sent."""
    po_id = identifier(po_id, "Purchase order")
    return set_po_expected_dates(engine, dates={po_id: expected_date}, actor=actor, now=now)


@write_operation
def set_po_expected_dates(
    engine: Engine,
    *,
    dates: dict,
    actor: str,
    now: dt.datetime | None = None,
) -> int:
    """Re-date several POs at once (all or nothing); returns the notifications sent.

    The inbound shipment of each PO moves with it.
    """
    actor = actor_name(actor)
    if not isinstance(dates, dict) or not dates:
        raise ValidationError("Say which purchase orders get which new date.")
    dates = {
        identifier(po_id, "Purchase order"): a_date(day, "Expected date")
        for po_id, day in dates.items()
    }
    now = optional_moment(now, "The time of the change") or utcnow()
    with write_session(engine) as session:
        locked = [_locked_po(session, po_id) for po_id in sorted(dates)]
        problems = []
        for po in locked:
            if po.status not in RECEIVABLE_STATUSES:
                problems.append(
                    f"{po.number} is {po.status}: only an approved or sent purchase order has a "
                    "delivery date to change."
                )
            elif dates[po.id] < now.date():
                problems.append(
                    f"The new expected date {dates[po.id].isoformat()} of {po.number} is in the "
                    "past: give the date the supplier now promises."
                )
        if problems:
            wrong_state = any("only an approved" in p for p in problems)
            raise (InvalidState if wrong_state else ValidationError)(" ".join(problems))
        told = 0
        for po in locked:
            told += _redate(session, po, dates[po.id], actor, now)
        return told


def _redate(
    session: Session, po: PurchaseOrder, expected_date: dt.date, actor: str, now: dt.datetime
) -> int:
    before = po.expected_date
    po.expected_date = expected_date
    audit.record(
        session,
        actor=actor,
        action="set_po_expected_date",
        entity="purchase_order",
        entity_id=po.id,
        before={"expected_date": before},
        after={"expected_date": expected_date},
        at=now,
    )
    for shipment in session.scalars(
        select(Shipment).where(
            Shipment.po_id == po.id,
            Shipment.direction == "inbound",
            Shipment.status.in_(("planned", "in_transit", "delayed")),
        )
    ):
        shipment.estimated_arrival = expected_date
    if before is not None:
        notification_rules.po_moved_later(session, po, before, now)
    return _repromise(session, po, now)


@write_operation
def cancel_po(engine: Engine, *, po_id: int, actor: str, reason: str = "") -> int:
    """Cancel a PO nothing has been received on; returns notifications of slipped promises."""
    actor = actor_name(actor)
    po_id = identifier(po_id, "Purchase order")
    reason = text(reason, "The reason for cancelling", max_length=200, required=False)
    now = utcnow()
    with write_session(engine) as session:
        po = _locked_po(session, po_id)
        if po.status in ("received", "cancelled", "partially_received"):
            raise InvalidState(
                f"{po.number} is {po.status.replace('_', ' ')}: it cannot be cancelled."
            )
        before = po.status
        po.status = "cancelled"
        audit.record(
            session,
            actor=actor,
            action="cancel_po",
            entity="purchase_order",
            entity_id=po.id,
            before={"status": before},
            after={"status": "cancelled"},
            note=reason,
            at=now,
        )
        return _repromise(session, po, now)


@dataclass(frozen=True)
class ReceiveResult:
    po_id: int
    status: str
    received: dict[int, int]  # product_id -> units received now
    fills: list[Fill] = field(default_factory=list)


@write_operation
def receive_po(
    engine: Engine,
    *,
    po_id: int,
    actor: str,
    quantities: dict[int, int] | None = None,
    now: dt.datetime | None = None,
) -> ReceiveResult:
    """Book goods in (all outstanding, or ``quantities`` per product), then fill backorders."""
    actor = actor_name(actor)
    po_id = identifier(po_id, "Purchase order")
    if quantities is not None:
        if not isinstance(quantities, dict) or not quantities:
            raise ValidationError("Say how many units of which product arrived.")
        if len(quantities) > 1000:
            raise ValidationError("Book at most 1,000 products in at once.")
        quantities = {
            identifier(pid, "Product"): quantity(
                qty, f"The quantity received of product {excerpt(pid, 20)}"
            )
            for pid, qty in quantities.items()
        }
    now = optional_moment(now, "The time of receiving") or utcnow()
    with write_session(engine) as session:
        po = _locked_po(session, po_id)
        if po.status == "draft":
            raise InvalidState(f"{po.number} is still a draft: approve and send it first.")
        if po.status not in RECEIVABLE_STATUSES:
            raise InvalidState(f"{po.number} is {po.status}: nothing more can be received on it.")
        lines = {line.product_id: line for line in _po_lines(session, po.id)}
        if quantities is None:
            quantities = {
                pid: line.qty_ordered - line.qty_received
                for pid, line in lines.items()
                if line.qty_ordered > line.qty_received
            }
        skus = dict(
            session.execute(
                select(Product.id, Product.sku).where(Product.id.in_(set(quantities) | set(lines)))
            ).all()
        )
        for pid, qty in quantities.items():
            line = lines.get(pid)
            if line is None:
                raise NotFound(f"{skus.get(pid, f'Product {pid}')} is not on {po.number}.")
            outstanding = line.qty_ordered - line.qty_received
            if qty > outstanding:
                raise InvalidState(
                    f"Too many {skus[pid]} for {po.number}: {line.qty_ordered} ordered, "
                    f"{line.qty_received} already received, so at most {outstanding} more "
                    f"(not {qty}). Record the surplus as a stock adjustment."
                )
        lock_stock(session, quantities, po.warehouse_id)
        for pid, qty in sorted(quantities.items()):
            line = lines[pid]
            receipt = Receipt(po_line_id=line.id, qty=qty, received_at=now, actor=actor)
            session.add(receipt)
            line.qty_received += qty
            move_stock(
                session,
                product_id=pid,
                warehouse_id=po.warehouse_id,
                reason="receipt",
                actor=actor,
                on_hand_delta=qty,
                ref_type="po_line",
                ref_id=line.id,
                note=po.number,
            )
        before = po.status
        if all(line.qty_received == line.qty_ordered for line in lines.values()):
            po.status = "received"
            po.received_at = now
        else:
            po.status = "partially_received"
        session.flush()
        fills = fill_backorders(
            session,
            product_ids=quantities,
            warehouse_id=po.warehouse_id,
            actor=actor,
            now=now,
            po_id=po.id,
        )
        audit.record(
            session,
            actor=actor,
            action="receive_po",
            entity="purchase_order",
            entity_id=po.id,
            before={"status": before},
            after={
                "status": po.status,
                "received": {skus[pid]: qty for pid, qty in quantities.items()},
                "backorders_filled": len(fills),
            },
            at=now,
        )
        session.flush()
        tell_about_slips(session, reestimate_backorders(session, quantities, now.date()), now)
        return ReceiveResult(po_id=po.id, status=po.status, received=dict(quantities), fills=fills)
