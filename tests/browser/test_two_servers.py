"""Two app servers on one PostgreSQL behind nginx, as docs/nginx/larder.conf sets them up.

nginx (Debian's package) runs as the current user with a configuration in the test's folder;
its site part is the documented file, with the ports of this run. The browsers pin themselves
to one server or the other through the sticky route cookie, and nginx's access log shows which
server each websocket went to. Nothing in the servers' environment names a cookie key: it comes
from the database, so a login cookie issued by one server is honoured by the other.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, text

from data.db import make_engine
from data.migrate import upgrade
from data.shared_key import stored_cookie_key
from tests.apptest_support import seed_tiny
from tests.browser.harness import (
    REPO_ROOT,
    StreamlitServer,
    act,
    choose,
    choose_radio,
    dataframe_with_column,
    free_port,
    login,
    messages_received,
    new_page,
    open_app,
    open_tab,
    password_box,
    table_cell,
    type_and_enter,
    wait_for_answer,
    wait_for_settled,
)
from tests.browser.test_journeys import REFRESH_SLACK_S, SHORT_BY, product_to_short, refresh_seconds
from tests.conftest import PG_URL

pytestmark = pytest.mark.postgres

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SITE_CONFIG = REPO_ROOT / "docs" / "nginx" / "larder.conf"
ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"
ROUTE_COOKIE = "larder_route"
ROUTE_PROBES = 64  # route values tried until one lands on each server
NGINX_START_TIMEOUT_S = 15
# A page's first run on a server that just started fills its caches from PostgreSQL: on a
# loaded 2-core machine that took longer than the harness's 30 s budget for one run.
FIRST_RUN_TIMEOUT_MS = 120_000
MAIN_CONFIG = """
{user}worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log info;
events {{ worker_connections 256; }}
http {{
    log_format routed '$request_uri $status $cookie_larder_route $upstream_addr';
    access_log {folder}/access.log routed;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/larder.conf;
}}
"""


def nginx_problem() -> str | None:
    if Path(NGINX).exists():
        return None
    return "nginx is missing: `bash scripts/setup.sh test` installs Debian's nginx"


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A PostgreSQL database of this module's own, migrated and seeded with the tiny demo."""
    from tests.conftest import _PG_PROBLEM

    if _PG_PROBLEM:
        pytest.skip(_PG_PROBLEM)
    problem = nginx_problem()
    if problem:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true and {problem}", pytrace=False)
        pytest.skip(problem)
    name = f"larder_two_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))  # a generated identifier, not input
    url = make_engine(PG_URL).url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    seed_tiny(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def db(pg_url) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


@dataclass
class Nginx:
    folder: Path
    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def upstream_for(self, route: str) -> str:
        request = urllib.request.Request(
            f"{self.url}/_stcore/health", headers={"Cookie": f"{ROUTE_COOKIE}={route}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.headers["X-Larder-Upstream"]

    def routes_to_stream(self) -> dict[str, set[str]]:
        """Route cookie -> the upstreams its websockets went to, from the access log."""
        seen: dict[str, set[str]] = {}
        for line in (self.folder / "access.log").read_text().splitlines():
            uri, _status, route, upstream = line.split(" ", 3)
            if uri.startswith("/_stcore/stream"):
                seen.setdefault(route, set()).add(upstream)
        return seen


def start_nginx(folder: Path, upstream_ports: list[int]) -> Nginx:
    """nginx as the current user, with the documented site config on this run's ports."""
    port = free_port()
    site = SITE_CONFIG.read_text()
    site = site.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    servers = "".join(f"    server 127.0.0.1:{p};\n" for p in upstream_ports)
    site, count = re.subn(r"(    server 127\.0\.0\.1:\d+;\n)+", servers, site)
    assert count == 1, "the upstream block of docs/nginx/larder.conf changed shape"
    # Which server answered, for the test to pin a browser to each one.
    site = site.replace(
        "        add_header Set-Cookie",
        "        add_header X-Larder-Upstream $upstream_addr always;\n        add_header Set-Cookie",
    )
    (folder / "larder.conf").write_text(site)
    # As root, the workers would otherwise drop to "nobody", who may not read this folder.
    user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
    (folder / "nginx.conf").write_text(MAIN_CONFIG.format(user=user, folder=folder))
    command = [NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e"]
    command += [str(folder / "error.log"), "-g", "daemon off;"]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
    )
    proxy = Nginx(folder, port, process)
    deadline = time.monotonic() + NGINX_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited:\n{(folder / 'error.log').read_text()[-2000:]}")
        try:
            proxy.upstream_for("probe")
            return proxy
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    stop_process(process)
    raise RuntimeError(f"nginx did not answer within {NGINX_START_TIMEOUT_S} s")


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


@pytest.fixture(scope="module")
def cluster(chromium_ready, pg_url, tmp_path_factory) -> Iterator[tuple[list, Nginx]]:
    """Two app servers on the module's database, and nginx in front of them."""
    folder = tmp_path_factory.mktemp("two_servers")
    # What every server of one site shares: Streamlit's cookie secret (it signs the XSRF
    # cookie; Streamlit asks for one value across replicas). No LARDER_COOKIE_KEY: the login
    # cookie's key is read from the database.
    shared = {"LARDER_COOKIE_KEY": None, "STREAMLIT_SERVER_COOKIE_SECRET": uuid.uuid4().hex * 2}
    servers = []
    try:
        for name in ("a", "b"):
            server = StreamlitServer(
                database=pg_url, log_path=folder / f"streamlit_{name}.log", env_changes=shared
            )
            servers.append(server.start())
        proxy = start_nginx(folder, [s.port for s in servers])
        try:
            yield servers, proxy
        finally:
            stop_process(proxy.process)
    finally:
        for server in servers:
            server.stop()


def routes(proxy: Nginx, servers: list[StreamlitServer]) -> list[str]:
    """For each server, a route cookie value nginx hashes to it."""
    found: dict[int, str] = {}
    for n in range(ROUTE_PROBES):
        route = f"r{n}"
        port = int(proxy.upstream_for(route).rsplit(":", 1)[1])
        found.setdefault(port, route)
        if len(found) == len(servers):
            break
    assert len(found) == len(servers), f"{ROUTE_PROBES} route values all hashed to {found}"
    return [found[s.port] for s in servers]


def pinned_page(browser, proxy: Nginx, route: str, state: dict | None = None) -> Page:
    """A new browser session going through nginx, pinned by its route cookie."""
    page = new_page(browser)
    if state:
        page.context.add_cookies(state["cookies"])
    page.context.add_cookies([{"name": ROUTE_COOKIE, "value": route, "url": proxy.url}])
    return page


def go_to_page(page: Page, title: str) -> None:
    """Open a page from the sidebar menu; its first run on a fresh server may be slow."""
    before = messages_received(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
    wait_for_answer(page, before, timeout_ms=FIRST_RUN_TIMEOUT_MS)


def test_an_order_through_one_server_shows_on_the_other_and_one_cookie_opens_both(
    cluster, db, browser
):
    servers, proxy = cluster
    route_a, route_b = routes(proxy, servers)
    pick = product_to_short(db)
    interval = refresh_seconds(db)
    pages: list[Page] = []
    try:
        # The warehouse manager, on server A, watches the product on the live stock page.
        manager = pinned_page(browser, proxy, route_a)
        pages.append(manager)
        open_app(manager, proxy.url)
        login(manager, "manager", "manager-demo")
        go_to_page(manager, "Stock control")
        type_and_enter(manager, "stock_search", pick.sku)
        stock_table = dataframe_with_column(manager, "Available")
        expect(table_cell(stock_table, pick.sku, "Available")).to_have_text(str(pick.available))

        # A customer, on server B, orders more than is available and accepts the backorder.
        customer = pinned_page(browser, proxy, route_b)
        pages.append(customer)
        open_app(customer, proxy.url)
        login(customer, "customer1", "customer1-demo")
        go_to_page(customer, "Shop")
        type_and_enter(customer, "shop_search", pick.sku)
        choose(customer, "shop_pick", f"({pick.sku})", exact=False)
        type_and_enter(customer, "shop_qty", str(pick.available + SHORT_BY))
        act(customer, customer.get_by_role("button", name="Add to cart").click)
        open_tab(customer, "Cart")
        choose_radio(customer, "shop_backorder_choice", "Accept the backorder")
        act(customer, customer.get_by_role("button", name="Place order").click)
        expect(customer.get_by_text(re.compile(r"Order \S+ placed"))).to_be_visible()
        placed_at = time.monotonic()

        # Server A's page shows it within one refresh interval, without a reload.
        budget_ms = (interval + REFRESH_SLACK_S) * 1000
        expect(table_cell(stock_table, pick.sku, "Available")).to_have_text("0", timeout=budget_ms)
        expect(table_cell(stock_table, pick.sku, "Backordered")).to_have_text(str(SHORT_BY))
        print(
            f"server A showed the order {time.monotonic() - placed_at:.1f} s after server B took it"
        )

        # The login cookie server A issued opens server B without the form (one shared key,
        # from the database: neither server was given one).
        returning = pinned_page(browser, proxy, route_b, state=manager.context.storage_state())
        pages.append(returning)
        returning.goto(f"{proxy.url}/stock_control")
        wait_for_settled(returning)
        expect(password_box(returning)).to_have_count(0)
        expect(returning.get_by_role("heading", name="Stock control")).to_be_visible()
        assert stored_cookie_key(db) is not None
    except Exception:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for number, page in enumerate(pages):
            page.screenshot(path=ARTIFACTS / f"two_servers-{number}.png")
        raise
    finally:
        for page in pages:
            page.context.close()

    # Each browser's websocket stayed on its own server (sticky). nginx logs a websocket when
    # it closes, so the log is read once the browsers are gone.
    expected = {
        route_a: {f"127.0.0.1:{servers[0].port}"},
        route_b: {f"127.0.0.1:{servers[1].port}"},
    }
    deadline = time.monotonic() + 10
    while proxy.routes_to_stream() != expected and time.monotonic() < deadline:
        time.sleep(0.5)
    assert proxy.routes_to_stream() == expected


def test_streamlit_accepts_the_proxied_websocket_only_when_host_keeps_the_port(cluster):
    """Why the site config passes ``Host $http_host``: Streamlit compares Origin with Host.

    A browser on https://larder.example.com:8443 sends that Origin; with ``$host`` the server
    would see Host larder.example.com (port dropped) and refuse the websocket.
    """
    servers, _proxy = cluster
    origin = "http://larder.example.com:8443"

    def handshake(host: str) -> int:
        request = (
            "GET /_stcore/stream HTTP/1.1\r\n"
            f"Host: {host}\r\nOrigin: {origin}\r\n"
            "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", servers[0].port), timeout=10) as sock:
            sock.sendall(request.encode())
            status_line = sock.makefile("rb").readline().decode()
        return int(status_line.split()[1])

    assert handshake("larder.example.com:8443") == 101
    assert handshake("larder.example.com") == 403
