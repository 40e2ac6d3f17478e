"""Time the export of everything (the ZIP of CSV files) and the weekly report on a demo database.

    .venv/bin/python bench/bench_export.py --database /path/to/larder_bench_default.db
    .venv/bin/python bench/bench_export.py --database /path/to/larder_bench_large.db --runs 1

The demo databases are the ones ``bench/bench_pages.py`` generates (``--data-dir``, default a
temporary folder); the database is only read. Prints, per run, the seconds, rows written, rows
per second and the ZIP's size, then the weekly report's seconds and the process's peak memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data.db import make_engine  # noqa: E402
from queries.weekly_report import weekly_figures  # noqa: E402
from reports.export import write_export  # noqa: E402
from reports.weekly_pdf import weekly_report_pdf  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", type=Path, required=True, help="a SQLite demo database")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    engine = make_engine(f"sqlite:///{args.database}")
    seconds = []
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "export.zip"
        for run in range(1, args.runs + 1):
            started = time.perf_counter()
            manifest = write_export(engine, target)
            took = time.perf_counter() - started
            seconds.append(took)
            rows = sum(f["rows"] for f in manifest["files"])
            print(
                f"export run {run}: {took:.1f} s, {rows:,} rows, {rows / took:,.0f} rows/s, "
                f"ZIP {os.path.getsize(target) / 1e6:.1f} MB",
                flush=True,
            )
    print(f"export median: {statistics.median(seconds):.1f} s")
    started = time.perf_counter()
    pdf = weekly_report_pdf(weekly_figures(engine))
    print(f"weekly report: {time.perf_counter() - started:.2f} s, {len(pdf) / 1e3:.0f} kB")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
