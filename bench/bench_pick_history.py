"""The pick queue's figures over years of picks: the large demo with a pick task for every line.

The demo keeps pick tasks for its last weeks only; a warehouse that has used Larder for years
keeps one for every line it shipped. This copies the large demo (``bench_pages.demo_database``),
adds a shipped pick task for every order line placed before the demo's first one (picked and
packed when the order was placed, so all of them lie before the figures' windows), migrates the
copy to head, and times ``queries.picking.pick_kpis`` and the open queue on it: the median of
``--runs`` calls after one unmeasured call.

    .venv/bin/python -m bench.bench_pick_history --data-dir /work/bench
    .venv/bin/python -m bench.bench_pick_history --data-dir /work/bench --keep /work/hist

``--keep DIR`` leaves the copy in DIR as ``larder_bench_large.db``, marked generated and trained,
so ``bench_pages --data-dir DIR`` times the pages on it.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from sqlalchemy import func, insert, literal, select  # noqa: E402

from bench.bench_pages import checkpoint, demo_database, working_copy  # noqa: E402
from data.db import make_engine  # noqa: E402
from data.migrate import upgrade  # noqa: E402
from data.schema import Order, OrderLine, PickTask, Warehouse  # noqa: E402
from queries import picking  # noqa: E402


def add_history(engine) -> int:
    """A shipped pick task for every order line placed before the first kept one; rows added."""
    with engine.begin() as conn:
        first = conn.execute(select(func.min(PickTask.created_at))).scalar_one()
        warehouse = conn.execute(select(func.min(Warehouse.id))).scalar_one()
        lines = (
            select(
                OrderLine.id,
                OrderLine.product_id,
                literal(warehouse),
                OrderLine.qty_ordered,
                OrderLine.qty_ordered,
                literal("shipped"),
                literal(False),
                literal(False),
                Order.placed_at,
                Order.placed_at,
                Order.placed_at,
                literal("history"),
            )
            .join(Order, Order.id == OrderLine.order_id)
            .where(Order.placed_at < first, OrderLine.qty_ordered > 0)
        )
        columns = [
            "order_line_id",
            "product_id",
            "warehouse_id",
            "qty",
            "qty_picked",
            "status",
            "fills_backorder",
            "urgent",
            "created_at",
            "picked_at",
            "packed_at",
            "actor",
        ]
        return conn.execute(insert(PickTask).from_select(columns, lines)).rowcount


def timed(call, runs: int) -> tuple[float, object]:
    result = call()  # one unmeasured call: the pages the read needs are in the page cache
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="where the demo is kept")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="leave the copy with its history in this folder")
    args = parser.parse_args()
    source = demo_database("large", args.data_dir)
    checkpoint(source)
    folder = Path(tempfile.mkdtemp(prefix="larder_pick_history_"))
    try:
        path = working_copy(source, folder)
        engine = make_engine(f"sqlite:///{path}")
        started = time.perf_counter()
        added = add_history(engine)
        print(f"added {added:,} shipped pick tasks in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        upgrade(engine)
        print(f"migrated the copy to head in {time.perf_counter() - started:.1f} s")
        with engine.connect() as conn:
            tasks = conn.execute(select(func.count()).select_from(PickTask)).scalar_one()
        print(f"{tasks:,} pick tasks in all")
        seconds, kpis = timed(lambda: picking.pick_kpis(engine), args.runs)
        print(
            f"pick_kpis: {seconds * 1000:.1f} ms (median of {args.runs}); "
            f"{kpis.fulfilment_orders:,} orders packed, {kpis.picks_counted:,} picks in the windows"
        )
        seconds, queue = timed(lambda: picking.open_pick_tasks(engine), args.runs)
        print(
            f"open_pick_tasks: {seconds * 1000:.1f} ms (median of {args.runs}); {len(queue)} rows"
        )
        engine.dispose()
        if args.keep:
            checkpoint(path)
            args.keep.mkdir(parents=True, exist_ok=True)
            kept = args.keep / source.name
            shutil.copyfile(path, kept)
            for marker in (".done", ".trained"):
                kept.with_suffix(marker).write_text("copied with its pick history\n")
            print(f"kept in {kept}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
