"""Time the login form and the login itself in headless chromium, against a one-line page.

Two real ``streamlit run`` servers start the same way, side by side: the app (on a tiny demo
database made for the run) and a page that only writes one word. For each round a new browser
context (a new session, no cookie) measures:

- the one-line page: from opening the URL until its word is shown;
- the login form: from opening the app until the password box is shown;
- the login: from clicking Login until the Home page's heading is shown.

The first round after the servers start is "cold" (the server imports what the scripts need);
the median of the other rounds is "warm". The servers run without LARDER_LOGIN_SLEEP, as a user
would start the app.

    .venv/bin/python -m bench.bench_login --rounds 5
    .venv/bin/python -m bench.bench_login --app-root /path/to/another/checkout   # compare
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1440, "height": 900}
SERVER_START_TIMEOUT_S = 90
STEP_TIMEOUT_MS = 120_000
TRIVIAL_WORD = "ready"
TRIVIAL_PAGE = f'import streamlit as st\n\nst.write("{TRIVIAL_WORD}")\n'
USERNAME, PASSWORD = "manager", "manager-demo"
# The cookie component reruns the script once or twice after the form shows, resetting what was
# typed meanwhile; the app counts as settled once its script state stayed idle this long.
SETTLE_QUIET_MS = 2500
LOGIN_ATTEMPTS = 3
LOGIN_WAIT_MS = 45_000
WATCH_SCRIPT = """
window.__lastChange = performance.now();
new MutationObserver(() => { window.__lastChange = performance.now(); }).observe(
  document, {subtree: true, attributes: true, attributeFilter: ['data-test-script-state']});
"""
SETTLED = """
(quietMs) => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
    && performance.now() - (window.__lastChange || 0) > quietMs;
}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    script: Path
    cwd: Path
    env: dict[str, str]
    log: Path
    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self.port = _free_port()
        command = [
            sys.executable, "-m", "streamlit", "run", str(self.script),
            "--server.headless", "true", "--server.port", str(self.port),
            "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
            "--browser.gatherUsageStats", "false",
        ]  # fmt: skip
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command, cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited:\n{self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as resp:
                    if resp.read().decode().strip() == "ok":
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.script} did not start within {SERVER_START_TIMEOUT_S} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)


def _seed(path: Path, app_root: Path) -> None:
    """A migrated tiny demo database at ``path``, built by ``app_root``'s own code."""
    code = (
        "import sys; from data.db import make_engine; from data.migrate import upgrade; "
        "from data import demo; e = make_engine(sys.argv[1]); upgrade(e); "
        "demo.generate(e, scale='tiny'); e.dispose()"
    )
    subprocess.run(
        [sys.executable, "-c", code, f"sqlite:///{path}"], cwd=app_root, check=True
    )  # fmt: skip


def _env(database: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STREAMLIT_") and k not in ("LARDER_LOGIN_SLEEP", "DATABASE_URL")
    }
    env.update(
        DATABASE_URL=f"sqlite:///{database}",
        LARDER_COOKIE_KEY=secrets.token_hex(32),
        PYTHONUNBUFFERED="1",
    )
    return env


def _round(browser, app: Server, trivial: Server) -> dict[str, float]:
    from playwright.sync_api import expect

    times = {}
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(WATCH_SCRIPT)
    try:
        page = context.new_page()
        start = time.perf_counter()
        page.goto(trivial.url)
        expect(page.get_by_text(TRIVIAL_WORD, exact=True)).to_be_visible(timeout=STEP_TIMEOUT_MS)
        times["one_line_page_s"] = time.perf_counter() - start

        page = context.new_page()
        start = time.perf_counter()
        page.goto(app.url)
        password = page.get_by_role("textbox", name="Password")
        expect(password).to_be_visible(timeout=STEP_TIMEOUT_MS)
        times["login_form_s"] = time.perf_counter() - start
        # Let the cookie component's reruns pass, as a person would before typing.
        page.wait_for_function(SETTLED, arg=SETTLE_QUIET_MS, timeout=STEP_TIMEOUT_MS, polling=100)
        username = page.get_by_role("textbox", name="Username")
        heading = page.get_by_role("heading", name="Welcome", exact=False)
        times["retyped"] = 0
        for _attempt in range(LOGIN_ATTEMPTS):
            username.fill(USERNAME)
            password.fill(PASSWORD)
            expect(username).to_have_value(USERNAME)
            expect(password).to_have_value(PASSWORD)
            start = time.perf_counter()
            page.get_by_role("button", name="Login", exact=True).click()
            try:
                expect(heading).to_be_visible(timeout=LOGIN_WAIT_MS)
            except AssertionError:
                if username.count() and username.input_value() == "":
                    # The click was lost to a rerun that cleared the form: type again.
                    times["retyped"] += 1
                    page.wait_for_function(
                        SETTLED, arg=SETTLE_QUIET_MS, timeout=STEP_TIMEOUT_MS, polling=100
                    )
                    continue
                raise
            times["login_s"] = time.perf_counter() - start
            break
        else:
            raise AssertionError(f"no login after {LOGIN_ATTEMPTS} attempts")
    finally:
        context.close()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="sessions to time (first is cold)")
    parser.add_argument(
        "--app-root",
        type=Path,
        default=REPO_ROOT,
        help="checkout whose app.py is timed (default: this one)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    # Stopped with SIGTERM, still stop both servers (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    app_root = args.app_root.resolve()
    with tempfile.TemporaryDirectory(prefix="larder_bench_login_") as tmp:
        folder = Path(tmp)
        database = folder / "larder.db"
        _seed(database, app_root)
        (folder / "one_line.py").write_text(TRIVIAL_PAGE)
        env = _env(database)
        app = Server(app_root / "app.py", app_root, env, folder / "app.log")
        trivial = Server(folder / "one_line.py", folder, env, folder / "one_line.log")
        rounds = []
        try:
            app.start()
            trivial.start()
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for _ in range(args.rounds):
                    rounds.append(_round(browser, app, trivial))
                browser.close()
        finally:
            app.stop()
            trivial.stop()

    print(f"app: {app_root}; {args.rounds} sessions, headless chromium, tiny demo data")
    summary = {}
    retyped = sum(r["retyped"] for r in rounds)
    if retyped:
        print(f"  (the form was cleared under the click and typed again {retyped} time(s))")
    for name in ("one_line_page_s", "login_form_s", "login_s"):
        cold = rounds[0][name]
        warm = statistics.median(r[name] for r in rounds[1:]) if len(rounds) > 1 else None
        summary[name] = {"cold": round(cold, 2), "warm_median": warm and round(warm, 2)}
        warm_text = "—" if warm is None else f"{warm:6.2f} s"
        print(f"  {name:16} cold {cold:6.2f} s   warm (median) {warm_text}")
    if args.json:
        print(json.dumps({"app_root": str(app_root), "rounds": rounds, "summary": summary}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
