"""Time demo seeding on SQLite and PostgreSQL.

    .venv/bin/python bench/bench_seed.py --scale default --backend sqlite postgres
    .venv/bin/python bench/bench_seed.py --scale large --backend sqlite

Each run seeds a fresh database (a temporary SQLite file, or a temporary schema on the
PostgreSQL server in ``LARDER_BENCH_PG_URL``), prints the seconds and rows per second, and drops
it again. The time covers generating the history and loading it, as ``python -m data seed`` does.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data.db import make_engine  # noqa: E402
from data.demo import generate  # noqa: E402
from data.schema import Base  # noqa: E402

PG_URL = os.environ.get("LARDER_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def seed_sqlite(scale: str, today: dt.date) -> tuple[float, dict[str, int]]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        Base.metadata.create_all(engine)
        started = time.perf_counter()
        counts = generate(engine, scale=scale, today=today)
        seconds = time.perf_counter() - started
        engine.dispose()
    return seconds, counts


def seed_postgres(scale: str, today: dt.date) -> tuple[float, dict[str, int]]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))  # a generated identifier, not input
    engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        Base.metadata.create_all(engine)
        started = time.perf_counter()
        counts = generate(engine, scale=scale, today=today)
        seconds = time.perf_counter() - started
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
    return seconds, counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time seeding the demo database.")
    parser.add_argument(
        "--scale",
        nargs="+",
        choices=("tiny", "default", "large"),
        default=["default"],
        help="scales to seed (default: default)",
    )
    parser.add_argument(
        "--backend",
        nargs="+",
        choices=("sqlite", "postgres"),
        default=["sqlite", "postgres"],
        help="databases to seed (default: both)",
    )
    parser.add_argument(
        "--today",
        type=dt.date.fromisoformat,
        default=dt.date(2026, 11, 24),
        help="last day of the history (fixed by default, for comparable runs)",
    )
    args = parser.parse_args(argv)
    runners = {"sqlite": seed_sqlite, "postgres": seed_postgres}
    print(
        f"{'scale':<8} {'backend':<9} {'seconds':>8} {'rows':>11} {'rows/s':>9} "
        f"{'order lines':>12} {'backorder rate':>15}"
    )
    for scale in args.scale:
        for backend in args.backend:
            seconds, counts = runners[backend](scale, args.today)
            rows = sum(counts.values())
            print(
                f"{scale:<8} {backend:<9} {seconds:>8.1f} {rows:>11,} {rows / seconds:>9,.0f} "
                f"{counts['order_lines']:>12,} "
                f"{counts['backorders'] / counts['order_lines']:>15.1%}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
