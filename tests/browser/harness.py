"""Machinery shared by the browser tests and the screenshot command.

A real ``streamlit run app.py`` server on a free loopback port, a seeded SQLite file behind it,
Debian's chromium driven by Playwright, and helpers that wait for the app to finish a run
instead of sleeping. Nothing here is a test; ``conftest.py`` turns it into fixtures.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_PATH = Path("/usr/bin/chromium")
# Flags from STACK_NOTES: no sandbox in containers, no calls home, no QUIC.
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
SERVER_START_TIMEOUT_S = 60
# A page run on the 2-core CI machine takes a second or two; a login a few more.
APP_RUN_TIMEOUT_MS = 30_000

CHOOSE_ATTEMPTS = 3
CHOOSE_TIMEOUT_MS = 5_000

# The stApp element carries the script and connection state as attributes (checked on 1.67).
# Counts the messages the server sends and notes when the app last changed (a message, or its
# run state), so an action can wait for the server's answer to it, and a page load can wait until
# the app settles (the login cookie component loads in an iframe and then reruns the script once
# or twice, resetting what was typed meanwhile). The run state alone misses short runs: a busy
# browser may draw a run's start and end in one go, and the state never shows "running". Every
# run reaches the browser as messages on its websocket.
APP_WATCH_SCRIPT = """
window.__larderMessages = 0;
window.__larderLastChange = performance.now();
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener('message', () => {
      window.__larderMessages += 1;
      window.__larderLastChange = performance.now();
    });
  }
};
new MutationObserver((changes) => {
  for (const c of changes) {
    if (c.target.getAttribute && c.target.getAttribute('data-testid') === 'stApp') {
      window.__larderLastChange = performance.now();
    }
  }
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-test-script-state']});
"""
SETTLED_SCRIPT = """
(quietMs) => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app && app.getAttribute('data-test-connection-state') === 'CONNECTED'
    && app.getAttribute('data-test-script-state') === 'notRunning'
    && performance.now() - (window.__larderLastChange || 0) > quietMs;
}
"""
# How long the app must stay idle to count as settled after a page load.
SETTLE_QUIET_MS = 750


def chromium_problem() -> str | None:
    """None when Debian's chromium is installed, else why the browser tests cannot run."""
    if CHROMIUM_PATH.exists():
        return None
    return (
        f"{CHROMIUM_PATH} is missing: install Debian's chromium "
        "(`bash scripts/setup.sh test` does it with apt-get); Playwright's own download is not "
        "reachable here"
    )


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require_chromium() -> None:
    """Skip with the reason when chromium is missing; in CI (``CI=true``) fail instead."""
    import pytest

    problem = chromium_problem()
    if problem is None:
        return
    if in_ci():
        pytest.fail(f"CI=true and {problem}", pytrace=False)
    pytest.skip(problem)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def seed_demo_database(path: Path) -> Path:
    """Create ``path`` as a migrated SQLite database with the tiny demo data.

    The same builder as the AppTest fixtures, so the browser tests see the same world.
    """
    from tests.apptest_support import build_seeded_file

    return build_seeded_file(path)


def copy_database(template: Path, target: Path) -> Path:
    shutil.copyfile(template, target)
    return target


def server_env(database: Path | str) -> dict[str, str]:
    """Environment for a test server: its own database and a fresh random cookie key.

    ``database`` is a SQLite file, or a database URL (PostgreSQL) given as a string.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    env.update(
        DATABASE_URL=database if isinstance(database, str) else sqlite_url(database),
        LARDER_COOKIE_KEY=secrets.token_hex(32),
        # streamlit-authenticator sleeps 0.7 s per logged-out run unless told otherwise.
        LARDER_LOGIN_SLEEP="0",
        PYTHONUNBUFFERED="1",
    )
    return env


@dataclass
class StreamlitServer:
    """A ``streamlit run app.py`` process in its own process group."""

    database: Path | str  # a SQLite file, or a database URL
    log_path: Path
    script: str = "app.py"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    # Changes to the environment: a value of None removes the variable.
    env_changes: dict[str, str | None] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> StreamlitServer:
        command = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            self.script,
            "--server.headless",
            "true",
            "--server.port",
            str(self.port),
            "--server.address",
            "127.0.0.1",
            "--server.fileWatcherType",
            "none",
            "--browser.gatherUsageStats",
            "false",
        ]
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() ends every child too
        )
        log.close()
        self._wait_healthy()
        return self

    def _env(self) -> dict[str, str]:
        env = server_env(self.database)
        for name, value in self.env_changes.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return env

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"streamlit exited with code {self.process.returncode}:\n{self.log()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as resp:
                    if resp.read().decode().strip() == "ok":
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"streamlit did not answer ok on {self.url}/_stcore/health within "
            f"{SERVER_START_TIMEOUT_S} s:\n{self.log()}"
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's chromium; also lengthens expect()'s 5 s default to one app run's budget."""
    expect.set_options(timeout=APP_RUN_TIMEOUT_MS)
    return playwright.chromium.launch(executable_path=str(CHROMIUM_PATH), args=CHROMIUM_ARGS)


def new_page(browser: Browser) -> Page:
    """A page in its own context (own cookies), sized like the screenshots, watching the server's messages."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(APP_RUN_TIMEOUT_MS)
    context.add_init_script(APP_WATCH_SCRIPT)
    return context.new_page()


def wait_for_settled(page: Page, timeout_ms: int = APP_RUN_TIMEOUT_MS) -> None:
    """Wait until the app is idle and has stayed idle for ``SETTLE_QUIET_MS``."""
    page.wait_for_function(SETTLED_SCRIPT, arg=SETTLE_QUIET_MS, timeout=timeout_ms, polling=100)


def messages_received(page: Page) -> int:
    """Messages the server has sent this page over its websocket."""
    return page.evaluate("window.__larderMessages || 0")


def wait_for_answer(page: Page, before: int, timeout_ms: int = APP_RUN_TIMEOUT_MS) -> None:
    """Wait until the server has answered since ``before`` messages, and the app has settled.

    An action that starts a run is answered with that run's messages; settling then waits until
    the run is over and nothing has changed for ``SETTLE_QUIET_MS``.
    """
    page.wait_for_function(
        "(n) => (window.__larderMessages || 0) > n", arg=before, timeout=timeout_ms
    )
    wait_for_settled(page, timeout_ms)


def open_app(page: Page, base_url: str, path: str = "/") -> None:
    page.goto(base_url.rstrip("/") + path)
    wait_for_settled(page)


def password_box(page: Page):
    # get_by_label("Password") also matches the show-password button (STACK_NOTES).
    return page.get_by_role("textbox", name="Password")


def login(page: Page, username: str, password: str) -> None:
    """Fill the login form, submit it and wait until the form is gone."""
    expect(password_box(page)).to_be_visible()
    wait_for_settled(page)
    page.get_by_role("textbox", name="Username").fill(username)
    password_box(page).fill(password)
    before = messages_received(page)
    page.get_by_role("button", name="Login", exact=True).click()
    wait_for_answer(page, before)
    expect(password_box(page)).to_have_count(0)
    wait_for_settled(page)


def path_of(page: Page) -> str:
    return urllib.parse.urlsplit(page.url).path


def act(page: Page, action) -> None:
    """Do ``action`` (a click, an Enter), wait for the server's answer, then for the app to settle.

    Settling matters: a page that calls ``st.rerun()`` runs twice, and a click between the two
    runs (on a tab, say) is lost when the second run redraws the page.
    """
    before = messages_received(page)
    action()
    wait_for_answer(page, before)


def open_tab(page: Page, name: str) -> None:
    """Switch to the tab called ``name``, and let the run it may start finish.

    Plain tabs switch in the browser alone; keyed tabs (``on_change="rerun"``) start a run.
    """
    tab = page.get_by_role("tab", name=name, exact=True)
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")
    wait_for_settled(page)


def go_to(page: Page, title: str) -> None:
    """Open a page through the sidebar menu, as a user would."""
    act(page, page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click)
    wait_for_settled(page)


def choose(page: Page, key: str, option: str, *, exact: bool = True) -> None:
    """Pick ``option`` (or, with ``exact=False``, the option containing it) in a selectbox.

    A live fragment rerunning meanwhile can close the list, so opening it is retried.
    """
    box = page.locator(f".st-key-{key}").get_by_role("combobox")
    current = box.input_value()
    if current == option or (not exact and option in current):
        return  # already chosen: choosing again would start no run to wait for
    target = page.get_by_role("option", name=option, exact=exact).first
    for _attempt in range(CHOOSE_ATTEMPTS):
        box.click()
        if box.get_attribute("aria-expanded") != "true":
            box.press("ArrowDown")
        before = messages_received(page)
        try:
            target.click(timeout=CHOOSE_TIMEOUT_MS)
        except PlaywrightTimeoutError:
            page.keyboard.press("Escape")
            continue
        wait_for_answer(page, before)
        if exact:
            expect(box).to_have_value(option)
        else:
            expect(box).to_have_value(re.compile(re.escape(option)))
        return
    raise AssertionError(f"could not choose {option!r} in selectbox {key!r}")


def choose_radio(page: Page, key: str, label_start: str) -> None:
    """Select the radio option of widget ``key`` whose label starts with ``label_start``."""
    radio = page.locator(f".st-key-{key}").get_by_role(
        "radio", name=re.compile("^" + re.escape(label_start))
    )
    if radio.is_checked():
        return  # already selected: clicking starts no run
    # The input itself is hidden behind its styled label; click the label.
    act(page, page.locator(f".st-key-{key} label").filter(has=radio).click)
    expect(radio).to_be_checked()


def type_and_enter(page: Page, key: str, text: str) -> None:
    """Type into the text or number input with widget key ``key`` and commit it with Enter."""
    box = page.locator(f".st-key-{key} input")
    if box.input_value() == text:
        return  # unchanged: Enter would start no run
    box.fill(text)
    act(page, lambda: box.press("Enter"))
    expect(box).to_have_value(text)


# The dataframe grid draws on a canvas; its accessible twin (a <table>) holds the visible cells.
_TABLE_HEADERS = "el => [...el.querySelectorAll('thead th')].map(th => th.textContent)"


def dataframe_with_column(page: Page, column: str):
    """The dataframe that has a column titled ``column``."""
    header = page.locator("thead th").filter(has_text=_exact(column))
    return page.locator('[data-testid="stDataFrame"]').filter(has=header)


def table_cell(dataframe, row_text: str, column: str):
    """The cell of ``column`` in the (visible) row of ``dataframe`` that contains ``row_text``."""
    headers = dataframe.evaluate(_TABLE_HEADERS)
    index = headers.index(column)
    row = dataframe.locator("tbody tr").filter(has_text=row_text)
    return row.locator("td").nth(index)


def _exact(text: str) -> re.Pattern:
    return re.compile(rf"^{re.escape(text)}$")
