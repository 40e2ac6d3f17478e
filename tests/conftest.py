"""Shared fixtures: a fresh database per test, on SQLite and (where reachable) PostgreSQL.

``engine`` is parametrized over both databases. PostgreSQL tests run against the server in
``LARDER_TEST_PG_URL`` (default: the local one on 127.0.0.1:5432), each in its own schema that
is dropped afterwards; where no server answers they skip with the reason shown in the summary.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.schema import CreateSchema, DropSchema

from data.db import make_engine
from data.schema import Base

PG_URL = os.environ.get("LARDER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


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


def pg_schema_engine(**kwargs) -> tuple[Engine, str]:
    """A fresh, empty PostgreSQL schema and an engine whose search_path points to it."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(CreateSchema(schema))
    admin.dispose()
    engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"}, **kwargs)
    return engine, schema


def drop_pg_schema(engine: Engine, schema: str) -> None:
    engine.dispose()
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(DropSchema(schema, cascade=True, if_exists=True))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, tmp_path) -> Iterator[Engine]:
    """An empty database with Larder's schema, on each backend."""
    yield from _fresh_engine(request.param, tmp_path)


@pytest.fixture
def sqlite_engine(tmp_path) -> Iterator[Engine]:
    """An empty SQLite database with Larder's schema (for tests that need only one backend)."""
    yield from _fresh_engine("sqlite", tmp_path)


def _fresh_engine(backend: str, tmp_path) -> Iterator[Engine]:
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'larder.db'}")
        Base.metadata.create_all(engine)
        yield engine
        engine.dispose()
        return
    if _PG_PROBLEM:
        pytest.skip(_PG_PROBLEM)
    engine, schema = pg_schema_engine()
    Base.metadata.create_all(engine)
    try:
        yield engine
    finally:
        drop_pg_schema(engine, schema)
