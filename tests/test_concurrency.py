"""Eight clients ordering the same scarce products at once never get the same unit twice.

1,000 order placements (plus a cancellation every 25 orders, whose released stock is handed to
waiting backorders while the others keep ordering) from 8 threads, each with its own pooled
connections, while a ninth thread books purchase orders in (filling backorders by priority), on
a SQLite file and on PostgreSQL. The guarantee comes from the database (row
locks / BEGIN IMMEDIATE), so the same holds for several app servers sharing one database.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from data.db import make_engine, read_connection, write_session
from data.schema import (
    Backorder,
    Base,
    Order,
    OrderLine,
    PurchaseOrder,
    PurchaseOrderLine,
    Stock,
    StockLedger,
)
from operations import cancel_order, place_order, receive_po
from tests.conftest import _PG_PROBLEM, drop_pg_schema, pg_schema_engine
from tests.invariants import assert_invariants
from tests.operations_world import PRODUCTS, build_world

CLIENTS = 8
ORDERS = 1000
CANCEL_EVERY = 25
# Scarce: far more is ordered (about 6,000 units) than the 280 units in stock.
OPENING_STOCK = {"FLOUR-25": 120, "BUTTER-10": 80, "NAPKIN-500": 50, "OIL-5L": 30}
RECEIPT_UNITS = 40  # per product, booked in while the orders pour in


def _client(engine, world, number: int, start: threading.Barrier) -> list[int]:
    rng = random.Random(number)
    tiers = list(world.customers)
    placed: list[int] = []
    cancelled: set[int] = set()
    start.wait()
    for i in range(ORDERS // CLIENTS):
        skus = rng.sample(list(PRODUCTS), rng.randint(1, 3))
        order = place_order(
            engine,
            customer_id=world.customers[tiers[i % 3]],
            lines=[(sku, rng.randint(1, 5)) for sku in skus],
            actor=f"client{number}",
            backorder_choice=rng.choice(["accept_backorder", "accept_backorder", "cancel_short"]),
            priority=rng.choice(["normal", "urgent"]),
        )
        placed.append(order.order_id)
        if all(line.qty_cancelled == line.qty_ordered for line in order.lines):
            cancelled.add(order.order_id)  # cancel_short with nothing in stock: closed at once
        if (i + 1) % CANCEL_EVERY == 0:
            # one of this client's own orders not cancelled yet (each is cancelled once)
            victim = rng.choice([order_id for order_id in placed if order_id not in cancelled])
            cancel_order(engine, order_id=victim, actor=f"client{number}", reason="load test")
            cancelled.add(victim)
    return placed


def _sent_pos(engine, world) -> list[tuple[int, int]]:
    """One sent PO per product (RECEIPT_UNITS each), to be booked in during the rush."""
    ids = []
    with write_session(engine) as session:
        for number, sku in enumerate(OPENING_STOCK):
            po = PurchaseOrder(
                number=f"PO-C{number}",
                supplier_id=world.suppliers[PRODUCTS[sku][2]],
                warehouse_id=world.warehouse,
                status="sent",
            )
            session.add(po)
            session.flush()
            session.add(
                PurchaseOrderLine(
                    po_id=po.id,
                    product_id=world.products[sku],
                    qty_ordered=RECEIPT_UNITS,
                    unit_cost=Decimal("1"),
                )
            )
            ids.append((po.id, world.products[sku]))
    return ids


def _goods_in(engine, pos: list[tuple[int, int]], start: threading.Barrier) -> int:
    """Receive each PO in two halves while the clients are ordering; returns units received."""
    start.wait()
    received = 0
    for po_id, product_id in pos:
        time.sleep(0.05)
        half = receive_po(
            engine, po_id=po_id, actor="goods-in", quantities={product_id: RECEIPT_UNITS // 2}
        )
        time.sleep(0.05)
        rest = receive_po(engine, po_id=po_id, actor="goods-in")  # all that is outstanding
        assert (half.status, rest.status) == ("partially_received", "received")
        received += sum(half.received.values()) + sum(rest.received.values())
    return received


def _run_clients(engine) -> None:
    world = build_world(engine, stock=OPENING_STOCK)
    pos = _sent_pos(engine, world)
    start = threading.Barrier(CLIENTS + 1)
    with ThreadPoolExecutor(CLIENTS + 1) as pool:
        futures = [pool.submit(_client, engine, world, n, start) for n in range(CLIENTS)]
        receiving = pool.submit(_goods_in, engine, pos, start)
        placed = [order_id for future in futures for order_id in future.result()]
        assert receiving.result() == RECEIPT_UNITS * len(pos)
    assert len(placed) == ORDERS == len(set(placed))

    assert_invariants(engine)
    with read_connection(engine) as conn:
        assert conn.execute(select(func.count()).select_from(Order)).scalar_one() == ORDERS
        numbers = conn.execute(select(func.count(func.distinct(Order.number)))).scalar_one()
        assert numbers == ORDERS
        stock = {
            pid: (on_hand, reserved)
            for pid, on_hand, reserved in conn.execute(
                select(Stock.product_id, Stock.on_hand, Stock.reserved)
            )
        }
        allocated = dict(
            conn.execute(
                select(OrderLine.product_id, func.sum(OrderLine.qty_allocated)).group_by(
                    OrderLine.product_id
                )
            ).all()
        )
        waiting = dict(
            conn.execute(
                select(Backorder.product_id, func.count())
                .where(Backorder.status == "open")
                .group_by(Backorder.product_id)
            ).all()
        )
        reserved_in_ledger = conn.execute(select(func.sum(StockLedger.reserved_delta))).scalar_one()
    for sku, opening in OPENING_STOCK.items():
        pid = world.products[sku]
        on_hand, reserved = stock[pid]
        # Nothing was shipped: every unit received is either free or reserved exactly once.
        assert on_hand == opening + RECEIPT_UNITS
        assert allocated.get(pid, 0) == reserved <= on_hand
        # Demand far exceeds supply: while anyone waits for a product, none of it is left free.
        if waiting.get(pid):
            assert reserved == on_hand, sku
    assert sum(allocated.values()) == sum(r for _, r in stock.values()) == reserved_in_ledger


@pytest.mark.slow
def test_eight_clients_never_reserve_a_unit_twice_on_sqlite(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'concurrent.db'}", pool_size=CLIENTS + 1)
    Base.metadata.create_all(engine)
    try:
        _run_clients(engine)
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.skipif(bool(_PG_PROBLEM), reason=_PG_PROBLEM or "")
def test_eight_clients_never_reserve_a_unit_twice_on_postgres():
    engine, schema = pg_schema_engine(pool_size=CLIENTS + 1)
    try:
        Base.metadata.create_all(engine)
        _run_clients(engine)
    finally:
        drop_pg_schema(engine, schema)
