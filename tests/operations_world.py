"""A tiny wholesaler built in code for the write-side tests (independent of the demo generator).

``build_world(engine)`` creates one warehouse (MAIN) with bins, two suppliers, a carrier, a
sales rep, three customers (gold, silver, bronze) and four products with opening stock booked
through the ledger, and returns their ids by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import bcrypt
import pytest
from sqlalchemy import Engine, func, select

from data.db import read_connection, write_session
from data.schema import (
    Base,
    Bin,
    Carrier,
    Customer,
    Product,
    SalesRep,
    Stock,
    StockLedger,
    Supplier,
    User,
    UserRole,
    Warehouse,
)

# sku -> (on hand, price, supplier code, pack size, min order, reorder point, order-up-to)
PRODUCTS = {
    "FLOUR-25": (10, "18.50", "MILL", 5, 10, 20, 60),
    "BUTTER-10": (3, "42.00", "DAIRY", 1, 1, 5, 15),
    "NAPKIN-500": (0, "6.20", "MILL", 10, 20, 0, 0),
    "OIL-5L": (100, "11.00", "DAIRY", 4, 4, 10, 40),
}


@dataclass
class World:
    warehouse: int
    carrier: int
    sales_rep: int
    suppliers: dict[str, int] = field(default_factory=dict)
    customers: dict[str, int] = field(default_factory=dict)  # gold, silver, bronze
    products: dict[str, int] = field(default_factory=dict)  # by SKU


def build_world(engine: Engine, stock: dict[str, int] | None = None) -> World:
    """Create the tiny wholesaler; ``stock`` overrides opening stock per SKU."""
    stock = stock or {}
    with write_session(engine) as s:
        warehouse = Warehouse(code="MAIN", name="Main warehouse")
        s.add(warehouse)
        s.flush()
        bins = []
        for i in range(4):
            b = Bin(
                warehouse_id=warehouse.id,
                code=f"A-0{i + 1}",
                zone="ambient",
                aisle=1,
                bay=i + 1,
                level=1,
                x=float(i),
                y=0.0,
            )
            s.add(b)
            bins.append(b)
        suppliers = {
            "MILL": Supplier(code="MILL", name="Northern Mill", lead_time_days=7),
            "DAIRY": Supplier(code="DAIRY", name="Vale Dairy", lead_time_days=14),
        }
        s.add_all(suppliers.values())
        carrier = Carrier(code="FAST", name="Fast Freight", transit_days=2)
        rep = SalesRep(code="R1", name="Rita Rep", email="rita@example.com", region="North")
        s.add_all([carrier, rep])
        s.flush()
        customers = {
            tier: Customer(
                code=f"C-{tier}",
                name=f"{tier.title()} Bistro",
                segment="Restaurant",
                region="North",
                tier=tier,
                sales_rep_id=rep.id,
                backorder_preference="accept_backorder",
                email=f"{tier}@example.com",
            )
            for tier in ("gold", "silver", "bronze")
        }
        s.add_all(customers.values())
        world = World(warehouse=warehouse.id, carrier=0, sales_rep=rep.id)
        for i, (sku, (on_hand, price, supplier, pack, min_qty, rop, out)) in enumerate(
            PRODUCTS.items()
        ):
            product = Product(
                sku=sku,
                name=sku.title(),
                category="Dry goods",
                use=sku.split("-")[0].lower(),
                unit="each",
                pack_size=pack,
                cost=Decimal(price) * Decimal("0.6"),
                price=Decimal(price),
                supplier_id=suppliers[supplier].id,
                bin_id=bins[i].id,
                reorder_point=rop,
                safety_stock=0,
                order_up_to=out,
                min_order_qty=min_qty,
            )
            s.add(product)
            s.flush()
            world.products[sku] = product.id
            qty = stock.get(sku, on_hand)
            s.add(Stock(product_id=product.id, warehouse_id=warehouse.id, on_hand=qty, reserved=0))
            s.add(
                StockLedger(
                    product_id=product.id,
                    warehouse_id=warehouse.id,
                    on_hand_delta=qty,
                    reserved_delta=0,
                    reason="opening",
                )
            )
        s.flush()
        world.carrier = carrier.id
        world.suppliers = {code: sup.id for code, sup in suppliers.items()}
        world.customers = {tier: c.id for tier, c in customers.items()}
    return world


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows in every table: compared before and after a refused operation."""
    with read_connection(engine) as conn:
        return {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in Base.metadata.sorted_tables
        }


def snapshot(engine: Engine) -> dict[str, list]:
    """Every row of every table (small worlds only): nothing may change after a refusal."""
    with read_connection(engine) as conn:
        return {
            table.name: sorted(
                (tuple(map(repr, row)) for row in conn.execute(select(table))), key=str
            )
            for table in Base.metadata.sorted_tables
        }


def stock_of(engine: Engine, product_id: int) -> tuple[int, int]:
    """(on_hand, reserved) of a product in the main warehouse."""
    with read_connection(engine) as conn:
        row = conn.execute(
            select(Stock.on_hand, Stock.reserved).where(Stock.product_id == product_id)
        ).one()
    return row.on_hand, row.reserved


def assert_refused(engine: Engine, call, error: type, *fragments: str) -> str:
    """Run ``call``; it must raise ``error`` whose message holds every fragment, changing nothing."""
    before = snapshot(engine)
    with pytest.raises(error) as caught:
        call()
    message = caught.value.message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert snapshot(engine) == before, "a refused operation changed the database"
    return message


@pytest.fixture
def world(engine) -> World:
    """The small world on each database (use with ``world = operations_world.world``)."""
    return build_world(engine)


@pytest.fixture
def sworld(sqlite_engine) -> World:
    """The small world on SQLite only, for pure rule tests."""
    return build_world(sqlite_engine)


def fetch_rows(engine: Engine, statement) -> list:
    """All rows of a read, for assertions."""
    with read_connection(engine) as conn:
        return conn.execute(statement).all()


def ensure_admin(engine: Engine, username: str = "admin") -> None:
    """An administrator called ``username``, added unless one exists already."""
    with write_session(engine) as s:
        exists = s.scalar(select(User.id).where(User.username == username))
    if exists is None:
        add_admin(engine, username)


def add_admin(engine: Engine, username: str = "admin", roles: tuple[str, ...] = ("admin",)) -> int:
    """An active user with ``roles`` (an administrator by default), written directly; its id."""
    with write_session(engine) as s:
        user = User(
            username=username,
            name=username.title(),
            email=f"{username}@example.com",
            password_hash=bcrypt.hashpw(b"admin-test", bcrypt.gensalt(4)).decode(),
            active=True,
        )
        s.add(user)
        s.flush()
        s.add_all(UserRole(user_id=user.id, role=role) for role in roles)
        return user.id
