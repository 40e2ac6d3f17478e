"""The invariant checker itself: each kind of damage is reported (it can fail)."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from data.db import write_session
from data.schema import (
    Backorder,
    OrderLine,
    PickTask,
    PurchaseOrderLine,
    Stock,
    StockLedger,
    Warehouse,
)
from operations import approve_po, draft_purchase_orders, place_order, receive_po, send_po
from tests.invariants import assert_invariants, broken_invariants
from tests.operations_world import build_world


@pytest.fixture
def busy(sqlite_engine):
    """A world with an order that is partly backordered and a received purchase order."""
    world = build_world(sqlite_engine)
    placed = place_order(
        sqlite_engine, customer_id=world.customers["gold"], lines=[("FLOUR-25", 14)], actor="a"
    )
    for po_id in draft_purchase_orders(sqlite_engine, actor="p"):
        approve_po(sqlite_engine, po_id=po_id, actor="p")
        send_po(sqlite_engine, po_id=po_id, actor="p")
        receive_po(sqlite_engine, po_id=po_id, actor="w")
    assert broken_invariants(sqlite_engine) == []
    return world, placed


def _damage(engine, statement) -> list[str]:
    with write_session(engine) as session:
        session.execute(statement)
    return broken_invariants(engine)


def test_stock_changed_behind_the_ledgers_back_is_reported(sqlite_engine, busy):
    world, _ = busy
    problems = _damage(
        sqlite_engine,
        update(Stock)
        .where(Stock.product_id == world.products["OIL-5L"])
        .values(on_hand=Stock.on_hand + 1),
    )
    assert len(problems) == 1
    assert problems[0].startswith("ledger does not sum to stock")


def test_a_ledger_row_for_a_product_without_stock_is_reported(sqlite_engine, busy):
    world, _ = busy
    with write_session(sqlite_engine) as session:
        second = Warehouse(code="EAST", name="East depot")
        session.add(second)
        session.flush()
        session.add(
            StockLedger(
                product_id=world.products["OIL-5L"],
                warehouse_id=second.id,
                on_hand_delta=3,
                reason="adjust",
            )
        )
    with pytest.raises(AssertionError, match="ledger rows without a stock row"):
        assert_invariants(sqlite_engine)


def test_a_reservation_moved_to_backorder_without_a_backorder_is_reported(sqlite_engine, busy):
    _, placed = busy
    problems = _damage(
        sqlite_engine,
        update(OrderLine)
        .where(OrderLine.id == placed.lines[0].line_id)
        .values(
            qty_allocated=OrderLine.qty_allocated - 1, qty_backordered=OrderLine.qty_backordered + 1
        ),
    )
    kinds = sorted(problem.split(":")[0] for problem in problems)
    assert kinds == [
        "line backordered != its open backorder (line, line, bo)",
        "pick tasks cover more than the line has reserved",
        "reserved stock != allocated-unshipped (pid, lines, stock)",
    ]


def test_an_open_backorder_with_nothing_waiting_is_reported(sqlite_engine, busy):
    # the fixture's backorder was filled when the flour arrived; reopen it with nothing waiting
    problems = _damage(sqlite_engine, update(Backorder).values(status="open"))
    assert any(problem.startswith("backorder status does not match") for problem in problems)


def test_shipped_units_without_a_shipment_are_reported(sqlite_engine, busy):
    with write_session(sqlite_engine) as session:
        session.execute(update(PickTask).values(status="cancelled"))
        session.execute(update(OrderLine).values(qty_shipped=1))
    problems = broken_invariants(sqlite_engine)
    assert any(problem.startswith("qty_shipped != shipment lines") for problem in problems)


def test_received_units_without_a_receipt_are_reported(sqlite_engine, busy):
    problems = _damage(
        sqlite_engine,
        update(PurchaseOrderLine).values(qty_received=PurchaseOrderLine.qty_received - 1),
    )
    # both received PO lines (flour and butter) are now one unit off their receipts
    assert [problem.split(":")[0] for problem in problems] == ["qty_received != receipts"] * 2
