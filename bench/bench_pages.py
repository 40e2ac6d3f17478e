"""Time every page under AppTest against a one-line page: cold, warm, after a write, under load.

For each page of ``ui.navigation.PAGES`` (and a trivial page that writes one line, the floor),
run as a demo user of a role the page is for, in a fresh Python process:

- **cold**: the first run in that process (nothing cached, engine not built yet; only the
  modules app.py has imported are loaded beforehand, their import time shown apart);
- **warm**: runs after it with nothing changed (st.cache_data filled);
- **after a write**: before each run another process places one order through
  ``operations.place_order`` on its own connection, as shoppers do all day, so every cache
  keyed by the data version misses as it would on the live system (each run starts just over
  ``ui.db.VERSIONS_FRESH_S`` after the order, so it cannot reuse the versions read before it);
- **while orders flow**: another process places orders without pause (``--flow-rate`` per
  second) during the measured runs, which are spaced as after a write;
- **cold while orders flow**: the first run of another fresh process, with the orders already
  flowing when it starts.

Each figure is the median over ``--repeats`` processes (cold) or over every measured run
(the others). The page - floor differences are printed with pass/fail against the targets:
warm <= floor + 50 ms, after a write <= floor + 250 ms, cold <= floor + 250 ms, whether orders
flow or not. A run while orders flow follows new orders, so it is held to the after-a-write
target; the pages that read history (``HISTORY_PAGES``) are held to the warm one, since their
summaries are meant to carry them through a stream of orders.

Orders are written into a temporary copy of the demo database (one per scale, deleted at the
end); the timed runs only ever read the generated databases under ``--data-dir``.

    .venv/bin/python -m bench.bench_pages --scales default --data-dir /work/bench
    .venv/bin/python -m bench.bench_pages --scales large --data-dir /work/bench --pages shop

A demo database is generated under ``--data-dir`` on first use and trained (``models.train
--threads 1``); one generated before training was part of it is trained on the next run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

FLOOR = "floor"  # the one-line page's name in the tables
FLOOR_SCRIPT = 'import streamlit as st\n\nst.write("ready")\n'
# The demo user for each role (README's demo users); a page runs as a user of its first role.
ROLE_USERS = {
    "warehouse_manager": "manager",
    "warehouse_operator": "operator",
    "customer": "customer1",
    "purchasing_manager": "buyer",
    "logistics_manager": "logistics",
    "sales_rep": "sales1",
    "customer_service": "service",
    "admin": "admin",
    "owner": "owner",
    "finance_manager": "finance",
    "marketing_manager": "marketing",
}
# Pages open to every role are timed for the warehouse manager (a busy, typical user).
ALL_ROLES_USER = ("warehouse_manager", "manager")
RUNS = 3
REPEATS = 3
FLOW_RATE = 5.0  # orders per second while orders flow
FLOW_SETTLE_S = 0.5  # let the flow start before the first measured run
APPTEST_TIMEOUT_S = 300
PHASES = ("cold", "warm", "after_write", "flowing", "cold_flowing")
# Seconds above the floor, per phase; a page of HISTORY_PAGES keeps the warm target while
# orders flow.
TARGETS = {
    "cold": 0.250,
    "warm": 0.050,
    "after_write": 0.250,
    "flowing": 0.250,
    "cold_flowing": 0.250,
}
HISTORY_PAGES = {"overview", "backorder_cost", "loyalty_impact"}
# Modules a server has loaded before any page runs (app.py's imports); importing them first
# keeps their one-off import time out of the page's cold run, and reports it on its own.
PRELOADED_MODULES = (
    "pandas",
    "altair",
    "sqlalchemy",
    "streamlit_authenticator",
    "data.db",
    "data.schema",
    "operations",
    "queries",
    "ui.auth",
    "ui.components",
    "ui.db",
    "ui.inbox",
    "ui.login",
    "ui.navigation",
    "ui.theme",
)


# --------------------------------------------------------------------------- databases


def demo_database(scale: str, data_dir: Path) -> Path:
    """The demo database for ``scale`` under ``data_dir``, generated and trained on first use.

    Trained as a server's first start trains it (``models.train``), so the pages that read
    models (promises, risk, lead times, forecasts) are timed on their models, not on the
    fallbacks they use before any training.
    """
    path = data_dir / f"larder_bench_{scale}.db"
    done = path.with_suffix(".done")
    trained = path.with_suffix(".trained")
    if not (path.exists() and done.exists()):
        for stale in (path, path.with_suffix(".db-wal"), path.with_suffix(".db-shm"), trained):
            stale.unlink(missing_ok=True)
        from data.db import make_engine
        from data.demo import generate
        from data.migrate import upgrade

        started = time.perf_counter()
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        generate(engine, scale=scale)
        engine.dispose()
        done.write_text(f"{time.perf_counter() - started:.1f}\n")
        print(f"generated {scale} demo data in {path} ({done.read_text().strip()} s)", flush=True)
    if not trained.exists():
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "models.train", "--database", f"sqlite:///{path}"]
            + ["--threads", "1"],
            cwd=REPO_ROOT,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            check=True,
            stdout=subprocess.DEVNULL,
        )
        checkpoint(path)
        trained.write_text(f"{time.perf_counter() - started:.1f}\n")
        print(
            f"trained {scale} demo models in {path} ({trained.read_text().strip()} s)", flush=True
        )
    return path


def checkpoint(path: Path) -> None:
    """Move the write-ahead log into the database file, so a copy of the file alone is whole."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def working_copy(source: Path, folder: Path) -> Path:
    """A copy of ``source`` to write orders into (the generated database is never written)."""
    target = folder / source.name
    # A checkpointed database is whole in its .db file; a WAL left beside it would be needed.
    for suffix in ("", "-wal"):
        src = Path(str(source) + suffix)
        if src.exists() and src.stat().st_size > 0:
            shutil.copyfile(src, Path(str(target) + suffix))
    return target


