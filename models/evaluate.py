"""How good Larder's estimates are on a database: demand vs seasonal naive, and delivery dates.

    python -m models.evaluate --database sqlite:///path/to/demo.db [--holdout-weeks 8]

Demand: weekly unconstrained demand; the last ``holdout`` weeks are held out and forecast from
rolling origins inside them (each origin sees only the weeks before it), plus one forecast of
the whole holdout from its start. Target: the model's RMSSE and pinball losses at least 10 %
below seasonal naive's. Dates: delivery promises replayed at each backorder's creation over the
last 120 days (see :mod:`models.promise_backtest`). Target: P90 covers at least 85 %.
"""

from __future__ import annotations

import argparse
import json
import sys

from sqlalchemy import Engine

from data.db import make_engine
from models.backtest import backtest_demand, render
from models.demand import to_panel
from models.history import demand_history
from models.promise_backtest import delivery_backtest
from models.threads import add_threads_option, limited_threads

DEMAND_TARGET = 0.10
COVERAGE_TARGET = 0.85


def evaluate_demand(engine: Engine, holdout: int = 8, horizon: int = 4) -> dict:
    """Rolling-origin and single-origin results over the last ``holdout`` weeks."""
    history, categories = demand_history(engine, "W")
    panel = to_panel(history, "W")
    rolling = backtest_demand(
        panel, horizon, origins=holdout - horizon + 1, step=1, categories=categories
    )
    whole = backtest_demand(panel, holdout, origins=1, categories=categories)
    return {"rolling": rolling, "whole_holdout": whole}


def _verdict(improvement: dict) -> bool:
    keys = [k for k in improvement if k == "rmsse" or k.startswith("pinball")]
    return bool(keys) and all(improvement[k] >= DEMAND_TARGET for k in keys)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.evaluate", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--database", help="database URL (default: DATABASE_URL or the SQLite file)"
    )
    parser.add_argument("--holdout-weeks", type=int, default=8)
    parser.add_argument("--horizon", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    add_threads_option(parser)
    args = parser.parse_args(argv)
    engine = make_engine(args.database) if args.database else make_engine()
    with limited_threads(args.threads):
        demand = evaluate_demand(engine, args.holdout_weeks, args.horizon)
        dates = delivery_backtest(engine)
    if args.json:
        print(json.dumps({"demand": demand, "dates": dates}, indent=2, default=str))
        return 0
    for name, result in demand.items():
        print(f"== demand, {name.replace('_', ' ')} ==")
        print(render("demand", result))
        ok = _verdict(result["improvement_vs_seasonal_naive"])
        print(
            f"target: RMSSE and pinball >= {DEMAND_TARGET:.0%} better than seasonal naive: {'MET' if ok else 'NOT MET'}\n"
        )
    print("== delivery dates, replayed at each backorder's creation ==")
    for key, value in dates.items():
        print(f"{key:28s} {value:.3f}" if isinstance(value, float) else f"{key:28s} {value}")
    coverage = dates.get("delivery_late_coverage")
    if coverage is not None:
        print(
            f"target: P90 covers >= {COVERAGE_TARGET:.0%}: {'MET' if coverage >= COVERAGE_TARGET else 'NOT MET'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
