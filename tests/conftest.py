"""Shared fixtures: a fresh database per test, on SQLite and (where reachable) PostgreSQL.

``engine`` is parametrized over both databases. PostgreSQL tests run against the server in
``LARDER_TEST_PG_URL`` (default: the local one on 127.0.0.1:5432); where no server answers they
skip with the reason shown in the summary.

Creating Larder's tables takes about a second on PostgreSQL and a tenth of one on SQLite, so each
test process creates them once. A SQLite test gets a copy of an empty file. PostgreSQL tests share
one schema per process, emptied before each test (every table truncated, identities restarted);
when a test has changed the schema itself (a table, column or index more or less), the next test
gets a newly made one.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, MetaData, Table, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateSchema, DropSchema
from sqlalchemy.sql.expression import ClauseElement, Executable

from data.db import make_engine
from data.schema import Base

PG_URL = os.environ.get("LARDER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# Every chart a test makes is checked against the Vega-Lite schema (a server skips the check;
# ui/theme.py). Streamlit servers the browser tests start inherit it.
os.environ["LARDER_CHECK_CHARTS"] = "1"


def _pg_reachable() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    try:
        probe = make_engine(PG_URL, connect_args={"connect_timeout": 3})
        with probe.connect() as conn:
            conn.execute(text("SELECT 1"))
        probe.dispose()
        return None
    except Exception as exc:  # any failure to connect means: skip, and say why
        return f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}: {exc}".splitlines()[0]


_PG_PROBLEM = _pg_reachable()


@pytest.fixture(scope="session")
def pg_problem() -> str | None:
    return _PG_PROBLEM


def pg_session_options(schema: str) -> str:
    """Connection options for a test schema: it is the search path, and commits do not wait
    for the disk (a test database need not survive a crash of the server)."""
    return f"-csearch_path={schema} -csynchronous_commit=off"


def pg_schema_engine(**kwargs) -> tuple[Engine, str]:
    """A fresh, empty PostgreSQL schema and an engine whose search_path points to it."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(CreateSchema(schema))
    admin.dispose()
    engine = make_engine(PG_URL, connect_args={"options": pg_session_options(schema)}, **kwargs)
    return engine, schema


def drop_pg_schema(engine: Engine, schema: str) -> None:
    engine.dispose()
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(DropSchema(schema, cascade=True, if_exists=True))
    admin.dispose()


class _TruncateAll(Executable, ClauseElement):
    """TRUNCATE of the given tables in one statement, identities restarted (PostgreSQL)."""

    inherit_cache = False

    def __init__(self, tables) -> None:
        self.tables = list(tables)


@compiles(_TruncateAll, "postgresql")
def _compile_truncate(element: _TruncateAll, compiler, **kw) -> str:
    names = ", ".join(compiler.preparer.format_table(table) for table in element.tables)
    return f"TRUNCATE {names} RESTART IDENTITY CASCADE"


_catalog = MetaData()
_columns = Table(
    "columns",
    _catalog,
    Column("table_schema"),
    Column("table_name"),
    Column("column_name"),
    schema="information_schema",
)
_indexes = Table("pg_indexes", _catalog, Column("schemaname"), Column("indexname"))


def _schema_shape(conn, schema: str) -> tuple:
    """What the schema holds: its tables' columns and its indexes (not the rows)."""
    columns = conn.execute(
        select(_columns.c.table_name, _columns.c.column_name)
        .where(_columns.c.table_schema == schema)
        .order_by(_columns.c.table_name, _columns.c.column_name)
    ).all()
    indexes = conn.execute(
        select(func.count()).select_from(_indexes).where(_indexes.c.schemaname == schema)
    ).scalar_one()
    return tuple(map(tuple, columns)), indexes


