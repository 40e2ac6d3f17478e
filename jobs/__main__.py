"""Command line for the scheduled jobs: ``python -m jobs <job> | run-due | worker | list | status``.

    python -m jobs list                       # the jobs and their schedules
    python -m jobs status                     # last run, next due time and lease of each job
    python -m jobs draft-purchase-orders      # run one job now (any job name from `list`)
    python -m jobs run-due                    # run whatever is due (cron: every minute)
    python -m jobs worker --every 60          # run-due every minute until stopped

The database is the one ``DATABASE_URL`` names (default: the SQLite file under data/).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import sys
import threading
import time

from sqlalchemy import Engine

from data.db import make_engine, read_connection
from jobs.registry import JOBS, JobContext
from jobs.runner import run_due, run_job
from models.threads import add_threads_option, limited_threads, set_pool_environment, thread_count
from queries.jobs import job_schedule

WORKER_EVERY_SECONDS = 60
# How often a sleeping worker checks that its parent (the app server) is still there.
WORKER_POLL_SECONDS = 1.0


def _now(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a time (YYYY-MM-DDTHH:MM): {text!r}") from exc


def _context(args: argparse.Namespace) -> JobContext:
    return JobContext(now=args.now, threads=args.threads)


def cmd_list(engine: Engine, args: argparse.Namespace) -> int:
    with read_connection(engine) as conn:
        schedule = job_schedule(conn, args.now or dt.datetime.now(dt.UTC).replace(tzinfo=None))
    every = dict(zip(schedule["job"], schedule["every_minutes"], strict=True))
    for name, job in JOBS.items():
        minutes = every.get(name)
        when = f"every {int(minutes)} min" if minutes and minutes == minutes else "by hand only"
        print(f"{name:24s} {when:18s} {job.help}")
    return 0


def cmd_status(engine: Engine, args: argparse.Namespace) -> int:
    with read_connection(engine) as conn:
        schedule = job_schedule(conn, args.now or dt.datetime.now(dt.UTC).replace(tzinfo=None))
    print(schedule.to_string(index=False))
    return 0


def cmd_job(engine: Engine, args: argparse.Namespace) -> int:
    context = _context(args)
    with limited_threads(context.threads):
        result = run_job(engine, args.command, context)
    return 0 if result.outcome != "failed" else 1


def cmd_run_due(engine: Engine, args: argparse.Namespace) -> int:
    results = run_due(engine, _context(args))
    if not results:
        print("nothing due")
    return 1 if any(r.outcome == "failed" for r in results) else 0


def worker(engine: Engine, context: JobContext, every: float, once: bool = False) -> int:
    """Call ``run-due`` every ``every`` seconds until SIGTERM/SIGINT or the parent process ends.

    A signal during a job stops it (its transaction rolls back, the run is recorded as failed
    and the lease given back); jobs are idempotent, so the next run picks up cleanly.
    """
    parent = os.getppid()
    stop = threading.Event()

    def _stop(signum, _frame):
        stop.set()
        raise SystemExit(0)

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = {}
    if in_main_thread:
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, _stop)
    try:
        while True:
            started = time.monotonic()
            try:
                run_due(engine, context)
            except Exception as exc:  # a database outage must not end the worker
                print(f"run-due failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            if once:
                return 0
            while (left := every - (time.monotonic() - started)) > 0:
                if os.getppid() != parent:
                    print("the app server has stopped; worker exits")
                    return 0
                stop.wait(min(WORKER_POLL_SECONDS, left))
    except SystemExit:
        return 0
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def cmd_worker(engine: Engine, args: argparse.Namespace) -> int:
    print(f"job worker: run-due every {args.every:g} s (pid {os.getpid()})", flush=True)
    return worker(engine, _context(args), args.every, args.once)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m jobs", description=__doc__.splitlines()[0].split(": ", 1)[-1]
    )
    parser.add_argument("--database", help="database URL (default: DATABASE_URL or SQLite file)")
    parser.add_argument(
        "--now", type=_now, help="pretend it is this UTC time (YYYY-MM-DDTHH:MM; for replays)"
    )
    add_threads_option(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the jobs and their schedules")
    sub.add_parser("status", help="last run, next due time and lease of each job")
    sub.add_parser("run-due", help="run every job that is due by its schedule")
    worker_cmd = sub.add_parser("worker", help="run-due in a loop until stopped")
    worker_cmd.add_argument(
        "--every", type=float, default=WORKER_EVERY_SECONDS, help="seconds between run-due calls"
    )
    worker_cmd.add_argument("--once", action="store_true", help="one run-due, then exit")
    for name, job in JOBS.items():
        sub.add_parser(name, help=job.help)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        threads = thread_count(args.threads)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    set_pool_environment(threads)
    engine = make_engine(args.database) if args.database else make_engine()
    commands = {
        "list": cmd_list,
        "status": cmd_status,
        "run-due": cmd_run_due,
        "worker": cmd_worker,
    }
    return commands.get(args.command, cmd_job)(engine, args)


if __name__ == "__main__":
    sys.exit(main())