# --------------------------------------------------------------------------- pages


def page_list(names: list[str] | None) -> list[tuple[str, str, str]]:
    """(name, script path, role) for the pages asked for, from ui.navigation.PAGES."""
    from ui.auth import PAGE_ROLES, ROLES
    from ui.navigation import PAGES, page_exists

    chosen = []
    for spec in PAGES:
        name = Path(spec.path).stem
        if names and name not in names or not page_exists(spec):
            continue
        roles = PAGE_ROLES.get(spec.path, ())
        if set(roles) >= set(ROLES):
            role = ALL_ROLES_USER[0]
        else:
            role = next((r for r in roles if r in ROLE_USERS), "owner")
        chosen.append((name, str(REPO_ROOT / spec.path), role))
    unknown = set(names or ()) - {name for name, _, _ in chosen}
    if unknown:
        raise SystemExit(f"no such page in ui.navigation.PAGES: {', '.join(sorted(unknown))}")
    return chosen


# --------------------------------------------------------------------------- the writer


def writer() -> None:
    """Place orders on DATABASE_URL as told on stdin: ``one`` (answers ``ok``), ``flow R``, ``stop``.

    Runs as its own process with its own engine, as another app server or a shopper would.
    """
    from sqlalchemy import select

    from data.db import database_url, make_engine, read_connection
    from data.schema import Customer, Product
    from operations import place_order

    engine = make_engine(database_url())
    with read_connection(engine) as conn:
        customers = list(conn.execute(select(Customer.id)).scalars())
        skus = list(conn.execute(select(Product.sku)).scalars())
    rng = random.Random(7)
    placed = failed = 0

    def one() -> None:
        nonlocal placed, failed
        lines = [(sku, rng.randint(1, 3)) for sku in rng.sample(skus, rng.randint(1, 3))]
        try:
            place_order(engine, customer_id=rng.choice(customers), lines=lines, actor="bench")
            placed += 1
        except Exception:  # a refused order (say a discontinued product) still counts as tried
            failed += 1

    stop = threading.Event()
    flow: threading.Thread | None = None

    def flowing(rate: float) -> None:
        gap = 1.0 / rate
        while not stop.is_set():
            started = time.perf_counter()
            one()
            stop.wait(max(0.0, gap - (time.perf_counter() - started)))

    print("ready", flush=True)
    for line in sys.stdin:
        command = line.split()
        if not command:
            continue
        if command[0] == "one":
            one()
            print("ok", flush=True)
        elif command[0] == "flow":
            stop.clear()
            flow = threading.Thread(target=flowing, args=(float(command[1]),), daemon=True)
            flow.start()
            print("ok", flush=True)
        elif command[0] == "stop":
            stop.set()
            if flow is not None:
                flow.join()
            print(json.dumps({"placed": placed, "failed": failed}), flush=True)
    engine.dispose()


