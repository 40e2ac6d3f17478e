"""``python -m data migrate`` against a PostgreSQL database that does not exist yet."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from tests.conftest import _PG_PROBLEM, PG_URL

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(bool(_PG_PROBLEM), reason=_PG_PROBLEM or ""),
]

ROOT = Path(__file__).resolve().parent.parent


def _server():
    return create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")


def _migrate(url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "data", "migrate"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _drop_database(name: str) -> None:
    server = _server()
    with server.connect() as conn:
        quoted = conn.dialect.identifier_preparer.quote(name)
        conn.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
    server.dispose()


def test_migrate_creates_a_missing_database_then_migrates_it():
    name = f"larder_new_{uuid.uuid4().hex[:10]}"
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        result = _migrate(url)
        assert result.returncode == 0, result.stderr
        assert f"Created the database '{name}'." in result.stdout
        assert "Traceback" not in result.stderr
        created = create_engine(url)
        try:
            assert inspect(created).has_table("products")
        finally:
            created.dispose()
        again = _migrate(url)  # an existing database is simply migrated
        assert again.returncode == 0 and "Created" not in again.stdout
    finally:
        _drop_database(name)


def test_a_user_who_may_not_create_databases_gets_one_line_saying_what_to_run():
    role = f"larder_nocreate_{uuid.uuid4().hex[:8]}"
    name = f"larder_new_{uuid.uuid4().hex[:10]}"
    server = _server()
    with server.connect() as conn:
        quoted_role = conn.dialect.identifier_preparer.quote(role)
        conn.execute(text(f"CREATE ROLE {quoted_role} LOGIN NOCREATEDB"))
    try:
        url = make_url(PG_URL).set(username=role, password=None, database=name)
        result = _migrate(url.render_as_string(hide_password=False))
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert f"The database '{name}' does not exist and could not be created" in lines[0]
        assert "createdb" in lines[0] and name in lines[0]
    finally:
        with server.connect() as conn:
            conn.execute(text(f"DROP ROLE IF EXISTS {quoted_role}"))
        server.dispose()
        _drop_database(name)
