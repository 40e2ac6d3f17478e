"""Order placement throughput: 1 client and 8 clients, on SQLite and PostgreSQL.

Run from the repository root::

    .venv/bin/python -m bench.bench_orders --orders 2000 --backend both

Each backend gets a fresh database (a temporary SQLite file; a throwaway PostgreSQL schema,
dropped afterwards) with 200 products, some of them scarce so that orders also create
backorders. Every client is a thread with its own pooled connection, placing orders of 1-5
lines through ``operations.place_order``: the same code path as the app.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.schema import CreateSchema, DropSchema

from data.db import make_engine, write_session
from data.schema import (
    SEGMENTS,
    Base,
    Customer,
    OrderLine,
    Product,
    Stock,
    StockLedger,
    Supplier,
    Warehouse,
)
from operations import place_order

PG_URL = os.environ.get("LARDER_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PRODUCTS = 200
SCARCE_EVERY = 10  # every 10th product has little stock, so some lines are backordered
CUSTOMERS = 50
CLIENT_COUNTS = (1, 8)


def build_catalogue(engine: Engine) -> tuple[list[str], list[int]]:
    """Products with stock (booked through the ledger) and customers; returns SKUs and ids."""
    rng = random.Random(7)
    with write_session(engine) as s:
        warehouse = Warehouse(code="MAIN", name="Main")
        supplier = Supplier(code="S1", name="Bench Supplier", lead_time_days=7)
        s.add_all([warehouse, supplier])
        s.flush()
        skus = []
        for n in range(PRODUCTS):
            product = Product(
                sku=f"B-{n:05d}",
                name=f"Bench product {n}",
                category="Dry goods",
                use="bench",
                unit="each",
                cost=Decimal("1.00"),
                price=Decimal("2.50"),
                supplier_id=supplier.id,
            )
            s.add(product)
            s.flush()
            on_hand = 50 if n % SCARCE_EVERY == 0 else 1_000_000
            s.add(Stock(product_id=product.id, warehouse_id=warehouse.id, on_hand=on_hand))
            s.add(
                StockLedger(
                    product_id=product.id,
                    warehouse_id=warehouse.id,
                    on_hand_delta=on_hand,
                    reason="opening",
                )
            )
            skus.append(product.sku)
        customers = [
            Customer(
                code=f"C-{n:04d}",
                name=f"Customer {n}",
                segment=rng.choice(SEGMENTS),
                region="North",
                tier=rng.choice(["gold", "silver", "bronze"]),
            )
            for n in range(CUSTOMERS)
        ]
        s.add_all(customers)
        s.flush()
        return skus, [c.id for c in customers]


def _client(engine, skus, customers, orders: int, seed: int, start) -> list[float]:
    rng = random.Random(seed)
    latencies = []
    start.wait()
    for _ in range(orders):
        lines = [(sku, rng.randint(1, 6)) for sku in rng.sample(skus, rng.randint(1, 5))]
        began = time.perf_counter()
        place_order(engine, customer_id=rng.choice(customers), lines=lines, actor="bench")
        latencies.append(time.perf_counter() - began)
    return latencies


def time_placement(engine: Engine, skus, customers, orders: int, clients: int) -> dict:
    """Place ``orders`` orders from ``clients`` threads; returns throughput and latency."""
    start = threading.Barrier(clients + 1)
    with ThreadPoolExecutor(clients) as pool:
        futures = [
            pool.submit(_client, engine, skus, customers, orders // clients, seed, start)
            for seed in range(clients)
        ]
        start.wait()
        began = time.perf_counter()
        latencies = [value for future in futures for value in future.result()]
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "orders": len(latencies),
        "seconds": elapsed,
        "orders_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000,
    }


def _check(engine: Engine) -> str:
    """The stock rules after the run (a benchmark that oversold would be worthless)."""
    with engine.connect() as conn:
        bad = conn.execute(
            select(func.count()).select_from(Stock).where(Stock.reserved > Stock.on_hand)
        ).scalar_one()
        reserved = conn.execute(select(func.sum(Stock.reserved))).scalar_one()
        allocated = conn.execute(
            select(func.sum(OrderLine.qty_allocated - OrderLine.qty_shipped))
        ).scalar_one()
        ledger = conn.execute(select(func.sum(StockLedger.reserved_delta))).scalar_one()
    ok = bad == 0 and reserved == allocated == ledger
    return f"stock rules {'hold' if ok else 'BROKEN'} (reserved {reserved}, allocated {allocated})"


def run_backend(backend: str, orders: int) -> None:
    folder = None
    schema = None
    if backend == "sqlite":
        folder = tempfile.TemporaryDirectory()
        engine = make_engine(f"sqlite:///{Path(folder.name) / 'bench.db'}", pool_size=8)
    else:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(CreateSchema(schema))
        admin.dispose()
        engine = make_engine(
            PG_URL, connect_args={"options": f"-csearch_path={schema}"}, pool_size=8
        )
    try:
        Base.metadata.create_all(engine)
        skus, customers = build_catalogue(engine)
        for clients in CLIENT_COUNTS:
            result = time_placement(engine, skus, customers, orders, clients)
            print(
                f"{backend:8} {clients} client(s): {result['orders']} orders in "
                f"{result['seconds']:.2f} s = {result['orders_per_s']:.0f} orders/s "
                f"(p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms)",
                flush=True,
            )
        print(f"{backend:8} {_check(engine)}")
    finally:
        engine.dispose()
        if folder is not None:
            folder.cleanup()
        if schema is not None:
            admin = make_engine(PG_URL)
            with admin.begin() as conn:
                conn.execute(DropSchema(schema, cascade=True, if_exists=True))
            admin.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000, help="orders per run (default 1000)")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for backend in backends:
        run_backend(backend, args.orders)


if __name__ == "__main__":
    main()
