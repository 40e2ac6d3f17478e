"""Deterministic demo data: a believable catering wholesaler with three years of history.

``generate(engine, scale=..., seed=..., today=...)`` builds the world (products, suppliers,
carriers, customers, reps), simulates it day by day (orders meet stock, shortages become
backorders, purchase orders arrive late or on time), turns the history into rows that keep every
stock invariant, and bulk-loads them in one transaction. Same seed, scale and ``today`` give the
same data (the demo users' password hashes are precomputed, so they match too).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy import Engine, func, select

from data.demo.bulk import (
    foreign_keys_checked_once,
    insert_rows,
    reset_id_sequences,
    timestamps,
)
from data.demo.inbox import notification_rows
from data.demo.rows import RowBuilder, TableRows
from data.demo.scales import SCALES, Scale
from data.demo.simulation import ENDS_AT_HOUR, simulate
from data.demo.users import DEMO_USERS, DemoUser, password_hash, user_rows
from data.demo.world import build_world
from data.schema import Base, Product, utcnow
from data.summaries import rebuild as rebuild_summaries

__all__ = [
    "DEMO_USERS",
    "DatabaseNotEmpty",
    "SCALES",
    "DemoUser",
    "Scale",
    "build_rows",
    "generate",
    "last_day",
    "password_hash",
]

# Parents before children, so foreign keys hold at every insert.
LOAD_ORDER = (
    "warehouses",
    "bins",
    "suppliers",
    "carriers",
    "sales_reps",
    "customers",
    "products",
    "substitutes",
    "stock",
    "users",
    "user_roles",
    "orders",
    "order_lines",
    "purchase_orders",
    "purchase_order_lines",
    "receipts",
    "backorders",
    "allocations",
    "backorder_costs",
    "shipments",
    "shipment_lines",
    "shipment_events",
    "pick_tasks",
    "stock_ledger",
    "demand_daily",
    "communications",
    "feedback",
    "notifications",
)


SEED_LOCK_KEY = 7_310_002
BIG_TABLE_ROWS = 20_000  # on PostgreSQL, tables this big get their foreign keys checked once


class DatabaseNotEmpty(RuntimeError):
    """Seeding refused: the database already holds products."""


def last_day(moment: dt.datetime | None = None) -> dt.date:
    """The last day of a demo made at ``moment`` (naive UTC, default now).

    The history stops at noon of its last day, so before noon that day is yesterday: no order,
    receipt or message of the demo lies ahead of the clock.
    """
    moment = moment or utcnow()
    if moment.time() >= dt.time(ENDS_AT_HOUR):
        return moment.date()
    return moment.date() - dt.timedelta(days=1)


def build_rows(
    scale: str = "default", seed: int = 7, today: dt.date | None = None
) -> dict[str, TableRows]:
    """Every table's rows for ``scale``, without touching a database."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    spec = SCALES[scale]
    today = today or last_day()
    world_seed, sim_seed, rows_seed = np.random.SeedSequence([seed, len(scale)]).spawn(3)
    world = build_world(spec, np.random.default_rng(world_seed))
    start = today.toordinal() - (spec.days - 1)
    history = simulate(world, spec, np.random.default_rng(sim_seed), start)
    tables = RowBuilder(world, history, np.random.default_rng(rows_seed)).build()
    users, roles = user_rows(
        world.rep_name, world.cust_name, timestamps(dt.date.fromordinal(start), np.array([0]))[0]
    )
    tables["users"] = TableRows(
        (
            "id",
            "username",
            "name",
            "email",
            "password_hash",
            "active",
            "customer_id",
            "sales_rep_id",
            "created_at",
        ),
        users,
    )
    tables["user_roles"] = TableRows(("user_id", "role"), roles)
    now = dt.datetime.combine(dt.date.fromordinal(start), dt.time()) + dt.timedelta(
        seconds=int(history.now)
    )
    tables["notifications"] = TableRows(*notification_rows(tables, now))
    return tables


def generate(
    engine: Engine, *, scale: str = "default", seed: int = 7, today: dt.date | None = None
) -> dict[str, int]:
    """Seed an empty database with the demo wholesaler; returns rows loaded per table."""
    tables = build_rows(scale, seed, today)
    metadata = Base.metadata.tables
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Two seeders at once: the second waits here, then finds the products and stops.
            conn.execute(select(func.pg_advisory_xact_lock(SEED_LOCK_KEY)))
        if conn.execute(select(func.count()).select_from(Product)).scalar_one():
            raise DatabaseNotEmpty("the database already has products; reset it before seeding")
        big = [metadata[name] for name in LOAD_ORDER if len(tables[name]) >= BIG_TABLE_ROWS]
        with foreign_keys_checked_once(conn, big):
            for name in LOAD_ORDER:
                table = tables.pop(name)  # let each table's rows go once they are loaded
                counts[name] = insert_rows(conn, metadata[name], table.columns, iter(table))
        reset_id_sequences(conn, (metadata[name] for name in LOAD_ORDER))
        # The summaries the write side keeps line by line, computed once from the loaded lines.
        counts.update(rebuild_summaries(conn))
    return counts
