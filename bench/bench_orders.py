"""Order placement on a demo database with trained models, against a bare guarded update.

Run from the repository root::

    .venv/bin/python -m models.train --database sqlite:///COPY.db --threads 1   # once per copy
    .venv/bin/python -m bench.bench_orders --sqlite COPY.db --orders 2000 --clients 1 8 32
    .venv/bin/python -m bench.bench_orders --postgres postgresql+psycopg://USER@HOST/DB

``--sqlite FILE`` is never written: the run works on a copy in a temporary folder.
``--postgres URL`` places its orders in that database (use one of your own, seeded with
``python -m data seed`` and trained).

For each client count, every client is a thread with its own pooled connection:

- **bare**: one guarded update per transaction, ``UPDATE stock SET reserved = reserved + 1
  WHERE product_id = ? AND warehouse_id = ? AND on_hand - reserved >= 1`` (what any placement
  must do at least), on random products of the catalogue; the units it reserved are released
  again afterwards;
- **essential**: the writes any placement must make, in one write transaction
  (``data.db.write_session``) built from the write side's own statements: lock the stock rows
  (``operations.stock.lock_stock``), insert the order and its lines (the statements of
  ``operations.orders``), reserve what the locked rows show free and write the ledger rows
  (``operations.stock.reserve_many``); 1-5 random active products of 1-6 units for a random
  customer, as the orders. No reads before it, no backorders, notices, costs, summaries or
  audit. Its orders, lines and ledger rows are deleted again afterwards and their units
  released, so the orders run on the demo's own stock;
- **orders**: ``operations.place_order`` with 1-5 random active products of 1-6 units for a
  random customer (their own backorder preference): the same code path as the app, with the
  demo's real stock, so lines go short where the demo's stock is low.

Printed per client count: the rate of each (bare, essential, orders), the ratios
orders/essential (what placement costs beyond its essential writes), essential/bare (what those
writes cost beyond one update) and orders/bare; p50 and p99 latency of each, errors, the share
of lines that went short, and SQL statements per order (counted by an event listener on the
engine, split into the read part and the write transaction; on SQLite the BEGIN of each
transaction is one of them, and every write transaction ends with one update of the change
counters). After the runs, the stock rules are checked: rows reserved beyond what is on hand
(oversold) and products whose reserved stock differs from what their order lines hold.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import Engine, bindparam, delete, event, func, select, update
from sqlalchemy.orm import Session

from data.db import READ_ONLY, make_engine, read_connection, write_session
from data.schema import Customer, ModelRun, Order, OrderLine, Product, Stock, StockLedger, utcnow
from operations import place_order
from operations.orders import insert_lines, insert_order
from operations.stock import default_warehouse_id, lock_stock, reserve_many

WARM_UP_ORDERS = 20  # per run, before timing: loads the models and fills caches
TRAINED_KINDS = ("demand", "lead_time", "transit")

_BARE = (
    update(Stock.__table__)
    .where(
        Stock.__table__.c.product_id == bindparam("pid"),
        Stock.__table__.c.warehouse_id == bindparam("wid"),
        Stock.__table__.c.on_hand - Stock.__table__.c.reserved >= 1,
    )
    .values(reserved=Stock.__table__.c.reserved + 1)
)
_RELEASE = (
    update(Stock.__table__)
    .where(
        Stock.__table__.c.product_id == bindparam("pid"),
        Stock.__table__.c.warehouse_id == bindparam("wid"),
    )
    .values(reserved=Stock.__table__.c.reserved - bindparam("units"))
)


class StatementCounter:
    """Counts every statement sent to the database, by read connections and write ones."""

    def __init__(self, engine: Engine):
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, _cursor, _statement, _parameters, _context, _executemany) -> None:
        part = "read" if conn.get_execution_options().get(READ_ONLY) else "write"
        with self._lock:
            self.counts[part] += 1

    def take(self) -> Counter[str]:
        with self._lock:
            counts, self.counts = self.counts, Counter()
        return counts


def _catalogue(engine: Engine) -> tuple[list[str], list[int], list[int], int, dict]:
    with read_connection(engine) as conn:
        skus = list(conn.execute(select(Product.sku).where(Product.active.is_(True))).scalars())
        product_ids = list(conn.execute(select(Product.id)).scalars())
        customers = list(conn.execute(select(Customer.id)).scalars())
        runs = dict(
            conn.execute(
                select(ModelRun.kind, func.count())
                .where(ModelRun.status == "ok", ModelRun.kind.in_(TRAINED_KINDS))
                .group_by(ModelRun.kind)
            ).all()
        )
    with read_connection(engine) as conn, Session(bind=conn) as session:
        warehouse = default_warehouse_id(session)
    return skus, product_ids, customers, warehouse, runs


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else float("nan")


def _run_clients(clients: int, total: int, work) -> dict:
    """``work(rng)`` ``total`` times over ``clients`` threads; returns rate, latency, errors."""
    start = threading.Barrier(clients + 1)
    per_client = max(total // clients, 1)

    def client(seed: int):
        rng = random.Random(seed)
        latencies, errors, extra = [], Counter(), Counter()
        start.wait()
        for _ in range(per_client):
            began = time.perf_counter()
            try:
                extra.update(work(rng))
            except Exception as error:  # counted and named, the run goes on
                errors[type(error).__name__] += 1
                continue
            latencies.append(time.perf_counter() - began)
        return latencies, errors, extra

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(client, 1000 * clients + n) for n in range(clients)]
        start.wait()
        began = time.perf_counter()
        results = [future.result() for future in futures]
        elapsed = time.perf_counter() - began
    latencies = [value for result in results for value in result[0]]
    errors = sum((result[1] for result in results), Counter())
    extra = sum((result[2] for result in results), Counter())
    return {
        "done": len(latencies),
        "rate": len(latencies) / elapsed,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "errors": errors,
        "extra": extra,
    }


def _bare(engine: Engine, product_ids: list[int], warehouse: int, clients: int, total: int):
    taken: Counter[int] = Counter()
    lock = threading.Lock()

    def work(rng: random.Random) -> Counter:
        pid = rng.choice(product_ids)
        with engine.begin() as conn:
            changed = conn.execute(_BARE, {"pid": pid, "wid": warehouse}).rowcount
        if changed:
            with lock:
                taken[pid] += 1
        return Counter()

    result = _run_clients(clients, total, work)
    with engine.begin() as conn:  # hand the units back: the orders run on the demo's own stock
        rows = [{"pid": pid, "wid": warehouse, "units": n} for pid, n in sorted(taken.items())]
        if rows:
            conn.execute(_RELEASE, rows)
    return result


def _active_prices(engine: Engine) -> dict[int, object]:
    """Active products' list prices by id (what the essential orders' lines are priced at)."""
    with read_connection(engine) as conn:
        return dict(
            conn.execute(select(Product.id, Product.price).where(Product.active.is_(True))).all()
        )


def _essential(
    engine: Engine,
    prices: dict[int, object],
    customers: list[int],
    warehouse: int,
    clients: int,
    total: int,
):
    """The essential writes of an order per transaction (module docstring); then undone."""
    product_ids = sorted(prices)
    orders: list[int] = []
    taken: Counter[int] = Counter()
    lock = threading.Lock()

    def work(rng: random.Random) -> Counter:
        wanted = [(pid, rng.randint(1, 6)) for pid in rng.sample(product_ids, rng.randint(1, 5))]
        with write_session(engine) as session:
            stock = lock_stock(session, [pid for pid, _ in wanted], warehouse)
            conn = session.connection()
            order_id, _ = insert_order(
                conn,
                customer_id=rng.choice(customers),
                placed_at=utcnow(),
                requested_date=None,
                priority="normal",
                status="open",
                channel="portal",
                placed_by="bench",
                backorder_choice="accept_backorder",
                external_ref=None,
                cancelled_at=None,
                cancel_reason=None,
            )
            lines, moves = [], []
            for line_no, (pid, qty) in enumerate(wanted, start=1):
                on_hand, reserved = stock.get(pid, (0, 0))
                reserve = max(min(qty, on_hand - reserved), 0)
                lines.append(
                    {
                        "line_no": line_no,
                        "product_id": pid,
                        "qty_ordered": qty,
                        "qty_allocated": reserve,
                        "qty_backordered": qty - reserve,
                        "qty_cancelled": 0,
                        "unit_price": prices[pid],
                        "substitute_for_id": None,
                    }
                )
                moves.append({"product_id": pid, "qty": reserve, "line_no": line_no})
            line_ids = insert_lines(conn, order_id, lines)
            reserve_many(
                session,
                [{**move, "ref_id": line_ids[move.pop("line_no")]} for move in moves],
                warehouse_id=warehouse,
                actor="bench",
            )
        with lock:
            orders.append(order_id)
            taken.update({move["product_id"]: move["qty"] for move in moves})
        return Counter()

    with read_connection(engine) as conn:
        ledger_before = conn.execute(select(func.max(StockLedger.id))).scalar_one() or 0
    result = _run_clients(clients, total, work)
    # Undone: the orders run on the demo's own stock, and the stock rules stay checkable.
    with engine.begin() as conn:
        for start in range(0, len(orders), 500):
            chunk = orders[start : start + 500]
            line_ids = select(OrderLine.id).where(OrderLine.order_id.in_(chunk))
            conn.execute(
                delete(StockLedger).where(
                    StockLedger.id > ledger_before,  # a seek: the ledger has no index by line
                    StockLedger.ref_type == "order_line",
                    StockLedger.ref_id.in_(line_ids),
                )
            )
            conn.execute(delete(OrderLine).where(OrderLine.order_id.in_(chunk)))
            conn.execute(delete(Order).where(Order.id.in_(chunk)))
        rows = [{"pid": pid, "wid": warehouse, "units": n} for pid, n in sorted(taken.items()) if n]
        if rows:
            conn.execute(_RELEASE, rows)
    return result


def _orders(engine: Engine, skus: list[str], customers: list[int], clients: int, total: int):
    def work(rng: random.Random) -> Counter:
        lines = [(sku, rng.randint(1, 6)) for sku in rng.sample(skus, rng.randint(1, 5))]
        placed = place_order(engine, customer_id=rng.choice(customers), lines=lines, actor="bench")
        return Counter(
            lines=len(placed.lines),
            short=sum(1 for line in placed.lines if line.qty_allocated < line.qty_ordered),
        )

    return _run_clients(clients, total, work)


def _stock_rules(engine: Engine) -> tuple[int, int]:
    """(stock rows reserved beyond on hand or below zero, products reserved != lines owing)."""
    with read_connection(engine) as conn:
        oversold = conn.execute(
            select(func.count())
            .select_from(Stock)
            .where((Stock.reserved > Stock.on_hand) | (Stock.on_hand < 0) | (Stock.reserved < 0))
        ).scalar_one()
        reserved = dict(
            conn.execute(
                select(Stock.product_id, func.sum(Stock.reserved)).group_by(Stock.product_id)
            ).all()
        )
        owed = dict(
            conn.execute(
                select(
                    OrderLine.product_id,
                    func.sum(OrderLine.qty_allocated - OrderLine.qty_shipped),
                ).group_by(OrderLine.product_id)
            ).all()
        )
    mismatched = sum(
        1 for pid in set(reserved) | set(owed) if (reserved.get(pid) or 0) != (owed.get(pid) or 0)
    )
    return int(oversold), mismatched


def _errors(counts: Counter) -> str:
    return str(sum(counts.values())) + (f" {dict(counts)}" if counts else "")


def run(label: str, url: str, orders: int, client_counts: list[int]) -> None:
    engine = make_engine(url, pool_size=max(client_counts) + 2, max_overflow=4)
    try:
        skus, product_ids, customers, warehouse, runs = _catalogue(engine)
        missing = [kind for kind in TRAINED_KINDS if not runs.get(kind)]
        trained = "trained" if not missing else f"NOT trained: {', '.join(missing)}"
        print(
            f"{label}: {len(skus):,} active products, {len(customers):,} customers, "
            f"models {trained}",
            flush=True,
        )
        prices = _active_prices(engine)
        before = _stock_rules(engine)
        counter = StatementCounter(engine)
        _orders(engine, skus, customers, 1, WARM_UP_ORDERS)
        for clients in client_counts:
            bare = _bare(engine, product_ids, warehouse, clients, orders)
            counter.take()
            essential = _essential(engine, prices, customers, warehouse, clients, orders)
            essential_statements = counter.take()
            placed = _orders(engine, skus, customers, clients, orders)
            statements = counter.take()
            done = max(placed["done"], 1)
            lines = max(placed["extra"]["lines"], 1)
            print(
                f"{label} {clients:2d} client(s): bare {bare['rate']:7.1f}/s  "
                f"essential {essential['rate']:7.1f}/s  orders {placed['rate']:7.1f}/s  "
                f"| orders/essential {placed['rate'] / essential['rate']:.3f}  "
                f"essential/bare {essential['rate'] / bare['rate']:.3f}  "
                f"orders/bare {placed['rate'] / bare['rate']:.3f}",
                flush=True,
            )
            print(
                f"    p50/p99 ms: bare {bare['p50_ms']:.1f}/{bare['p99_ms']:.1f}, essential "
                f"{essential['p50_ms']:.1f}/{essential['p99_ms']:.1f}, orders "
                f"{placed['p50_ms']:.1f}/{placed['p99_ms']:.1f} | errors: bare "
                f"{_errors(bare['errors'])}, essential {_errors(essential['errors'])}, orders "
                f"{_errors(placed['errors'])} | {placed['done']} orders, "
                f"{100 * placed['extra']['short'] / lines:.1f} % of lines short | statements "
                f"per order {sum(statements.values()) / done:.1f} (read "
                f"{statements['read'] / done:.1f}, write {statements['write'] / done:.1f}), "
                f"essential {sum(essential_statements.values()) / max(essential['done'], 1):.1f}",
                flush=True,
            )
        after = _stock_rules(engine)
        print(
            f"{label} stock rules: oversold rows {after[0]} (before the runs {before[0]}), "
            f"products reserved != lines owing {after[1]} (before {before[1]})",
            flush=True,
        )
    finally:
        engine.dispose()


def _copy_sqlite(source: str, target: Path) -> None:
    """A consistent copy of a SQLite database (its write-ahead log included), source read-only."""
    origin = sqlite3.connect(f"file:{Path(source).resolve()}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    try:
        origin.backup(copy)
    finally:
        copy.close()
        origin.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", action="append", default=[], help="demo database file")
    parser.add_argument("--postgres", action="append", default=[], help="demo database URL")
    parser.add_argument("--orders", type=int, default=2000, help="orders per run (default 2000)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    args = parser.parse_args(argv)
    if not args.sqlite and not args.postgres:
        parser.error("give at least one --sqlite FILE or --postgres URL")
    for source in args.sqlite:
        with tempfile.TemporaryDirectory() as folder:
            copy = Path(folder) / "bench.db"
            _copy_sqlite(source, copy)
            run(f"sqlite {Path(source).name}", f"sqlite:///{copy}", args.orders, args.clients)
    for url in args.postgres:
        run(f"postgres {url.rsplit('/', 1)[-1]}", url, args.orders, args.clients)


if __name__ == "__main__":
    main()