class Writer:
    """The writer process, driven from the child that times a page."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--writer"],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._expect("ready")

    def _expect(self, word: str) -> str:
        answer = self.process.stdout.readline().strip()
        if word and answer != word:
            raise RuntimeError(f"order writer answered {answer!r}, not {word!r}")
        return answer

    def tell(self, command: str, answer: str = "ok") -> str:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._expect(answer)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


# --------------------------------------------------------------------------- one process


def preload_app_modules() -> None:
    """Import what a running server has imported already (app.py and the shared UI)."""
    import importlib

    for name in PRELOADED_MODULES:
        importlib.import_module(name)


def targets_for(name: str) -> dict[str, float]:
    """The targets page ``name`` is judged by (seconds above the floor, per phase)."""
    if name in HISTORY_PAGES:
        return {**TARGETS, "flowing": TARGETS["warm"]}
    return TARGETS


def child(script: str, username: str, runs: int, flow_rate: float, flow_first: bool) -> None:
    """Time one page in this (fresh) process and print the result as one JSON line.

    With ``flow_first`` the orders start flowing before the first run, and only that cold run
    is timed.
    """
    from streamlit.testing.v1 import AppTest

    import_started = time.perf_counter()
    preload_app_modules()
    imports = time.perf_counter() - import_started
    order_writer = Writer()
    at = AppTest.from_file(script, default_timeout=APPTEST_TIMEOUT_S)
    # The session as streamlit-authenticator leaves it after a password check.
    at.session_state["authentication_status"] = True
    at.session_state["username"] = username
    at.session_state["name"] = username

    def timed() -> float:
        started = time.perf_counter()
        at.run()
        return time.perf_counter() - started

    if flow_first:
        order_writer.tell(f"flow {flow_rate}")
        time.sleep(FLOW_SETTLE_S)
        cold = timed()
        orders = json.loads(order_writer.tell("stop", answer=""))
        order_writer.close()
        problems = [str(e.value)[:120] for e in at.exception]
        print(json.dumps({"cold_flowing": [cold], "orders": orders, "problems": problems}))
        return
    cold = timed()
    # A refusal or a crash would be fast for the wrong reason: report it next to the time.
    problems = [e.value for e in at.exception] + [e.value for e in at.error]
    problems += [w.value for w in at.warning if "log in" in str(w.value)]
    tables = len(at.dataframe)
    warm = [timed() for _ in range(runs)]
    after_write = []
    from ui.db import VERSIONS_FRESH_S  # loaded by the page's run by now

    for _ in range(runs):
        order_writer.tell("one")
        # A run within VERSIONS_FRESH_S of the last one reuses the versions it read, so it could
        # miss the order; a user's next run comes later than that.
        time.sleep(VERSIONS_FRESH_S + 0.05)
        after_write.append(timed())
    order_writer.tell(f"flow {flow_rate}")
    time.sleep(FLOW_SETTLE_S)
    flowing = []
    for _ in range(runs):
        time.sleep(VERSIONS_FRESH_S + 0.05)  # as after a write: each run reads fresh versions
        flowing.append(timed())
    orders = json.loads(order_writer.tell("stop", answer=""))
    order_writer.close()
    print(
        json.dumps(
            {
                "imports": imports,
                "cold": [cold],
                "warm": warm,
                "after_write": after_write,
                "flowing": flowing,
                "orders": orders,
                "problems": [str(p)[:120] for p in problems],
                "tables": tables,
            }
        )
    )


def time_in_child(
    script: str, username: str, database: Path, runs: int, flow_rate: float, flow_first: bool
) -> dict:
    """Run ``--child`` in a fresh interpreter and return its timings."""
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{database}", PYTHONPATH=str(REPO_ROOT))
    env.setdefault("OMP_NUM_THREADS", "1")
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            script,
            username,
            str(runs),
            str(flow_rate),
            "flow-first" if flow_first else "quiet",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        return {"error": (out.stderr or out.stdout).strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def merged(results: list[dict]) -> dict:
    """The repeats of one page as one row: medians, problems and order counts together."""
    good = [r for r in results if "error" not in r]
    full = [r for r in good if "warm" in r]  # the processes that timed every phase but one
    if not full:
        return results[0] if not good else {"error": ["every full timing failed"]}
    row = {}
    for phase in PHASES:
        times = [t for r in good for t in r.get(phase, ())]
        row[phase] = statistics.median(times) if times else float("nan")
    row["imports"] = statistics.median(r["imports"] for r in full)
    row["tables"] = full[0]["tables"]
    row["problems"] = sorted({p for r in good for p in r["problems"]})
    row["orders"] = sum(r["orders"]["placed"] for r in good)
    row["refused"] = sum(r["orders"]["failed"] for r in good)
    row["samples"] = len(good)
    if len(good) < len(results):
        row["problems"].append(f"{len(results) - len(good)} repeat(s) failed")
    return row


# --------------------------------------------------------------------------- report


def report(scale: str, rows: list[tuple[str, str, str, dict]]) -> None:
    floor = next((r for name, _, _, r in rows if name == FLOOR and "error" not in r), None)
    print(f"\n{scale} demo: seconds, medians (cold: of fresh processes; others: of every run)")
    head = (
        f"{'page':15} {'role':18} {'user':9} {'imports':>7} {'cold':>6} {'warm':>6} "
        f"{'write':>6} {'flow':>6} {'cflow':>6} | {'Δcold':>6} {'Δwarm':>6} {'Δwrite':>6} "
        f"{'Δflow':>6} {'Δcflow':>6} | {'cold':4} {'warm':4} {'write':5} {'flow':4} {'cflow':5} "
        f"{'tbl':>3}  notes"
    )
    print(head)
    print("-" * len(head))
    for name, role, user, r in rows:
        if "error" in r:
            print(f"{name:15} {role:18} {user:9} FAILED: {r['error']}")
            continue
        line = (
            f"{name:15} {role:18} {user:9} {r['imports']:7.2f} {r['cold']:6.3f} "
            f"{r['warm']:6.3f} {r['after_write']:6.3f} {r['flowing']:6.3f} "
            f"{r['cold_flowing']:6.3f} | "
        )
        if floor is None or name == FLOOR:
            line += f"{'':>6} {'':>6} {'':>6} {'':>6} {'':>6} | {'':4} {'':4} {'':5} {'':4} {'':5} "
        else:
            delta = {phase: r[phase] - floor[phase] for phase in PHASES}
            verdict = {
                phase: "pass" if delta[phase] <= target else "FAIL"
                for phase, target in targets_for(name).items()
            }
            line += (
                f"{delta['cold']:6.3f} {delta['warm']:6.3f} {delta['after_write']:6.3f} "
                f"{delta['flowing']:6.3f} {delta['cold_flowing']:6.3f} | {verdict['cold']:4} "
                f"{verdict['warm']:4} {verdict['after_write']:5} {verdict['flowing']:4} "
                f"{verdict['cold_flowing']:5} "
            )
        notes = "; ".join(r["problems"])
        extra = f"{r['orders']} orders placed" + (
            f", {r['refused']} refused" if r["refused"] else ""
        )
        print(line + f"{r['tables']:3d}  {extra}{'; ' + notes if notes else ''}")
    print(
        "targets above the floor: cold <= 0.250 s, warm <= 0.050 s, after a write <= 0.250 s; "
        "while orders flow (flow: a run after new orders; cflow: a cold run) the same, a run "
        f"held as after a write, or as warm for the pages of history ({', '.join(sorted(HISTORY_PAGES))})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", nargs="+", default=["tiny", "default"])
    parser.add_argument("--pages", nargs="+", default=None, help="page names (default: all)")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp"))
    parser.add_argument("--runs", type=int, default=RUNS, help="measured runs per phase")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="fresh processes per page")
    parser.add_argument("--flow-rate", type=float, default=FLOW_RATE, help="orders/s when flowing")
    args = parser.parse_args()
    pages = page_list(args.pages)

    for scale in args.scales:
        source = demo_database(scale, args.data_dir)
        with tempfile.TemporaryDirectory(prefix="larder_bench_pages_") as folder:
            database = working_copy(source, Path(folder))
            floor_script = Path(folder) / "floor_page.py"
            floor_script.write_text(FLOOR_SCRIPT)
            targets = [(FLOOR, str(floor_script), ALL_ROLES_USER[0])] + pages
            rows = []
            for name, script, role in targets:
                user = ROLE_USERS[role]
                results = [
                    time_in_child(script, user, database, args.runs, args.flow_rate, flow_first)
                    for _ in range(args.repeats)
                    for flow_first in (False, True)
                ]
                row = merged(results)
                rows.append((name, role, user, row))
                figures = " ".join(f"{phase} {row[phase]:.3f}" for phase in PHASES if phase in row)
                print(f"  {scale:8} {name:16} done  {figures}", file=sys.stderr, flush=True)
            report(scale, rows)


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--child":
        child(
            sys.argv[2],
            sys.argv[3],
            int(sys.argv[4]),
            float(sys.argv[5]),
            sys.argv[6] == "flow-first",
        )
    elif len(sys.argv) == 2 and sys.argv[1] == "--writer":
        writer()
    else:
        main()
