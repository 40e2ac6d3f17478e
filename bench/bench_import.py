"""Import throughput: 100,000 product rows and 100,000 order lines, rows per second.

Run from the repository root::

    .venv/bin/python -m bench.bench_import --backend sqlite
    .venv/bin/python -m bench.bench_import --backend both --products 100000 --lines 100000

Each backend gets a fresh database (a temporary SQLite file; a throwaway PostgreSQL schema in
``LARDER_BENCH_PG_URL``, dropped afterwards) with one warehouse, supplier, administrator and a
few hundred customers. The files are built in memory the way an old system exports them
(semicolons, decimal commas, d/m/Y dates) and go through ``operations.imports.apply_import``,
the same path as the Admin page and ``python -m operations import``: the products, then a stock
count for all of them (so most order lines reserve and some go short), then the order lines in
orders of ``--lines-per-order``. ``--excel`` also times the product file as .xlsx (openpyxl
read-only). Beside the wall-clock rate each line gives this process's CPU time (on SQLite the
database work is in-process; on PostgreSQL the server's share is not in it), which says more
on a machine busy with other work. The peak resident memory of the process is printed at the
end.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import resource
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.schema import CreateSchema, DropSchema

from data.db import make_engine, write_session
from data.schema import SEGMENTS, Base, Customer, OrderLine, Supplier, User, UserRole, Warehouse
from operations.imports import apply_import

PG_URL = os.environ.get("LARDER_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CUSTOMERS = 300
ADMIN = "bench-admin"


def _world(engine: Engine) -> None:
    with write_session(engine) as s:
        s.add(Warehouse(code="MAIN", name="Main"))
        s.add(Supplier(code="S1", name="Bench supplier", lead_time_days=7))
        user = User(username=ADMIN, name="Bench admin", email="a@example.com", password_hash="x")
        s.add(user)
        s.flush()
        s.add(UserRole(user_id=user.id, role="admin"))
        for n in range(CUSTOMERS):
            s.add(
                Customer(
                    code=f"K{n:05d}",
                    name=f"Bench customer {n}",
                    segment=SEGMENTS[n % len(SEGMENTS)],
                    region="North",
                    tier=("gold", "silver", "bronze")[n % 3],
                )
            )


def product_file(rows: int) -> bytes:
    out = io.StringIO()
    out.write("\ufeffArtikel;Omschrijving;Group;Supplier;Cost;Price;Reorder point\r\n")
    for n in range(rows):
        out.write(f"P{n:07d};Bench product {n};Dry goods;S1;1,25;2.000,50;{n % 40}\r\n")
    return out.getvalue().encode()


def product_workbook(rows: int) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Products")
    sheet.append(["sku", "name", "category", "supplier_code", "cost", "price"])
    for n in range(rows):
        sheet.append([f"X{n:07d}", f"Bench product {n}", "Dry goods", "S1", 1.25, 2000.5])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def stock_file(products: int) -> bytes:
    rng = random.Random(11)
    lines = ["sku;counted"]
    # One product in five has a handful, so some order lines go short and are backordered.
    lines += [f"P{n:07d};{rng.randint(0, 5) if n % 5 == 0 else 1000}" for n in range(products)]
    return ("\r\n".join(lines) + "\r\n").encode()


def order_file(lines: int, per_order: int, products: int) -> bytes:
    rng = random.Random(7)
    out = io.StringIO()
    out.write("Order no;Account;Item;Qty;Order date;Wanted\r\n")
    for n in range(lines):
        order = n // per_order
        day = 1 + order % 28
        out.write(
            f"OLD-{order:07d};K{order % CUSTOMERS:05d};P{rng.randrange(products):07d};"
            f"{rng.randint(1, 4)};{day:02d}/11/2026;N/A\r\n"
        )
    return out.getvalue().encode()


def _timed(engine: Engine, label: str, kind: str, name: str, content: bytes, **options) -> None:
    started, cpu = time.perf_counter(), time.process_time()
    result = apply_import(engine, kind=kind, filename=name, content=content, actor=ADMIN, **options)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"  {label:<34} {result.rows:>9,} rows in {seconds:7.1f} s = "
        f"{result.rows / seconds:>8,.0f} rows/s  (this process's CPU: {cpu:.1f} s; "
        f"{len(content) / 1e6:.1f} MB; {result.created:,} created, {result.updated:,} updated)",
        flush=True,
    )


def run(engine: Engine, args: argparse.Namespace) -> None:
    Base.metadata.create_all(engine)
    _world(engine)
    columns = ("Artikel", "Omschrijving", "Group", "Supplier", "Cost", "Price", "Reorder point")
    fields = ("sku", "name", "category", "supplier_code", "cost", "price", "reorder_point")
    _timed(
        engine,
        "products (CSV ; decimal comma)",
        "products",
        "p.csv",
        product_file(args.products),
        mapping=dict(zip(fields, columns, strict=True)),
    )
    _timed(engine, "stock count (CSV)", "stock", "s.csv", stock_file(args.products))
    _timed(
        engine,
        f"order lines ({args.lines_per_order} per order)",
        "orders",
        "o.csv",
        order_file(args.lines, args.lines_per_order, args.products),
        date_order="dmy",
    )
    if args.excel:
        _timed(
            engine,
            "products (.xlsx, read-only)",
            "products",
            "p.xlsx",
            product_workbook(args.products),
        )
    with engine.connect() as conn:
        lines = conn.execute(select(func.count()).select_from(OrderLine)).scalar_one()
        short = conn.execute(
            select(func.count()).select_from(OrderLine).where(OrderLine.qty_backordered > 0)
        ).scalar_one()
    print(f"  order lines in the database: {lines:,} ({short:,} with a backorder)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--lines-per-order", type=int, default=10)
    parser.add_argument("--excel", action="store_true", help="also import the products as .xlsx")
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
            print("SQLite")
            run(engine, args)
            engine.dispose()
    if args.backend in ("postgres", "both"):
        schema = f"bench_import_{uuid.uuid4().hex[:8]}"
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(CreateSchema(schema))
        engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
        try:
            print("PostgreSQL")
            run(engine, args)
        finally:
            engine.dispose()
            with admin.begin() as conn:
                conn.execute(DropSchema(schema, cascade=True))
            admin.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"Peak resident memory of this process: {peak:,.0f} MB")


if __name__ == "__main__":
    main()
