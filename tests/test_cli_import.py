"""``python -m operations import KIND FILE``: the import from the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from data.db import make_engine
from data.migrate import upgrade
from data.schema import Supplier
from tests.apptest_support import REPO_ROOT
from tests.operations_world import add_admin


@pytest.fixture
def database(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'larder.db'}"
    engine = make_engine(url)
    upgrade(engine)
    add_admin(engine)
    engine.dispose()
    return url


def run(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "operations", "import", *args],
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_import_applies_once_and_says_so_the_second_time(database, tmp_path):
    file = tmp_path / "vendors.csv"
    file.write_bytes("\ufeffVendor;Company;Lead time\r\nV1;First Mill;6\r\n".encode())
    first = run(database, "suppliers", str(file), "--quiet")
    assert first.returncode == 0, first.stderr
    assert "Imported 1 rows of vendors.csv as suppliers: 1 created" in first.stdout
    second = run(database, "suppliers", str(file), "--quiet")
    assert second.returncode == 0, second.stderr
    assert "was imported already" in second.stdout
    engine = make_engine(database)
    with engine.connect() as conn:
        rows = conn.execute(select(Supplier.code, Supplier.name, Supplier.lead_time_days)).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("V1", "First Mill", 6)]


def test_a_dry_run_writes_the_report_and_nothing_else(database, tmp_path):
    file = tmp_path / "vendors.csv"
    file.write_bytes(b"code,name,lead_time_days\nV1,First,six\nV2,Second,3\n")
    report = tmp_path / "refused.csv"
    result = run(database, "suppliers", str(file), "--dry-run", "--report", str(report))
    assert result.returncode == 1
    assert "Line 2, column 'lead_time_days': 'six' is not a number" in result.stdout
    assert (
        report.read_text(encoding="utf-8-sig")
        .splitlines()[1]
        .startswith('2,lead_time_days,six,"is not a number: write it like 1,234.50')
    )
    refused = run(database, "suppliers", str(file), "--quiet")
    assert refused.returncode == 1
    assert "Nothing was imported: 1 row(s) of vendors.csv are refused" in refused.stderr


def test_python_m_data_import_points_to_the_write_side(database):
    result = subprocess.run(
        [sys.executable, "-m", "data", "import", "products", "items.csv"],
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": database},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "python -m operations import products items.csv" in result.stderr


def test_a_missing_file_is_named(database, tmp_path):
    result = run(database, "products", str(Path(tmp_path) / "nope.csv"))
    assert result.returncode == 2
    assert "No such file" in result.stderr