class _SharedPgSchema:
    """One PostgreSQL schema with Larder's tables for this test process, emptied per test."""

    def __init__(self) -> None:
        self.schema: str | None = None
        self.shape: tuple | None = None

    def _create(self) -> None:
        engine, self.schema = pg_schema_engine()
        Base.metadata.create_all(engine)
        with engine.connect() as conn:
            self.shape = _schema_shape(conn, self.schema)
        engine.dispose()

    def _drop(self) -> None:
        if self.schema is not None:
            admin = make_engine(PG_URL)
            with admin.begin() as conn:
                conn.execute(DropSchema(self.schema, cascade=True, if_exists=True))
            admin.dispose()
        self.schema = self.shape = None

    def empty_engine(self) -> Engine:
        """An engine on the shared schema with every table empty (made anew when changed)."""
        if self.schema is None:
            self._create()
        engine = make_engine(PG_URL, connect_args={"options": pg_session_options(self.schema)})
        try:
            with engine.begin() as conn:
                conn.execute(text("SET LOCAL lock_timeout = '10s'"))
                if _schema_shape(conn, self.schema) != self.shape:
                    raise LookupError("schema changed by the previous test")
                conn.execute(_TruncateAll(Base.metadata.sorted_tables))
        except (LookupError, DBAPIError):
            engine.dispose()
            self._drop()
            self._create()
            engine = make_engine(PG_URL, connect_args={"options": pg_session_options(self.schema)})
        return engine

    def close(self) -> None:
        if _PG_PROBLEM is None:
            self._drop()


@pytest.fixture(scope="session")
def _shared_pg_schema() -> Iterator[_SharedPgSchema]:
    shared = _SharedPgSchema()
    yield shared
    shared.close()


@pytest.fixture(scope="session", autouse=True)
def _empty_sqlite_file(tmp_path_factory) -> Path:
    """An SQLite file with Larder's tables and no rows, copied by every SQLite test."""
    global _EMPTY_SQLITE
    if _EMPTY_SQLITE is None:
        path = tmp_path_factory.mktemp("empty") / "larder.db"
        engine = make_engine(f"sqlite:///{path}")
        Base.metadata.create_all(engine)
        engine.dispose()  # the last connection closing folds the WAL into the file
        _EMPTY_SQLITE = path
    return _EMPTY_SQLITE


_EMPTY_SQLITE: Path | None = None  # made by the fixture above, once per test process


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, tmp_path, _empty_sqlite_file, _shared_pg_schema) -> Iterator[Engine]:
    """An empty database with Larder's schema, on each backend."""
    if request.param == "sqlite":
        yield from _sqlite_copy(_empty_sqlite_file, tmp_path)
        return
    if _PG_PROBLEM:
        pytest.skip(_PG_PROBLEM)
    engine = _shared_pg_schema.empty_engine()
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path, _empty_sqlite_file) -> Iterator[Engine]:
    """An empty SQLite database with Larder's schema (for tests that need only one backend)."""
    yield from _sqlite_copy(_empty_sqlite_file, tmp_path)


def _sqlite_copy(empty_file: Path, tmp_path) -> Iterator[Engine]:
    target = tmp_path / "larder.db"
    shutil.copyfile(empty_file, target)
    engine = make_engine(f"sqlite:///{target}")
    yield engine
    engine.dispose()


def _blank_engine(backend: str, folder) -> Iterator[Engine]:
    """A database of its own with no tables at all (a new SQLite file in ``folder``, or a new
    PostgreSQL schema dropped afterwards)."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{folder / 'larder.db'}")
        yield engine
        engine.dispose()
        return
    if _PG_PROBLEM:
        pytest.skip(_PG_PROBLEM)
    engine, schema = pg_schema_engine()
    try:
        yield engine
    finally:
        drop_pg_schema(engine, schema)


def _fresh_engine(backend: str, tmp_path) -> Iterator[Engine]:
    """An empty database of its own (a second one in a test, or one a whole module shares)."""
    if backend == "sqlite":
        assert _EMPTY_SQLITE is not None, "made by the session's autouse fixture"
        yield from _sqlite_copy(_EMPTY_SQLITE, tmp_path)
        return
    for engine in _blank_engine(backend, tmp_path):
        Base.metadata.create_all(engine)
        yield engine
