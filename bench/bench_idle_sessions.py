"""CPU and memory that open, idle browser sessions cost one Streamlit server, page by page.

Starts a real ``streamlit run app.py`` on a copy of a demo database, logs in once per role in
headless chromium (Debian's /usr/bin/chromium), then for each page opens ``--sessions`` browser
sessions on it (each its own context carrying that role's login cookie, as a returning user),
leaves them idle for ``--idle`` seconds and reads the server process's CPU time and resident
memory from /proc. First the server is measured idle with no session open (the baseline).

Per page it prints the server's CPU-seconds per second per open session (above the baseline;
target <= 0.02) and the memory the sessions added, then how many idle sessions one server holds
on this machine at those rates. Live pages redraw themselves (``refresh_seconds``), so what an
idle session costs is mostly its fragments' reruns.

    .venv/bin/python -m bench.bench_idle_sessions --database /work/bench/larder_bench_default.db
    .venv/bin/python -m bench.bench_idle_sessions --database DB --pages stock_control --sessions 10
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.bench_pages import ROLE_USERS, page_list  # noqa: E402

TARGET_CPU_PER_SESSION = 0.02  # CPU-seconds per second per open idle session
SESSIONS = 5
IDLE_S = 30.0
OPEN_TIMEOUT_MS = 180_000
LOGIN_COOKIE = "larder_auth"  # ui.login.COOKIE_NAME
COOKIE_WAIT_S = 30
# What one server may use when estimating how many sessions it holds: most of one core (a
# Streamlit server runs its scripts in one Python process, so one core is its ceiling) and
# the memory available now, less a margin for the page runs themselves.
CORE_SHARE = 0.8
MEMORY_SHARE = 0.5
MIN_MEASURABLE_MEMORY = 2**20  # bytes per session; less is within the resident size's noise
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE


def available_memory() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no MemAvailable in /proc/meminfo")


def measure_idle(pid: int, seconds: float) -> float:
    """CPU-seconds per second the process used over ``seconds`` of wall time."""
    cpu0, wall0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - cpu0) / (time.monotonic() - wall0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database", type=Path, default=Path("/work/bench/larder_bench_default.db")
    )
    parser.add_argument("--pages", nargs="+", default=None, help="page names (default: all)")
    parser.add_argument("--sessions", type=int, default=SESSIONS, help="open sessions per page")
    parser.add_argument("--idle", type=float, default=IDLE_S, help="seconds measured idle")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from tests.browser.harness import (
        StreamlitServer,
        launch_chromium,
        login,
        new_page,
        open_app,
        wait_for_settled,
    )

    pages = page_list(args.pages)
    with tempfile.TemporaryDirectory(prefix="larder_bench_idle_") as folder:
        database = Path(folder) / "larder.db"
        shutil.copyfile(args.database, database)  # the server may write (settings, seeding)
        server = StreamlitServer(database=database, log_path=Path(folder) / "streamlit.log")
        server.start()
        pid = server.process.pid
        rows = []
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                # One login per role; its cookie opens every session of that role.
                cookies: dict[str, dict] = {}
                for _name, _script, role in pages:
                    user = ROLE_USERS[role]
                    if user in cookies:
                        continue
                    page = new_page(browser)
                    open_app(page, server.url)
                    login(page, user, f"{user}-demo")
                    # The login cookie is written by a component after the form is gone.
                    deadline = time.monotonic() + COOKIE_WAIT_S
                    while time.monotonic() < deadline and not any(
                        c["name"] == LOGIN_COOKIE for c in page.context.cookies()
                    ):
                        time.sleep(0.2)
                    cookies[user] = page.context.storage_state()
                    page.context.close()
                time.sleep(2)
                baseline = measure_idle(pid, args.idle)
                baseline_rss = rss_bytes(pid)
                print(
                    f"server idle, no session open: {baseline:.4f} CPU-s/s, "
                    f"RSS {baseline_rss / 2**20:.0f} MiB",
                    flush=True,
                )
                for name, _script, role in pages:
                    user = ROLE_USERS[role]
                    url = f"{server.url}/{name}" if name != "home" else server.url
                    # One visit first, so the page's shared caches are not counted per session.
                    warmup = browser.new_context(storage_state=cookies[user])
                    warmup.set_default_timeout(OPEN_TIMEOUT_MS)
                    page = warmup.new_page()
                    page.goto(url)
                    wait_for_settled(page, timeout_ms=OPEN_TIMEOUT_MS)
                    warmup.close()
                    time.sleep(2)
                    rss0 = rss_bytes(pid)
                    opened, started = [], time.monotonic()
                    for _ in range(args.sessions):
                        context = browser.new_context(
                            storage_state=cookies[user], viewport={"width": 1440, "height": 900}
                        )
                        context.set_default_timeout(OPEN_TIMEOUT_MS)
                        page = context.new_page()
                        page.goto(url)
                        opened.append(page)
                    for page in opened:
                        wait_for_settled(page, timeout_ms=OPEN_TIMEOUT_MS)
                    # The login form's button, not a password box: Admin's new-user form has one.
                    logged_out = sum(
                        page.get_by_role("button", name="Login", exact=True).count() > 0
                        for page in opened
                    )
                    elsewhere = sum(
                        name != "home" and urlsplit(page.url).path.strip("/") != name
                        for page in opened
                    )
                    open_s = time.monotonic() - started
                    time.sleep(2)  # let the last runs finish before measuring
                    cpu = measure_idle(pid, args.idle)
                    rss1 = rss_bytes(pid)
                    per_session = (cpu - baseline) / args.sessions
                    rows.append(
                        {
                            "page": name,
                            "user": user,
                            "cpu": cpu,
                            "per_session": per_session,
                            "mem_per_session": (rss1 - rss0) / args.sessions,
                            "open_s": open_s,
                            "logged_out": logged_out,
                            "elsewhere": elsewhere,
                        }
                    )
                    print(
                        f"  {name:15} {cpu:.4f} CPU-s/s with {args.sessions} sessions",
                        file=sys.stderr,
                        flush=True,
                    )
                    for page in opened:
                        page.context.close()
                    time.sleep(3)  # the server drops the closed sessions
                browser.close()
        finally:
            server.stop()
    report(args, baseline, baseline_rss, rows)


def report(args, baseline: float, baseline_rss: int, rows: list[dict]) -> None:
    print(
        f"\n{args.sessions} idle sessions per page for {args.idle:.0f} s each on a copy of "
        f"{args.database.name}; baseline (server, no session) {baseline:.4f} CPU-s/s, "
        f"RSS {baseline_rss / 2**20:.0f} MiB"
    )
    head = (
        f"{'page':15} {'user':9} {'server CPU-s/s':>14} {'per session':>11} {'target':>6} "
        f"{'MiB/session':>11} {'open s':>6}  notes"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        verdict = "pass" if r["per_session"] <= TARGET_CPU_PER_SESSION else "FAIL"
        notes = f"{r['logged_out']} session(s) showed the login form; " if r["logged_out"] else ""
        notes += f"{r['elsewhere']} session(s) on another page" if r["elsewhere"] else ""
        print(
            f"{r['page']:15} {r['user']:9} {r['cpu']:14.4f} {r['per_session']:11.4f} "
            f"{verdict:>6} {r['mem_per_session'] / 2**20:11.1f} {r['open_s']:6.1f}  {notes}"
        )
    if not rows:
        return
    cpu = max(statistics.mean(r["per_session"] for r in rows), 1e-4)
    worst_cpu = max(max(r["per_session"] for r in rows), 1e-4)
    memory = statistics.mean(r["mem_per_session"] for r in rows)
    free = available_memory()
    by_cpu = CORE_SHARE / cpu
    by_cpu_worst = CORE_SHARE / worst_cpu
    print(
        f"\nper idle session, mean over pages: {cpu:.4f} CPU-s/s (worst page {worst_cpu:.4f}), "
        f"{memory / 2**20:.1f} MiB"
    )
    cpu_part = (
        f"CPU: {CORE_SHARE:.0%} of one core / {cpu:.4f} = {by_cpu:.0f}, all on the worst page "
        f"{by_cpu_worst:.0f}"
    )
    if memory < MIN_MEASURABLE_MEMORY:
        # Sessions that added less than the resident size's own noise set no memory limit.
        print(
            f"one server holds about {by_cpu:.0f} idle sessions on this machine ({cpu_part}; "
            f"the memory the sessions added, {memory / 2**20:.1f} MiB each, is within the noise "
            f"of the resident size, so it sets no limit here)"
        )
        return
    by_memory = MEMORY_SHARE * free / memory
    print(
        f"one server holds about {min(by_cpu, by_memory):.0f} idle sessions on this machine "
        f"({cpu_part}; memory: {MEMORY_SHARE:.0%} of {free / 2**30:.1f} GiB available / "
        f"{memory / 2**20:.1f} MiB = {by_memory:.0f})"
    )


if __name__ == "__main__":
    main()
