"""Walking routes on the default demo warehouse: solver against bin-code order.

For each batch size, draws seeded batches of pick tasks the way demand falls (busy products more
often), routes each through its bins with the routing solver and in bin-code order, and prints
the mean saving in metres walked (percent of the bin-code route) and the solver's time.

    .venv/bin/python -m bench.bench_pick_route
    .venv/bin/python -m bench.bench_pick_route --sizes 10 20 40 --batches 20 --time-limit 1.0
    .venv/bin/python -m bench.bench_pick_route --draw uniform   # every product alike
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np

from data.demo.scales import SCALES
from data.demo.world import build_world
from models.pick_route import (
    SECONDS_PER_STOP,
    Location,
    bin_code_route,
    layout_for,
    solve_route,
    unique_locations,
)

DEMO_SEED = 7  # the seed data.demo.generate uses by default


def demo_floor(scale: str = "default") -> tuple[list[Location], list[Location], np.ndarray]:
    """All bins, the bin of each product, and each product's share of demand."""
    world_seed = np.random.SeedSequence([DEMO_SEED, len(scale)]).spawn(3)[0]
    w = build_world(SCALES[scale], np.random.default_rng(world_seed))
    bins = [
        Location(code, int(aisle), int(bay), float(x), float(y))
        for code, aisle, bay, x, y in zip(
            w.bin_code, w.bin_aisle, w.bin_bay, w.bin_x, w.bin_y, strict=True
        )
    ]
    return bins, [bins[b] for b in w.bin], w.popularity / w.popularity.sum()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 20, 40])
    parser.add_argument("--batches", type=int, default=10, help="seeded batches per size")
    parser.add_argument(
        "--time-limit", type=float, default=None, help="seconds (default: as the page, per stop)"
    )
    parser.add_argument(
        "--draw",
        choices=("demand", "uniform"),
        default="demand",
        help="products drawn by their share of demand (as orders fall) or all alike",
    )
    args = parser.parse_args()
    bins, product_bins, weights = demo_floor()
    layout = layout_for(bins)
    print(f"demo warehouse: {len(bins)} bins, cross-aisles at x = {layout.cross_aisles_x}")
    limit = f"{args.time_limit} s" if args.time_limit else f"{SECONDS_PER_STOP * 1000:g} ms a stop"
    print(
        f"solver time limit {limit}, {args.batches} batches per size, products drawn by {args.draw}"
    )
    p = weights if args.draw == "demand" else None
    print("tasks  stops  bin-code m  solver m  saving %  (min..max)  solver s  never longer")
    for size in args.sizes:
        savings, times, stops, base_m, route_m, never_longer = [], [], [], [], [], True
        for seed in range(args.batches):
            rng = np.random.default_rng(1000 * size + seed)
            picks = rng.choice(len(product_bins), size=size, replace=True, p=p)
            batch = unique_locations([product_bins[p] for p in picks])
            baseline = bin_code_route(batch, layout)
            route = solve_route(batch, layout, time_limit_s=args.time_limit)
            never_longer &= route.length_m <= baseline.length_m + 1e-9
            savings.append(100 * (1 - route.length_m / baseline.length_m))
            times.append(route.solve_seconds)
            stops.append(len(batch))
            base_m.append(baseline.length_m)
            route_m.append(route.length_m)
        print(
            f"{size:>5}  {statistics.mean(stops):>5.1f}  {statistics.mean(base_m):>10.1f}  "
            f"{statistics.mean(route_m):>8.1f}  {statistics.mean(savings):>8.1f}  "
            f"({min(savings):.1f}..{max(savings):.1f})  {statistics.mean(times):>8.2f}  "
            f"{'yes' if never_longer else 'NO'}"
        )


if __name__ == "__main__":
    main()
