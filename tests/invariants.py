"""Every stock and order invariant of DESIGN.md, checked with SQL aggregates on any engine.

``assert_invariants(engine)`` raises AssertionError listing every broken rule. The rules:

- stock: ``on_hand >= 0`` and ``0 <= reserved <= on_hand``;
- the ledger sums to the stock for every (product, warehouse), on hand and reserved;
- per order line: allocated + backordered + cancelled = ordered, 0 <= shipped <= allocated;
- per order line: qty_backordered = the open quantity of its backorder (0 when it has none),
  and a backorder is "open" exactly when it has an open quantity;
- per product: stock reserved = sum over order lines of (allocated - shipped). This is exact in
  our model: a unit is reserved from the moment it is allocated to a line until it ships (or is
  released by a cancel, or written off by a short pick, which lowers allocated too);
- pick tasks never cover more than a line has reserved (a ship-complete order may have less);
- shipped units match shipment lines; received units match receipts;
- a backorder is created when its order is placed or later (a short pick), never before: the
  Overview's drill-down reads the newest backorders by their creation time.
"""

from __future__ import annotations

from sqlalchemy import Engine, case, func, literal, select

from data.db import read_connection
from data.schema import (
    Backorder,
    Order,
    OrderLine,
    PickTask,
    PurchaseOrderLine,
    Receipt,
    ShipmentLine,
    Stock,
    StockLedger,
)


