"""``python -m data`` and ``ensure_database``: migrate, seed once, reset only when told."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, inspect, select, text

from data.__main__ import drop_everything
from data.bootstrap import ensure_database
from data.db import make_engine
from data.migrate import alembic_config, at_head, head_revisions, upgrade
from data.schema import OrderLine, Product
from tests.conftest import _PG_PROBLEM, drop_pg_schema, pg_schema_engine

ROOT = Path(__file__).resolve().parent.parent
TODAY = "2026-03-20"


def run_cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}
    return subprocess.run(
        [sys.executable, "-m", "data", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def count(db: Path, table) -> int:
    engine = make_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(table)).scalar_one()
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory) -> Path:
    """A database file made by ``migrate`` then ``seed --scale tiny``."""
    db = tmp_path_factory.mktemp("cli") / "larder.db"
    migrated = run_cli(db, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    seeded = run_cli(db, "seed", "--scale", "tiny", "--today", TODAY)
    assert seeded.returncode == 0, seeded.stderr
    assert "Seeded the tiny demo" in seeded.stdout
    return db


def test_migrate_then_seed_fills_the_database(seeded_file):
    assert count(seeded_file, Product) == 80
    assert count(seeded_file, OrderLine) > 5_000


def test_seeding_a_seeded_database_is_refused_and_adds_nothing(seeded_file):
    before = count(seeded_file, OrderLine)
    again = run_cli(seeded_file, "seed", "--scale", "tiny", "--today", TODAY)
    assert again.returncode == 1
    assert "Refusing to seed" in again.stderr
    assert "reset --yes" in again.stderr
    assert count(seeded_file, OrderLine) == before


def test_seed_if_empty_succeeds_without_seeding_again(seeded_file):
    before = count(seeded_file, OrderLine)
    again = run_cli(seeded_file, "seed", "--scale", "tiny", "--if-empty")
    assert again.returncode == 0
    assert "nothing to seed" in again.stdout
    assert count(seeded_file, OrderLine) == before


def test_reset_without_yes_is_refused_and_keeps_the_data(seeded_file):
    before = count(seeded_file, OrderLine)
    refused = run_cli(seeded_file, "reset", "--scale", "tiny")
    assert refused.returncode == 2
    assert "without --yes" in refused.stderr
    assert count(seeded_file, OrderLine) == before


def test_info_lists_row_counts(seeded_file):
    info = run_cli(seeded_file, "info")
    assert info.returncode == 0
    assert any(line.split() == ["products", "80"] for line in info.stdout.splitlines())


def test_reset_with_yes_starts_over_with_a_fresh_demo(tmp_path):
    db = tmp_path / "reset.db"
    assert run_cli(db, "seed", "--scale", "tiny", "--today", TODAY, "--seed", "3").returncode == 0
    first = count(db, OrderLine)
    reset = run_cli(db, "reset", "--yes", "--scale", "tiny", "--today", TODAY)
    assert reset.returncode == 0, reset.stderr
    assert count(db, Product) == 80
    assert count(db, OrderLine) != first  # seed 7 this time, not 3: the old rows are gone


def test_bad_scale_is_rejected_with_usage(tmp_path):
    bad = run_cli(tmp_path / "x.db", "seed", "--scale", "huge")
    assert bad.returncode == 2
    assert "invalid choice: 'huge'" in bad.stderr


# --- ensure_database -----------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database(request, tmp_path):
    """A database with no tables at all, and a factory for more engines on it."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
        engines = [make_engine(url)]
        yield engines[0], lambda: engines.append(make_engine(url)) or engines[-1]
        for engine in engines:
            engine.dispose()
        return
    if _PG_PROBLEM:
        pytest.skip(_PG_PROBLEM)
    engine, schema = pg_schema_engine()
    engines = [engine]

    def another() -> Engine:
        url = engine.url
        extra = make_engine(
            url.render_as_string(hide_password=False),
            connect_args={"options": f"-csearch_path={schema}"},
        )
        engines.append(extra)
        return extra

    try:
        yield engine, another
    finally:
        for extra in engines[1:]:
            extra.dispose()
        drop_pg_schema(engine, schema)


def _products(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Product)).scalar_one()


def test_ensure_database_migrates_and_seeds_an_empty_database_once(empty_database):
    engine, _ = empty_database
    ensure_database(engine, scale="tiny")
    lines = count_lines(engine)
    ensure_database(engine, scale="tiny")
    assert "alembic_version" in inspect(engine).get_table_names()
    assert _products(engine) == 80
    assert count_lines(engine) == lines


def test_a_database_is_at_head_only_when_its_version_is_the_scripts_head(empty_database):
    engine, _ = empty_database
    assert not at_head(engine)  # no version table yet
    (head,) = head_revisions()
    (previous,) = [
        r.down_revision for r in ScriptDirectory.from_config(alembic_config()).walk_revisions()
        if r.revision == head
    ]  # fmt: skip
    upgrade(engine, previous)
    assert not at_head(engine)
    upgrade(engine)
    assert at_head(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
            head
        ]
    # A started server on a database at head with products checks and changes nothing.
    ensure_database(engine, scale="tiny")
    lines = count_lines(engine)
    assert lines > 0 and at_head(engine)
    ensure_database(engine, scale="tiny")
    assert count_lines(engine) == lines


def test_two_servers_starting_at_once_seed_only_once(empty_database):
    engine, another = empty_database
    engines = [engine, another()]
    errors: list[BaseException] = []

    def start(e: Engine) -> None:
        try:
            ensure_database(e, scale="tiny")
        except BaseException as exc:  # reported below, with the thread's failure
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert _products(engine) == 80


def count_lines(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(OrderLine)).scalar_one()


def test_drop_everything_removes_all_tables_including_alembic_version(empty_database):
    engine, _ = empty_database
    upgrade(engine)
    assert "alembic_version" in inspect(engine).get_table_names()
    drop_everything(engine)
    assert inspect(engine).get_table_names() == []
