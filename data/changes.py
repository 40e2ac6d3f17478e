"""Change counters per subject: what a cached read must be keyed by to never show stale data.

A live page keys each cached read by the versions of the *subjects* it reads, so a write
re-reads only what it touched: an order does not re-read purchase orders, a shipment event does
not re-read the stock table.

How a version moves
-------------------
Every engine made by :func:`data.db.make_engine` watches the statements it runs. Each INSERT,
UPDATE or DELETE that SQLAlchemy compiles names its table; the table's subject (``TABLE_SUBJECTS``)
is noted on the connection. When that transaction commits, one statement right before COMMIT adds
1 to the counter of each noted subject in ``change_counters``. A subject's version is the sum of
its column over the table's rows. So the version of a subject rises exactly when a transaction
that wrote one of its tables commits: inserts, updates (a settings change, a threshold edit, a PO
status change) and deletes alike, by the write side, the jobs, the seeding or a test.

Why this is complete
--------------------
- Every write in Larder is SQLAlchemy Core or ORM on an engine from ``make_engine`` (no SQL text
  is ever written by hand), so every write statement passes the watch with its table.
- Every table of the schema has a subject here (``tests/test_subject_versions.py`` checks it);
  a write to a table not listed (a table added later) counts for *every* subject, so a missing
  entry costs re-reads, never stale data.
- A read declares the subjects of every table it reads; the same test runs each page and checks
  that the tables the cached reads touched all belong to the subjects they declared.
- The counter moves in the writing transaction and becomes visible with it. A version is read
  before the data it keys, so a cache entry can only hold data as new as or newer than its key,
  and the next commit moves the key.

Why counters and not the newest id of append-only tables
---------------------------------------------------------
Updates in place (settings, thresholds, a PO's status, an outbox message sent) append nothing,
and on PostgreSQL ids are handed out before commit: a transaction holding id 10 can commit after
the one holding id 11, so "max(id) = 11" would never show its change. The counters move at
commit instead.

No hot row
----------
``change_counters`` has ``SHARDS`` rows. Each database connection picks one at random the first
time it writes and keeps it, so eight connections placing orders at once mostly update
different rows, and each holds its row only from the statement before COMMIT to the COMMIT.
All subjects of a transaction move in that one statement on one row, so two writers can never
deadlock on counters. Reading the versions is one statement summing at most ``SHARDS`` small
rows.

Subjects (the tables each covers)
---------------------------------
- ``stock``: stock levels and the stock ledger.
- ``orders``: orders, their lines and the summaries built from them (daily and weekly demand, the
  backorder rollup).
- ``backorders``: backorders, their allocations and cost ledger, and the summaries built from
  them (closed backorders per segment and days waited, the ledger per week).
- ``purchasing``: purchase orders, their lines and receipts.
- ``shipments``: outbound shipments, their lines and tracking events, and the deliveries per
  week.
- ``picking``: pick tasks.
- ``catalogue``: products, suppliers, substitutes, carriers, warehouses and bins.
- ``customers``: customers, sales representatives, communications and feedback.
- ``notifications``: in-app notices and their delivery attempts.
- ``outbox``: outgoing mail and webhooks, their attachments and attempts, webhook subscriptions.
- ``settings``: every setting, and the saved column mappings of the import.
- ``users``: users and their roles.
- ``audit``: the audit log, and the record of imported files.
- ``models``: model runs, stored models and forecasts.
- ``jobs``: job runs and job leases.

The past weeks
--------------
One more subject, ``past_weeks``, belongs to no table: it moves when a transaction writes a row of
a weekly or daily summary (``WEEK_COLUMNS``) for a week before the current one. Orders placed now
only add to this week's rows, so a read of finished weeks (a year of backorder rates) keyed by
``past_weeks`` stays cached while orders flow, and only this week's few rows are read again. The
write is judged by the week or day each inserted row carries; a statement whose rows cannot be
judged that way (an UPDATE or DELETE, an INSERT ... SELECT of a rebuild) counts as touching the
past. A read that splits at the current week passes that week as an argument, so it is read
afresh when the week turns; and a writer counts the current week as past from
``PAST_WEEKS_MARGIN`` before it ends, so a reader whose clock runs up to that much ahead of the
writer's never keeps a week the writer still counts as current.

Facts fixed at insert
---------------------
Some columns are set when their row is inserted and never written again: an order's number,
customer and time, a line's product, quantity ordered and price (``FIXED_COLUMNS``). An UPDATE
that sets one is refused before it runs (:class:`FixedColumnWritten`). A read that reaches
such rows only through rows of another subject (an order line through its backorder) and reads
only their fixed columns sees a new one only together with the row that leads to it, and never
sees one change: it is keyed by that other subject alone (``ui.db.live_read``'s ``fixed``),
and an order that goes through in full does not re-read the backorders behind a figure.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable
from functools import lru_cache

from sqlalchemy import Connection, Engine, Select, bindparam, event, func, select

SUBJECTS: tuple[str, ...] = (
    "stock",
    "orders",
    "backorders",
    "purchasing",
    "shipments",
    "picking",
    "catalogue",
    "customers",
    "notifications",
    "outbox",
    "settings",
    "users",
    "audit",
    "models",
    "jobs",
    "past_weeks",
)

PAST_WEEKS = "past_weeks"

TABLE_SUBJECTS: dict[str, str] = {
    "stock": "stock",
    "stock_ledger": "stock",
    "orders": "orders",
    "order_lines": "orders",
    "demand_daily": "orders",
    "demand_weekly": "orders",
    "backorder_rollup": "orders",
    "backorders": "backorders",
    "allocations": "backorders",
    "backorder_costs": "backorders",
    "backorder_closures": "backorders",
    "backorder_cost_weekly": "backorders",
    "purchase_orders": "purchasing",
    "purchase_order_lines": "purchasing",
    "receipts": "purchasing",
    "shipments": "shipments",
    "shipment_lines": "shipments",
    "shipment_events": "shipments",
    "delivery_weekly": "shipments",
    "pick_tasks": "picking",
    "products": "catalogue",
    "suppliers": "catalogue",
    "substitutes": "catalogue",
    "carriers": "catalogue",
    "warehouses": "catalogue",
    "bins": "catalogue",
    "customers": "customers",
    "sales_reps": "customers",
    "communications": "customers",
    "feedback": "customers",
    "notifications": "notifications",
    "delivery_attempts": "notifications",
    "outbox_messages": "outbox",
    "outbox_attachments": "outbox",
    "outbox_attempts": "outbox",
    "webhooks": "outbox",
    "settings": "settings",
    "users": "users",
    "user_roles": "users",
    "audit_log": "audit",
    "model_runs": "models",
    "model_artifacts": "models",
    "forecasts": "models",
    "job_runs": "jobs",
    "job_locks": "jobs",
    "import_mappings": "settings",
    "import_batches": "audit",
}

# Summary tables with a row per week (or day), and the column that says which.
WEEK_COLUMNS: dict[str, str] = {
    "backorder_rollup": "week",
    "demand_weekly": "week",
    "backorder_cost_weekly": "week",
    "delivery_weekly": "week",
    "demand_daily": "day",
}
PAST_WEEKS_MARGIN = dt.timedelta(minutes=5)

# Columns set when the row is inserted and never updated (see "Facts fixed at insert").
FIXED_COLUMNS: dict[str, frozenset[str]] = {
    "orders": frozenset({"id", "number", "customer_id", "placed_at"}),
    "order_lines": frozenset(
        {
            "id",
            "order_id",
            "line_no",
            "product_id",
            "qty_ordered",
            "unit_price",
            "substitute_for_id",
        }
    ),
}


class FixedColumnWritten(RuntimeError):
    """An UPDATE tried to change a column that is fixed when its row is inserted."""


COUNTER_TABLE = "change_counters"
SHARDS = 64

_NOTED = "larder_changed_subjects"  # connection info: subjects written in this transaction
_SHARD = "larder_counter_shard"  # connection info: this connection's counter row


def subjects_of_table(name: str | None) -> frozenset[str]:
    """The subjects a write to table ``name`` changes (every subject for an unknown table)."""
    subject = TABLE_SUBJECTS.get(name or "")
    return frozenset((subject,)) if subject else frozenset(SUBJECTS)


def check_subjects(subjects) -> tuple[str, ...]:
    """``subjects`` as a sorted tuple; a name that is no subject is a programming error."""
    unknown = sorted(set(subjects) - set(SUBJECTS))
    if unknown:
        raise ValueError(f"Unknown subjects {unknown}; known: {', '.join(SUBJECTS)}")
    return tuple(sorted(set(subjects)))


def subject_versions(conn: Connection, subjects: Iterable[str] = SUBJECTS) -> dict[str, int]:
    """The version of each of ``subjects`` (every subject by default), in one statement.

    A version rises each time a transaction that wrote one of the subject's tables commits.
    """
    names = check_subjects(subjects)
    row = conn.execute(_versions_select(names)).one()
    return {s: int(v) for s, v in zip(names, row, strict=True)}


@lru_cache(maxsize=256)
def _versions_select(names: tuple[str, ...]) -> Select:
    # One statement object per subject list, so SQLAlchemy compiles it once.
    from data.schema import change_counters  # late import, as in _count_on_commit

    return select(*(func.coalesce(func.sum(change_counters.c[s]), 0).label(s) for s in names))


def count_only_existing(conn: Connection) -> None:
    """Keep only the noted subjects that have a counter column in this database now.

    For a migration's own transaction: a database migrated to a revision older than a subject
    has no column for it yet (nor, before the counters' revision, the table).
    """
    from sqlalchemy import inspect  # only migrations need it

    noted = conn.info.get(_NOTED)
    if not noted:
        return
    inspector = inspect(conn)
    if not inspector.has_table(COUNTER_TABLE):
        _forget(conn)
        return
    columns = {c["name"] for c in inspector.get_columns(COUNTER_TABLE)}
    noted.intersection_update(columns)


def _forget(conn: Connection) -> None:
    conn.info.pop(_NOTED, None)


def columns_set(context) -> frozenset[str]:
    """The columns an UPDATE sets: those of its ``values()``, and those an ORM flush binds
    by column name when it runs (the primary key, which only finds the row, left out)."""
    statement = context.compiled.statement
    table = statement.table
    named = {getattr(c, "key", c) for c in getattr(statement, "_values", None) or ()}
    for row in context.compiled_parameters or ():
        named.update(k for k in row if k in table.c)
    return frozenset(named) - {c.key for c in table.primary_key}


def _refuse_fixed_update(_conn, _cursor, _statement, _parameters, context, _executemany) -> None:
    if context is None or not context.isupdate:
        return
    name = getattr(getattr(context.compiled.statement, "table", None), "name", None)
    fixed = FIXED_COLUMNS.get(name)
    if fixed is None:
        return
    changed = sorted(columns_set(context) & fixed)
    if changed:
        raise FixedColumnWritten(
            f"{name}: {', '.join(changed)} cannot change once the row is inserted"
        )


def _note_write(conn, _cursor, _statement, _parameters, context, _executemany) -> None:
    if context is None or not (context.isinsert or context.isupdate or context.isdelete):
        return
    table = getattr(getattr(context.compiled, "statement", None), "table", None)
    name = getattr(table, "name", None)
    if name == COUNTER_TABLE:
        return
    noted = conn.info.setdefault(_NOTED, set())
    noted.update(subjects_of_table(name))
    column = WEEK_COLUMNS.get(name)
    if (
        column is not None
        and PAST_WEEKS not in noted
        and not (context.isinsert and _all_current(context.compiled_parameters, column))
    ):
        noted.add(PAST_WEEKS)


def current_week(now: dt.datetime | None = None) -> dt.date:
    """The Monday of the week a write counts as current (see "The past weeks" above)."""
    moment = (now or dt.datetime.now(dt.UTC).replace(tzinfo=None)) + PAST_WEEKS_MARGIN
    day = moment.date()
    return day - dt.timedelta(days=day.weekday())


def _all_current(rows, column: str) -> bool:
    """Whether every row inserted carries a week (or day) in the current week or later."""
    if not rows:
        return False
    first = current_week()
    for row in rows:
        value = row.get(column)
        if isinstance(value, dt.datetime):
            value = value.date()
        if not isinstance(value, dt.date) or value < first:
            return False
    return True


_local_commits = 0  # counted writes committed by this process


def local_commits() -> int:
    """How many counted writes this process has committed (to know a memo is out of date)."""
    return _local_commits


def _count_on_commit(conn: Connection) -> None:
    global _local_commits
    noted = conn.info.pop(_NOTED, None)
    if not noted:
        return
    _local_commits += 1

    shard = conn.info.setdefault(_SHARD, random.randrange(SHARDS))
    conn.execute(_counter_upsert(conn.dialect.name, tuple(sorted(noted))), {"shard": shard})


@lru_cache(maxsize=512)
def _counter_upsert(dialect: str, subjects: tuple[str, ...]):
    """INSERT ... ON CONFLICT adding 1 to ``subjects`` of one shard (built once per set)."""
    from data.schema import change_counters

    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(change_counters).values(
        shard=bindparam("shard"), **dict.fromkeys(subjects, 1)
    )
    return statement.on_conflict_do_update(
        index_elements=[change_counters.c.shard],
        set_={s: change_counters.c[s] + 1 for s in subjects},
    )


def track_changes(engine: Engine) -> None:
    """Count every committed write on ``engine`` per subject (see the module docstring)."""
    event.listen(engine, "begin", _forget)
    event.listen(engine, "rollback", _forget)
    event.listen(engine, "before_cursor_execute", _refuse_fixed_update)
    event.listen(engine, "after_cursor_execute", _note_write)
    event.listen(engine, "commit", _count_on_commit)
