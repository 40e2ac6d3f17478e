"""Outbox dispatcher throughput: messages per second to a local SMTP server (aiosmtpd).

Queues ``--messages`` mails (text + HTML; every tenth with a small PDF-sized attachment) in a
fresh database, starts aiosmtpd on a free loopback port (in its own process), runs ``dispatch_outbox`` until the
outbox is empty, checks the server received each message exactly once, and prints the rate.

    .venv/bin/python bench/bench_dispatch.py [--messages 500] [--batch 100] [--database URL]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.schema import CreateSchema, DropSchema  # noqa: E402

from data.db import make_engine, write_session  # noqa: E402
from data.schema import Base, OutboxAttempt  # noqa: E402
from operations.dispatcher import dispatch_until_empty  # noqa: E402
from operations.outbox import queue_mail  # noqa: E402
from tests.outbox_support import free_port, use_smtp  # noqa: E402

ATTACHMENT = b"%PDF-1.4\n" + b"0" * 20_000  # about the size of a one-page purchase order


def _engine(url: str | None, workdir: Path):
    if not url:
        engine = make_engine(f"sqlite:///{workdir / 'bench.db'}")
        Base.metadata.create_all(engine)
        return engine, lambda: engine.dispose(), "SQLite (file, WAL)"
    schema = f"bench_dispatch_{int(time.time())}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(CreateSchema(schema))
    engine = make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    Base.metadata.create_all(engine)

    def cleanup():
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(DropSchema(schema, cascade=True))
        admin.dispose()

    return engine, cleanup, "PostgreSQL"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--database", help="a PostgreSQL URL (default: a temporary SQLite file)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        engine, cleanup, backend = _engine(args.database, Path(tmp))
        try:
            with write_session(engine) as session:
                for i in range(args.messages):
                    queue_mail(
                        session,
                        to=f"customer{i % 50}@example.com",
                        subject=f"Backorder update {i}",
                        text=f"Your backorder {i} is now expected on Friday.\n\nLarder",
                        attachments=[("PO.pdf", "application/pdf", ATTACHMENT)]
                        if i % 10 == 0
                        else (),
                    )
            port, log = free_port(), Path(tmp) / "received.txt"
            # The server runs in its own process, as a real one would: in this process it
            # would compete with the dispatcher for the interpreter lock.
            server = subprocess.Popen(
                [sys.executable, "-m", "tests.outbox_support", str(port), str(log)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
            try:
                assert server.stdout.readline().strip() == "ready"
                use_smtp(engine, port)
                start = time.perf_counter()
                counts = dispatch_until_empty(engine, batch=args.batch, worker_id="bench")
                seconds = time.perf_counter() - start
            finally:
                server.terminate()
                server.wait(timeout=30)
            subjects = log.read_text().splitlines() if log.exists() else []
            with engine.connect() as conn:
                smtp_ms = conn.execute(select(func.avg(OutboxAttempt.duration_ms))).scalar_one()
        finally:
            cleanup()
    once = len(subjects) == args.messages == len(set(subjects)) == counts["sent"]
    print(
        f"{backend}: {counts['sent']} messages sent in {seconds:.2f} s = "
        f"{counts['sent'] / seconds:.0f} messages/s (batch {args.batch}; "
        f"{float(smtp_ms):.1f} ms of each in the SMTP exchange); "
        f"server received {len(subjects)}, each exactly once: {once}"
    )
    return 0 if once else 1


if __name__ == "__main__":
    raise SystemExit(main())
