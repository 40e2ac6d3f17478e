"""A backorder of a demo customer that waits on an inbound shipment (AppTest and browser)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select

import operations
from data.db import read_connection
from data.schema import (
    Backorder,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Shipment,
    Stock,
    User,
)


@dataclass(frozen=True)
class WaitingBackorder:
    backorder_id: int
    customer_id: int
    shipment_id: int
    shipment_number: str
    po_id: int
    estimated_date: object
    estimated_arrival: object


def backorder_on_inbound(engine: Engine, username: str = "customer1") -> WaitingBackorder:
    """Order one more than is free of a product on an inbound PO, as ``username``'s customer."""
    with read_connection(engine) as conn:
        customer_id = conn.execute(
            select(User.customer_id).where(User.username == username)
        ).scalar_one()
        candidates = conn.execute(
            select(Product.sku, Product.id, PurchaseOrder.id)
            .join(PurchaseOrderLine, PurchaseOrderLine.product_id == Product.id)
            .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
            .join(Shipment, Shipment.po_id == PurchaseOrder.id)
            .where(
                Shipment.direction == "inbound",
                Shipment.status.in_(("planned", "in_transit")),
                PurchaseOrder.status.in_(("sent", "partially_received")),
                PurchaseOrderLine.qty_ordered - PurchaseOrderLine.qty_received >= 5,
            )
            .order_by(Shipment.estimated_arrival, Product.sku)
        ).all()
    for sku, product_id, _po in candidates:
        with read_connection(engine) as conn:
            free = conn.execute(
                select(func.coalesce(func.sum(Stock.on_hand - Stock.reserved), 0)).where(
                    Stock.product_id == product_id
                )
            ).scalar_one()
        placed = operations.place_order(
            engine, customer_id=customer_id, lines=[(sku, int(free) + 1)], actor="test",
            backorder_choice="accept_backorder",
        )  # fmt: skip
        with read_connection(engine) as conn:
            row = conn.execute(
                select(Backorder.id, Backorder.waits_on_po_id, Backorder.estimated_date)
                .where(Backorder.product_id == product_id, Backorder.customer_id == customer_id)
                .order_by(Backorder.id.desc())
                .limit(1)
            ).first()
            shipment = (
                None
                if row is None or row.waits_on_po_id is None
                else conn.execute(
                    select(Shipment.id, Shipment.number, Shipment.estimated_arrival).where(
                        Shipment.po_id == row.waits_on_po_id,
                        Shipment.direction == "inbound",
                        Shipment.status.in_(("planned", "in_transit")),
                    )
                ).first()
            )
        if shipment is not None:
            return WaitingBackorder(
                row.id,
                customer_id,
                shipment.id,
                shipment.number,
                row.waits_on_po_id,
                row.estimated_date,
                shipment.estimated_arrival,
            )
        operations.cancel_order(engine, order_id=placed.order_id, actor="test", reason="retry")
    raise AssertionError("no inbound shipment of the demo data can take a backorder")
