"""The one door to the database: engine from ``DATABASE_URL``, sessions and read connections.

SQLite (a file under ``data/``) is the default; PostgreSQL is used when ``DATABASE_URL`` points
to it. SQLite write transactions open with ``BEGIN IMMEDIATE`` so that concurrent writers queue
on the busy timeout instead of failing on lock upgrade (STACK_NOTES: deferred BEGIN needed ~3.8
retries per order under 8 clients). Reads use a deferred ``BEGIN`` so they never block writers.
When the busy timeout runs out anyway, the write side's door (``operations.transactions``) runs
the whole operation again after a pause, and finally refuses with its own ``Busy`` error.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session

from data.changes import track_changes

DATA_DIR = Path(__file__).resolve().parent
DEFAULT_SQLITE_PATH = DATA_DIR / "larder.db"
SQLITE_BUSY_TIMEOUT_S = 30
# Pages the write-ahead log grows to before a commit copies it into the database (SQLite's
# default is 1,000). Placing an order writes 51.5 pages on average (large demo), so the default
# checkpointed (and synced to disk) every ~20 orders; at 10,000 pages (~40 MB) a page written by many orders in a row is
# copied once. Placing 500 orders on the large demo, four alternating pairs on a loaded machine:
# commit time per order 0.87-1.56 ms at 1,000 pages, 0.49-0.96 ms at 10,000.
SQLITE_WAL_CHECKPOINT_PAGES = 10_000
# Each connection reads the database file through a memory map of up to this many bytes (SQLite
# caps it just under 2 GiB) instead of copying every page it reads into its own 2 MB page cache
# with a system call. The Loyalty page's first read of a year of exposure on the large demo spent
# about a quarter of its time in those calls (system time 58 ms of 238 ms, a loaded 2-core
# machine), a fifth of that with the map. Only address space is reserved: the pages stay the
# kernel's file cache, shared by every connection and process.
SQLITE_MMAP_BYTES = 2**31

# Execution option that marks a connection as read-only: SQLite then opens a deferred BEGIN.
READ_ONLY = "larder_read_only"
# Execution option: SQLite opens no transaction at all, each statement runs on its own.
NO_BEGIN = "larder_no_begin"


def database_url() -> str:
    """The configured database: ``DATABASE_URL`` or the default SQLite file."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        return f"sqlite:///{DEFAULT_SQLITE_PATH}"
    if url.startswith("postgres://"):  # the form many hosts hand out
        url = "postgresql+psycopg://" + url[len("postgres://") :]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str | None = None, **kwargs) -> Engine:
    """A new engine for ``url`` (default: :func:`database_url`) with Larder's connection rules."""
    url = url or database_url()
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
            **kwargs,
        )
        _configure_sqlite(engine, in_memory=":memory:" in url or url in ("sqlite://", "sqlite:///"))
        track_changes(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    track_changes(engine)
    return engine


def _configure_sqlite(engine: Engine, in_memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy emit BEGIN itself (pysqlite's own transaction handling is off).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_CHECKPOINT_PAGES}")
            cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection):
        options = conn.get_execution_options()
        if options.get(NO_BEGIN):
            return  # each statement on its own (read_connection's quick reads)
        if options.get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@lru_cache(maxsize=4)
def _shared_engine(url: str) -> Engine:
    return make_engine(url)


def get_engine() -> Engine:
    """The process-wide engine for the configured database (one pool per URL)."""
    return _shared_engine(database_url())


# SQLite engine -> the lock its write sessions take turns on (see write_session).
_WRITER_TURNS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()
_TURNS_LOCK = threading.Lock()


def _writer_turn(engine: Engine):
    """On SQLite, the engine's lock for write sessions (a no-op context elsewhere).

    SQLite has one writer at a time. Threads of one process that queue on SQLite's own busy
    handler sleep in growing steps (up to 100 ms) and wake late; queued on this lock they start
    the moment the previous write session ends. Other processes still wait on the busy timeout.
    Reentrant, so a write session opened inside another one in the same thread behaves as before.
    """
    if engine.dialect.name != "sqlite":
        return nullcontext()
    with _TURNS_LOCK:
        turn = _WRITER_TURNS.get(engine)
        if turn is None:
            turn = _WRITER_TURNS[engine] = threading.RLock()
    return turn


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """One write transaction: commits on success, rolls back on any error."""
    with (
        _writer_turn(engine),
        Session(engine, expire_on_commit=False) as session,
        session.begin(),
    ):
        yield session


def core_connection(session: Session) -> Connection:
    """The session's connection for a plain Core statement, pending ORM changes flushed first.

    What ``session.execute`` does before a query, without the ORM's cost per statement (a
    plain select through the session costs about twice as much in Python as on its connection).
    """
    if session.new or session.dirty or session.deleted:
        session.flush()
    return session.connection()


@contextmanager
def read_connection(engine: Engine, *, quick: bool = False) -> Iterator[Connection]:
    """A connection for reads; on SQLite it never takes the write lock.

    ``quick``: run each statement on its own (autocommit) instead of inside a transaction,
    which saves the BEGIN (and on PostgreSQL the ROLLBACK round trip) of a short burst of reads.
    Each statement then sees what was committed when it started: on PostgreSQL, under READ
    COMMITTED, a statement inside a transaction does too; on SQLite the statements of a burst
    may see different commits, so only for reads that need no common snapshot (such as
    versions read before the data they key). Not for server-side cursors (``stream_results``).
    """
    options: dict = {READ_ONLY: True}
    if quick and engine.dialect.name == "postgresql":
        options["isolation_level"] = "AUTOCOMMIT"
    elif quick:
        # Not SQLAlchemy's AUTOCOMMIT level: its reset on check-in would switch the driver's
        # own transaction handling back on, which this engine keeps off.
        options[NO_BEGIN] = True
    with engine.connect().execution_options(**options) as conn:
        yield conn
