"""Time the demand model's fit on a database at each thread count (the ``--threads`` default).

    .venv/bin/python -m bench.bench_threads --database sqlite:////tmp/default.db --threads 1 2

Alternates the thread counts over ``--repeats`` rounds so a change in the machine's load hits
each setting alike, checks the forecasts are the same, and prints the time of every fit and the
median per setting with the load average at the start.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data.db import make_engine  # noqa: E402
from models.demand import GlobalDemandModel, to_panel  # noqa: E402
from models.history import demand_history  # noqa: E402
from models.threads import limited_threads  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--freq", default="W")
    parser.add_argument("--max-iter", type=int, default=150)
    args = parser.parse_args(argv)
    frame, categories = demand_history(make_engine(args.database), args.freq)
    panel = to_panel(frame, args.freq)
    print(f"{len(panel.items):,} series; load average {os.getloadavg()[0]:.2f} at start")
    seconds: dict[int, list[float]] = {n: [] for n in args.threads}
    forecasts = {}
    for _ in range(args.repeats):
        for n in args.threads:
            with limited_threads(n):
                started = time.perf_counter()
                model = GlobalDemandModel(max_iter=args.max_iter).fit(panel, categories)
                seconds[n].append(time.perf_counter() - started)
            forecasts[n] = model.forecast(8)["p50"].to_numpy()
            print(f"threads {n}: fit {seconds[n][-1]:.1f} s")
    for n in args.threads:
        print(f"threads {n}: median {statistics.median(seconds[n]):.1f} s over {args.repeats}")
    first = forecasts[args.threads[0]]
    same = all(abs(f - first).max() < 1e-9 for f in forecasts.values())
    print("forecasts identical across thread counts" if same else "forecasts DIFFER")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
