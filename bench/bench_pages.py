"""Time every page under AppTest, cold and warm, on the tiny and the default demo data.

Cold is the first run of a page in a fresh Python process: nothing cached, the engine not yet
built, only the modules a running server has already imported (app.py's) loaded beforehand
(their import time is shown apart). Warm is the median of the runs after it in the same process
(st.cache_data / st.cache_resource filled). Each page runs as the demo user whose role
it is for. The demo databases are generated once under ``--data-dir`` and reused.

    .venv/bin/python bench/bench_pages.py                 # both scales, every page
    .venv/bin/python bench/bench_pages.py --scales tiny   # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PAGES_DIR = REPO_ROOT / "pages"
# The demo user each page is timed for (a user the page is meant for, so it renders its data).
PAGE_USERS = {
    "stock_control": "manager",
    "pick_queue": "operator",
    "shop": "customer1",
    "admin": "admin",
    "home": "manager",
    "replenishment": "buyer",
    "in_transit": "logistics",
    "overview": "owner",
    "backorder_cost": "finance",
    "loyalty_impact": "marketing",
    "my_customers": "sales1",
    "customer_desk": "service",
}
DEFAULT_USER = "owner"  # the owner may open every page (except the shop's customer view)
WARM_RUNS = 3
APPTEST_TIMEOUT_S = 300
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


def demo_database(scale: str, data_dir: Path) -> Path:
    """The demo database for ``scale`` under ``data_dir``, generated on first use."""
    path = data_dir / f"larder_bench_{scale}.db"
    done = path.with_suffix(".done")
    if path.exists() and done.exists():
        return path
    for stale in (path, path.with_suffix(".db-wal"), path.with_suffix(".db-shm")):
        stale.unlink(missing_ok=True)
    sys.path.insert(0, str(REPO_ROOT))
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
    return path


def time_page_in_child(page: str, username: str, database: Path, warm_runs: int) -> dict:
    """Run ``--child`` in a fresh interpreter and return its timings."""
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{database}", PYTHONPATH=str(REPO_ROOT))
    out = subprocess.run(
        [sys.executable, __file__, "--child", page, username, str(warm_runs)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        return {"error": (out.stderr or out.stdout).strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def preload_app_modules() -> None:
    """Import what a running server has imported already (app.py and the shared UI)."""
    import importlib

    for name in PRELOADED_MODULES:
        importlib.import_module(name)


def child(page: str, username: str, warm_runs: int) -> None:
    """Time one page in this (fresh) process and print the result as one JSON line."""
    from streamlit.testing.v1 import AppTest

    import_started = time.perf_counter()
    preload_app_modules()
    imports = time.perf_counter() - import_started
    script = str(PAGES_DIR / f"{page}.py")
    at = AppTest.from_file(script, default_timeout=APPTEST_TIMEOUT_S)
    # The session as streamlit-authenticator leaves it after a password check.
    at.session_state["authentication_status"] = True
    at.session_state["username"] = username
    at.session_state["name"] = username
    started = time.perf_counter()
    at.run()
    cold = time.perf_counter() - started
    # A refusal or a crash would be fast for the wrong reason: report it next to the time.
    problems = [e.value for e in at.exception] + [e.value for e in at.error]
    problems += [w.value for w in at.warning if "log in" in str(w.value)]
    tables = len(at.dataframe)
    warm = []
    for _ in range(warm_runs):
        started = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - started)
    print(
        json.dumps(
            {
                "imports": imports,
                "cold": cold,
                "warm": statistics.median(warm) if warm else None,
                "problems": [str(p)[:120] for p in problems],
                "tables": tables,
            }
        )
    )


def page_names() -> list[str]:
    return sorted(p.stem for p in PAGES_DIR.glob("*.py") if not p.name.startswith("_"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", nargs="+", default=["tiny", "default"])
    parser.add_argument("--pages", nargs="+", default=None, help="page names (default: all)")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp"))
    parser.add_argument("--warm-runs", type=int, default=WARM_RUNS)
    args = parser.parse_args()
    pages = args.pages or page_names()

    rows = []
    for scale in args.scales:
        database = demo_database(scale, args.data_dir)
        for page in pages:
            user = PAGE_USERS.get(page, DEFAULT_USER)
            result = time_page_in_child(page, user, database, args.warm_runs)
            rows.append((scale, page, user, result))
            print(f"  {scale:8} {page:16} done", file=sys.stderr, flush=True)

    print(
        f"\n{'scale':8} {'page':16} {'user':10} {'imports s':>9} {'cold s':>8} {'warm s':>8} {'tables':>6}  notes"
    )
    for scale, page, user, result in rows:
        if "error" in result:
            print(
                f"{scale:8} {page:16} {user:10} {'-':>9} {'-':>8} {'-':>8} {'-':>6}  FAILED: {result['error']}"
            )
            continue
        notes = "; ".join(result["problems"]) or ""
        print(
            f"{scale:8} {page:16} {user:10} {result['imports']:9.2f} "
            f"{result['cold']:8.2f} {result['warm']:8.2f} "
            f"{result['tables']:6d}  {notes}"
        )


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
