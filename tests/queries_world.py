"""A small hand-built wholesaler for the query tests: every expected number can be worked out
from the rows below (the comments give the sums the tests rely on)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import Engine, insert

from data.schema import (
    Backorder,
    Customer,
    DemandDaily,
    Order,
    OrderLine,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Stock,
    Substitute,
    Supplier,
    Warehouse,
)
from data.summaries import rebuild as rebuild_summaries
from tests.conftest import _fresh_engine

TODAY = dt.date(2026, 11, 20)
NOW = dt.datetime(2026, 11, 20, 12, 0)


def days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


def _product(pid, sku, name, category, use, cost, price, supplier, rp=0, ss=0, out=0, **kw):
    return {
        "id": pid,
        "sku": sku,
        "name": name,
        "category": category,
        "use": use,
        "unit": "each",
        "pack_size": 1,
        "cost": Decimal(str(cost)),
        "price": Decimal(str(price)),
        "supplier_id": supplier,
        "reorder_point": rp,
        "safety_stock": ss,
        "order_up_to": out,
        "allergens": kw.pop("allergens", ""),
        "active": kw.pop("active", True),
    }


PRODUCTS = [
    _product(1, "FLO-25", "Flour 25kg", "Dry goods", "flour", 10, 15, 1, 20, 5, 60, allergens="gluten"),
    _product(2, "RYE-25", "Rye flour 25kg", "Dry goods", "flour", 11, 16, 1, 10, 2, 30, allergens="gluten"),
    _product(3, "ALM-01", "Almond flour 1kg", "Dry goods", "flour", 12, 18, 1, allergens="gluten,nuts"),
    _product(4, "MLK-01", "Milk 1l", "Dairy", "milk", 0.5, 1, 1, 100, 20, 300, allergens="milk"),
    _product(5, "BLE-05", "Bleach 5l", "Cleaning supplies", "bleach", 2, 4, 2, 5, 1, 20),
    _product(6, "GLD-01", "Gold leaf flour", "Dry goods", "flour", 50, 100, 1),
    _product(7, "OLD-01", "Old flour", "Dry goods", "flour", 10, 15, 1, active=False),
    _product(8, "OVC-01", "Oven cleaner", "Cleaning supplies", "oven", 3, 6, 2),
    _product(9, "OAT-01", "Oat milk 1l", "Dairy", "milk", 0.6, 1.2, 1),
    _product(10, "GOA-01", "Goat milk 1l", "Dairy", "milk", 0.55, 1.05, 1, allergens="milk"),
]  # fmt: skip

# product -> [(warehouse, on_hand, reserved)]; available: P1 35, P2 8, P3 50, P4 0, P5 0 (no
# row), P6 100, P8 0 (no row), P9 50, P10 50.  Inventory at cost: 400+132+1000+5+5000+30+27.5.
STOCK = {
    1: [(1, 30, 5), (2, 10, 0)],
    2: [(1, 12, 4)],
    3: [(1, 50, 0)],
    4: [(1, 10, 10)],
    6: [(1, 100, 0)],
    9: [(1, 50, 0)],
    10: [(1, 50, 0)],
}
INVENTORY_AT_COST = 400 + 132 + 600 + 5 + 5000 + 30 + 27.5

# DemandDaily rows: (day offset, product, segment, lines, lines_short, qty_ordered, qty_short).
DEMAND = [
    (-1, 1, "Restaurant", 4, 0, 56, 0),
    (-10, 1, "Hotel", 2, 1, 28, 4),
    (-30, 1, "Restaurant", 10, 0, 1000, 0),  # outside the 28-day window, inside the year
    (-2, 4, "Hotel", 6, 2, 84, 10),
    (-400, 4, "Hotel", 9, 9, 500, 500),  # outside every window
]
# Last 28 days: lines 12, short 3 -> backorder rate 0.25; units 168, short 14 -> fill 154/168.
# COGS over 365 days: 56*10 + 24*10 + 1000*10 + 74*0.5 = 10837.
COGS_365 = 10837.0


def _insert_each(conn, table, rows: list[dict]) -> None:
    """One INSERT per row, so rows may leave different columns to their defaults."""
    for row in rows:
        conn.execute(insert(table).values(**row))


def build_world(engine: Engine) -> None:
    """Insert the world above into an empty database with Larder's schema."""
    with engine.begin() as conn:
        conn.execute(
            insert(Warehouse),
            [{"id": 1, "code": "MAIN", "name": "Main"}, {"id": 2, "code": "W2", "name": "Second"}],
        )
        conn.execute(
            insert(Supplier),
            [
                {"id": 1, "code": "ACME", "name": "Acme Foods", "lead_time_days": 5},
                {"id": 2, "code": "BRITE", "name": "Brite Clean", "lead_time_days": 10},
            ],
        )
        _insert_each(
            conn,
            Customer,
            [
                {"id": 1, "code": "C1", "name": "Bistro Uno", "segment": "Restaurant",
                 "region": "North", "tier": "gold"},
                {"id": 2, "code": "C2", "name": "Hotel Due", "segment": "Hotel",
                 "region": "South", "tier": "silver"},
            ],
        )  # fmt: skip
        conn.execute(insert(Product), PRODUCTS)
        conn.execute(insert(Substitute).values(product_id=1, substitute_id=6, note="listed"))
        conn.execute(
            insert(Stock),
            [
                {"product_id": p, "warehouse_id": w, "on_hand": oh, "reserved": r}
                for p, rows in STOCK.items()
                for w, oh, r in rows
            ],
        )
        _insert_each(
            conn,
            PurchaseOrder,
            [
                {"id": 1, "number": "PO-000001", "supplier_id": 1, "warehouse_id": 1,
                 "status": "sent", "expected_date": days(3)},
                {"id": 2, "number": "PO-000002", "supplier_id": 2, "warehouse_id": 1,
                 "status": "draft"},
                {"id": 3, "number": "PO-000003", "supplier_id": 1, "warehouse_id": 1,
                 "status": "received", "expected_date": days(-3)},
            ],
        )  # fmt: skip
        # On order: P4 200, P1 50-20 = 30; the draft (P5) and the received PO (P2) do not count.
        _insert_each(
            conn,
            PurchaseOrderLine,
            [
                {"po_id": 1, "product_id": 4, "qty_ordered": 200, "qty_received": 0, "unit_cost": 0.5},
                {"po_id": 1, "product_id": 1, "qty_ordered": 50, "qty_received": 20, "unit_cost": 10},
                {"po_id": 2, "product_id": 5, "qty_ordered": 40, "qty_received": 0, "unit_cost": 2},
                {"po_id": 3, "product_id": 2, "qty_ordered": 12, "qty_received": 12, "unit_cost": 11},
            ],
        )  # fmt: skip
        conn.execute(
            insert(DemandDaily),
            [
                {"day": days(d), "product_id": p, "segment": s, "lines": n, "lines_short": ns,
                 "qty_ordered": q, "qty_short": qs, "revenue": 0}
                for d, p, s, n, ns, q, qs in DEMAND
            ],
        )  # fmt: skip
        _insert_each(
            conn,
            Order,
            [
                {"id": 1, "number": "SO-000001", "customer_id": 1,
                 "placed_at": NOW - dt.timedelta(days=5), "status": "open"},
                {"id": 2, "number": "SO-000002", "customer_id": 2,
                 "placed_at": NOW - dt.timedelta(days=40), "status": "cancelled"},
                {"id": 3, "number": "SO-000003", "customer_id": 2,
                 "placed_at": NOW - dt.timedelta(days=20), "status": "open"},
            ],
        )  # fmt: skip
        _insert_each(
            conn,
            OrderLine,
            [
                {"id": 1, "order_id": 1, "line_no": 1, "product_id": 4, "qty_ordered": 10,
                 "qty_allocated": 3, "qty_backordered": 7, "unit_price": 1},
                {"id": 2, "order_id": 1, "line_no": 2, "product_id": 1, "qty_ordered": 5,
                 "qty_allocated": 5, "unit_price": 15},
                {"id": 3, "order_id": 2, "line_no": 1, "product_id": 1, "qty_ordered": 4,
                 "qty_cancelled": 4, "unit_price": 15},
                {"id": 4, "order_id": 2, "line_no": 2, "product_id": 9, "qty_ordered": 1,
                 "qty_allocated": 1, "qty_shipped": 1, "unit_price": 1.2},
                {"id": 5, "order_id": 3, "line_no": 1, "product_id": 8, "qty_ordered": 3,
                 "qty_backordered": 3, "unit_price": 6},
            ],
        )  # fmt: skip
        _insert_each(
            conn,
            Backorder,
            [
                {"id": 1, "order_line_id": 1, "product_id": 4, "customer_id": 1, "qty": 7,
                 "status": "open", "created_at": NOW - dt.timedelta(days=5),
                 "promised_date": days(2), "estimated_date": days(3),
                 "estimated_late_date": days(5), "estimate_reason": "waits on PO-000001"},
                {"id": 2, "order_line_id": 3, "product_id": 1, "customer_id": 2, "qty": 4,
                 "qty_cancelled": 4, "status": "cancelled",
                 "created_at": NOW - dt.timedelta(days=40)},
                {"id": 3, "order_line_id": 5, "product_id": 8, "customer_id": 2, "qty": 3,
                 "status": "open", "created_at": NOW - dt.timedelta(days=20)},
            ],
        )  # fmt: skip
        # The rows above bypass the write side: sum the summaries from them, as the demo does.
        rebuild_summaries(conn)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def world(request, tmp_path_factory):
    """The world above, built once per test module and backend, for tests that only read."""
    engines = _fresh_engine(request.param, tmp_path_factory.mktemp("world"))
    engine = next(engines)  # skips with the reason when PostgreSQL is unreachable
    build_world(engine)
    yield engine
    next(engines, None)  # dispose (and drop the PostgreSQL schema)