def broken_invariants(engine: Engine) -> list[str]:
    """A description of every broken invariant (empty when all hold)."""
    problems: list[str] = []
    with read_connection(engine) as conn:
        for row in conn.execute(
            select(Stock.product_id, Stock.warehouse_id, Stock.on_hand, Stock.reserved).where(
                (Stock.on_hand < 0) | (Stock.reserved < 0) | (Stock.reserved > Stock.on_hand)
            )
        ):
            problems.append(f"stock out of bounds: {tuple(row)}")

        ledger = (
            select(
                StockLedger.product_id.label("product_id"),
                StockLedger.warehouse_id.label("warehouse_id"),
                func.sum(StockLedger.on_hand_delta).label("on_hand"),
                func.sum(StockLedger.reserved_delta).label("reserved"),
            )
            .group_by(StockLedger.product_id, StockLedger.warehouse_id)
            .subquery()
        )
        # Stock rows against ledger sums, then ledger sums with no stock row (must be zero).
        for row in conn.execute(
            select(
                Stock.product_id,
                Stock.warehouse_id,
                Stock.on_hand,
                Stock.reserved,
                ledger.c.on_hand,
                ledger.c.reserved,
            )
            .outerjoin(
                ledger,
                (ledger.c.product_id == Stock.product_id)
                & (ledger.c.warehouse_id == Stock.warehouse_id),
            )
            .where(
                (func.coalesce(ledger.c.on_hand, 0) != Stock.on_hand)
                | (func.coalesce(ledger.c.reserved, 0) != Stock.reserved)
            )
        ):
            problems.append(f"ledger does not sum to stock (pid, wh, stock, ledger): {tuple(row)}")
        orphan = (
            select(ledger.c.product_id, ledger.c.on_hand, ledger.c.reserved)
            .outerjoin(
                Stock,
                (ledger.c.product_id == Stock.product_id)
                & (ledger.c.warehouse_id == Stock.warehouse_id),
            )
            .where(Stock.product_id.is_(None), (ledger.c.on_hand != 0) | (ledger.c.reserved != 0))
        )
        for row in conn.execute(orphan):
            problems.append(f"ledger rows without a stock row: {tuple(row)}")

        for row in conn.execute(
            select(
                OrderLine.id,
                OrderLine.qty_ordered,
                OrderLine.qty_allocated,
                OrderLine.qty_backordered,
                OrderLine.qty_cancelled,
                OrderLine.qty_shipped,
            ).where(
                (
                    OrderLine.qty_allocated + OrderLine.qty_backordered + OrderLine.qty_cancelled
                    != OrderLine.qty_ordered
                )
                | (OrderLine.qty_allocated < 0)
                | (OrderLine.qty_backordered < 0)
                | (OrderLine.qty_cancelled < 0)
                | (OrderLine.qty_shipped < 0)
                | (OrderLine.qty_shipped > OrderLine.qty_allocated)
            )
        ):
            problems.append(f"order line parts do not add up: {tuple(row)}")

        open_qty = Backorder.qty - Backorder.qty_filled - Backorder.qty_cancelled
        waiting = (
            select(
                Backorder.order_line_id.label("line_id"),
                func.sum(case((Backorder.status == "open", open_qty), else_=0)).label("waiting"),
            )
            .group_by(Backorder.order_line_id)
            .subquery()
        )
        for row in conn.execute(
            select(OrderLine.id, OrderLine.qty_backordered, waiting.c.waiting)
            .outerjoin(waiting, waiting.c.line_id == OrderLine.id)
            .where(OrderLine.qty_backordered != func.coalesce(waiting.c.waiting, 0))
        ):
            problems.append(
                f"line backordered != its open backorder (line, line, bo): {tuple(row)}"
            )
        for row in conn.execute(
            select(
                Backorder.id,
                Backorder.status,
                Backorder.qty,
                Backorder.qty_filled,
                Backorder.qty_cancelled,
            ).where(
                ((Backorder.status == "open") & (open_qty <= 0))
                | ((Backorder.status != "open") & (open_qty != 0))
                | (Backorder.qty_filled < 0)
                | (Backorder.qty_cancelled < 0)
                | (open_qty < 0)
            )
        ):
            problems.append(f"backorder status does not match its quantities: {tuple(row)}")

        reserved = (
            select(Stock.product_id.label("product_id"), func.sum(Stock.reserved).label("reserved"))
            .group_by(Stock.product_id)
            .subquery()
        )
        owed = (
            select(
                OrderLine.product_id.label("product_id"),
                func.sum(OrderLine.qty_allocated - OrderLine.qty_shipped).label("owed"),
            )
            .group_by(OrderLine.product_id)
            .subquery()
        )
        for row in conn.execute(
            select(owed.c.product_id, owed.c.owed, reserved.c.reserved)
            .outerjoin(reserved, reserved.c.product_id == owed.c.product_id)
            .where(owed.c.owed != func.coalesce(reserved.c.reserved, 0))
        ):
            problems.append(
                f"reserved stock != allocated-unshipped (pid, lines, stock): {tuple(row)}"
            )
        for row in conn.execute(
            select(reserved.c.product_id, reserved.c.reserved)
            .outerjoin(owed, owed.c.product_id == reserved.c.product_id)
            .where(owed.c.product_id.is_(None), reserved.c.reserved != 0)
        ):
            problems.append(f"stock reserved with no order line owing it: {tuple(row)}")

        covered = (
            select(
                PickTask.order_line_id.label("line_id"),
                func.sum(
                    case((PickTask.status == "open", PickTask.qty), else_=PickTask.qty_picked)
                ).label("covered"),
            )
            .where(PickTask.status.in_(("open", "picked", "packed")))
            .group_by(PickTask.order_line_id)
            .subquery()
        )
        for row in conn.execute(
            select(OrderLine.id, covered.c.covered, OrderLine.qty_allocated, OrderLine.qty_shipped)
            .join(covered, covered.c.line_id == OrderLine.id)
            .where(covered.c.covered > OrderLine.qty_allocated - OrderLine.qty_shipped)
        ):
            problems.append(f"pick tasks cover more than the line has reserved: {tuple(row)}")

        shipped = (
            select(
                ShipmentLine.order_line_id.label("line_id"), func.sum(ShipmentLine.qty).label("qty")
            )
            .group_by(ShipmentLine.order_line_id)
            .subquery()
        )
        for row in conn.execute(
            select(OrderLine.id, OrderLine.qty_shipped, shipped.c.qty)
            .outerjoin(shipped, shipped.c.line_id == OrderLine.id)
            .where(OrderLine.qty_shipped != func.coalesce(shipped.c.qty, literal(0)))
        ):
            problems.append(f"qty_shipped != shipment lines: {tuple(row)}")

        receipts = (
            select(Receipt.po_line_id.label("line_id"), func.sum(Receipt.qty).label("qty"))
            .group_by(Receipt.po_line_id)
            .subquery()
        )
        for row in conn.execute(
            select(PurchaseOrderLine.id, PurchaseOrderLine.qty_received, receipts.c.qty)
            .outerjoin(receipts, receipts.c.line_id == PurchaseOrderLine.id)
            .where(PurchaseOrderLine.qty_received != func.coalesce(receipts.c.qty, literal(0)))
        ):
            problems.append(f"qty_received != receipts: {tuple(row)}")

        for row in conn.execute(
            select(Backorder.id, Backorder.created_at, Order.placed_at)
            .join(OrderLine, OrderLine.id == Backorder.order_line_id)
            .join(Order, Order.id == OrderLine.order_id)
            .where(Backorder.created_at < Order.placed_at)
        ):
            problems.append(f"backorder created before its order was placed: {tuple(row)}")
    return problems


def assert_invariants(engine: Engine) -> None:
    """Fail with every broken invariant listed."""
    problems = broken_invariants(engine)
    assert not problems, "invariants broken:\n" + "\n".join(problems[:50])
