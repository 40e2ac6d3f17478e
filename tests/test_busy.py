"""Under load an order waits its turn or is refused with Larder's own Busy, never a driver error.

32 clients, each with its own engine (as 32 app servers or scripts would have), place orders at
once on a SQLite file and on PostgreSQL. A lock held longer than SQLite's busy timeout is waited
out by retrying; held for good, the caller gets ``Busy`` with a message a person can act on.
"""

from __future__ import annotations

import collections
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

import data.db
from data.db import make_engine, read_connection
from data.schema import Base, Order, OrderLine
from operations import LarderError, place_order
from operations.errors import Busy
from tests.conftest import _PG_PROBLEM, PG_URL, drop_pg_schema, pg_schema_engine
from tests.invariants import assert_invariants
from tests.operations_world import build_world

CLIENTS = 32
ORDERS_PER_CLIENT = 5
PLENTY = {"FLOUR-25": 1000, "BUTTER-10": 1000, "NAPKIN-500": 1000, "OIL-5L": 1000}


def _rush(url: str, engine_options: dict, world) -> collections.Counter:
    """Every client places its orders at the same moment; returns what each attempt ended in."""
    outcomes: collections.Counter = collections.Counter()
    start = threading.Barrier(CLIENTS)

    def client(number: int) -> None:
        engine = make_engine(url, **engine_options)
        try:
            start.wait()
            for _ in range(ORDERS_PER_CLIENT):
                try:
                    place_order(
                        engine,
                        customer_id=world.customers["gold"],
                        lines=[("FLOUR-25", 1), ("OIL-5L", 2)],
                        actor=f"client{number}",
                    )
                    outcomes["placed"] += 1
                except Busy as refusal:
                    assert "try again" in refusal.message
                    outcomes["busy"] += 1
                except LarderError as refusal:  # any other refusal is a bug in this test
                    outcomes[f"refused: {refusal.message}"] += 1
                except Exception as raw:  # what must never happen
                    outcomes[f"raw {type(raw).__name__}: {str(raw)[:100]}"] += 1
        finally:
            engine.dispose()

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))
    return outcomes


def _check(engine, outcomes: collections.Counter) -> None:
    assert set(outcomes) <= {"placed", "busy"}, outcomes
    assert outcomes["placed"] + outcomes["busy"] == CLIENTS * ORDERS_PER_CLIENT
    assert_invariants(engine)
    with read_connection(engine) as conn:
        orders = conn.execute(select(func.count()).select_from(Order)).scalar_one()
        units = conn.execute(select(func.sum(OrderLine.qty_ordered))).scalar_one()
    assert orders == outcomes["placed"]
    assert units == 3 * outcomes["placed"]


@pytest.mark.slow
def test_32_clients_on_sqlite_get_no_raw_driver_error(tmp_path):
    url = f"sqlite:///{tmp_path / 'rush.db'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    world = build_world(engine, stock=PLENTY)
    try:
        outcomes = _rush(url, {}, world)
        _check(engine, outcomes)
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.skipif(bool(_PG_PROBLEM), reason=_PG_PROBLEM or "")
def test_32_clients_on_postgres_get_no_raw_driver_error():
    engine, schema = pg_schema_engine()
    try:
        Base.metadata.create_all(engine)
        world = build_world(engine, stock=PLENTY)
        options = {"connect_args": {"options": f"-csearch_path={schema}"}, "pool_size": 1}
        outcomes = _rush(PG_URL, options, world)
        _check(engine, outcomes)
    finally:
        drop_pg_schema(engine, schema)


def _hold_write_lock(path: str, held: threading.Event, release: threading.Event) -> None:
    """Another program holding SQLite's write lock until told to let go."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    held.set()
    release.wait(30)
    conn.execute("ROLLBACK")
    conn.close()


def _order(engine, world):
    return place_order(
        engine, customer_id=world.customers["gold"], lines=[("OIL-5L", 1)], actor="ann"
    )


def test_an_order_waits_out_a_lock_longer_than_the_busy_timeout(tmp_path, monkeypatch):
    monkeypatch.setattr(data.db, "SQLITE_BUSY_TIMEOUT_S", 1)
    path = str(tmp_path / "locked.db")
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    world = build_world(engine)
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(path, held, release))
    holder.start()
    held.wait(5)
    threading.Timer(1.5, release.set).start()  # longer than one busy timeout
    try:
        placed = _order(engine, world)
    finally:
        release.set()
        holder.join()
    assert placed.lines[0].qty_allocated == 1
    engine.dispose()


def test_a_lock_that_is_never_released_gives_busy_with_a_message(tmp_path, monkeypatch):
    monkeypatch.setattr(data.db, "SQLITE_BUSY_TIMEOUT_S", 1)
    path = str(tmp_path / "locked.db")
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    world = build_world(engine)
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(path, held, release))
    holder.start()
    held.wait(5)
    started = time.monotonic()
    try:
        with pytest.raises(Busy) as refused:
            _order(engine, world)
    finally:
        release.set()
        holder.join()
    assert "Larder is busy" in refused.value.message
    assert "Try again in a moment" in refused.value.message
    assert time.monotonic() - started < 15
    with read_connection(engine) as conn:
        assert conn.execute(select(func.count()).select_from(Order)).scalar_one() == 0
    engine.dispose()
