"""Real servers for the outbox tests: an aiosmtpd SMTP server and a small HTTP webhook receiver."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from operations.admin import set_setting
from tests.operations_world import ensure_admin


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: email.message.EmailMessage


class Collector:
    """Keeps every message the server accepts."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        wire = envelope.content.replace(b"\r\n", b"\n")  # CRLF on the wire, LF in Python
        parsed = email.message_from_bytes(wire, policy=email.policy.default)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 2.0.0 Message accepted for delivery"


class Refuser(Collector):
    """Refuses every message at the end of DATA with a permanent error."""

    async def handle_DATA(self, server, session, envelope):
        return "554 5.7.1 Message refused by policy"


class HangsUp(Collector):
    """Drops the connection after the message body arrived, before answering."""

    async def handle_DATA(self, server, session, envelope):
        server.transport.close()
        return "250 never seen"


class SmtpServer:
    def __init__(self, handler: Collector, port: int | None = None, **smtp_options) -> None:
        self.handler = handler
        self.port = port or free_port()
        self.controller = Controller(handler, hostname="127.0.0.1", port=self.port, **smtp_options)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    @property
    def received(self) -> list[Received]:
        return self.handler.received


def password_checker(user: str, password: str):
    """An aiosmtpd authenticator that accepts exactly one login."""

    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data == (
            user.encode(),
            password.encode(),
        )
        return AuthResult(success=ok, handled=False)  # False: the server answers 535 itself

    return check


def use_smtp(engine, port: int, **overrides) -> None:
    """Point the dispatcher at a local SMTP server without TLS, with quick retries."""
    values = {
        "mail_enabled": True,
        "mail_host": "127.0.0.1",
        "mail_port": port,
        "mail_security": "none",
        "mail_timeout_seconds": 5,
        "mail_retry_base_seconds": 60,
        "mail_retry_max_seconds": 600,
    } | overrides
    ensure_admin(engine)
    for key, value in values.items():
        set_setting(engine, key=key, value=value, actor="admin")


@dataclass
class WebhookReceiver:
    """An HTTP server in a thread recording each POST; answers with ``status``."""

    status: int = 200
    requests: list[tuple[dict, bytes]] = field(default_factory=list)

    def __enter__(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(json.dumps({"ok": receiver.status < 300}).encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/larder"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class SubjectLog(Collector):
    """Appends each accepted message's Subject to a file (for a server in another process)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with open(self.path, "a", encoding="utf-8") as log:
            log.write(f"{parsed['Subject']}\n")
        return "250 2.0.0 Message accepted for delivery"


if __name__ == "__main__":  # python -m tests.outbox_support PORT LOGFILE: serve until killed
    import sys
    import time

    controller = Controller(SubjectLog(sys.argv[2]), hostname="127.0.0.1", port=int(sys.argv[1]))
    controller.start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)
