"""Time fit + predict of the demand forecast for 10,000 products (Larder's aim: under 60 s).

What is timed is what training runs: :class:`models.demand.DemandForecaster`, which fits the
global model once on the history before a held-out window, scores it and every simple method
there, weighs the methods per product and calibrates the quantiles, then forecasts.

Uses the large demo database when ``--database`` points at one that holds 10,000 products;
otherwise it generates a synthetic 10,000-series history and says so.

    .venv/bin/python bench/bench_forecast.py [--freq W] [--horizon 8] [--periods 156]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.demand import DemandForecaster, to_panel  # noqa: E402
from models.synthetic import seasonal_history  # noqa: E402
from models.threads import add_threads_option, limited_threads  # noqa: E402

TARGET_SECONDS = 60.0


def _history(args) -> tuple:
    if args.database:
        from data.db import make_engine
        from models.history import demand_history

        engine = make_engine(args.database)
        frame, categories = demand_history(engine, freq=args.freq)
        source = f"database {args.database}"
        return frame, categories, source
    print(
        f"No --database given: timing a generated history of {args.products:,} products x "
        f"{args.periods} periods, not a database's own sales.",
        flush=True,
    )
    frame = seasonal_history(args.products, args.periods, freq=args.freq, seed=7)
    categories = frame.drop_duplicates("item").set_index("item")["category"]
    return frame, categories, f"synthetic ({args.products} series x {args.periods} periods)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database",
        help="database URL with the large demo data; without it a generated history is timed",
    )
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--periods", type=int, default=156)
    parser.add_argument("--freq", choices=["D", "W", "M"], default="W")
    parser.add_argument("--horizon", type=int, default=8)
    add_threads_option(parser)
    args = parser.parse_args(argv)
    with limited_threads(args.threads) as threads:
        print(f"fitting with {threads} thread(s)", flush=True)
        return _bench(args)


def _bench(args) -> int:

    t0 = time.perf_counter()
    frame, categories, source = _history(args)
    t1 = time.perf_counter()
    cpu0 = time.process_time()
    panel = to_panel(frame, args.freq)
    t2 = time.perf_counter()
    model = DemandForecaster(horizon=args.horizon).fit(panel, categories)
    t3 = time.perf_counter()
    forecast = model.forecast(args.horizon)
    t4 = time.perf_counter()
    cpu = time.process_time() - cpu0
    total = t4 - t1
    print(f"history: {source}; {len(frame):,} rows, {len(panel.items):,} series, freq {args.freq}")
    print(f"load     {t1 - t0:6.1f} s (not counted)")
    print(f"panel    {t2 - t1:6.1f} s")
    rows = model.model_.n_train_rows_ if model.model_ is not None else 0
    print(f"fit      {t3 - t2:6.1f} s ({rows:,} training rows, 1 model, per-product choice)")
    print(f"predict  {t4 - t3:6.1f} s ({len(forecast):,} forecast rows, horizon {args.horizon})")
    verdict = "PASS" if total < TARGET_SECONDS else "FAIL"
    print(f"total    {total:6.1f} s  target < {TARGET_SECONDS:.0f} s: {verdict}")
    # CPU seconds of this process (both cores count): tells a busy machine from a slow model.
    print(f"cpu      {cpu:6.1f} s  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        "methods: "
        + ", ".join(
            f"{k} {v}" for k, v in forecast.drop_duplicates("item")["method"].value_counts().items()
        )
    )
    return 0 if total < TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
