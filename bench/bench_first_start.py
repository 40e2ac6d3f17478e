"""Time a first start the way scripts/run_app.sh does it, on a fresh SQLite file.

    .venv/bin/python -m bench.bench_first_start [--scale default] [--wait-training]

Runs ``data migrate``, ``data seed --if-empty``, starts ``jobs worker`` and ``streamlit run``
side by side, and reports the seconds until ``/_stcore/health`` answers ``ok`` (from the start
of migrate, and from the start of Streamlit). With ``--wait-training`` it then waits for the
worker's first ``retrain-models`` run and reports how long it took. Both processes are stopped
at the end (SIGTERM) and the file is removed.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEALTH_TIMEOUT_S = 300
TRAINING_TIMEOUT_S = 3600


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
            return resp.read().decode().strip() == "ok"
    except OSError:
        return False


def _retrain_run(url: str):
    from sqlalchemy import select

    from data.db import make_engine
    from data.schema import JobRun

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                select(JobRun.outcome, JobRun.started_at, JobRun.finished_at, JobRun.counts).where(
                    JobRun.job == "retrain-models"
                )
            ).first()
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="default", choices=("tiny", "default"))
    parser.add_argument("--wait-training", action="store_true")
    args = parser.parse_args(argv)
    python = sys.executable
    folder = Path(tempfile.mkdtemp(prefix="larder-first-start-"))
    db_url = f"sqlite:///{folder / 'larder.db'}"
    env = {**os.environ, "DATABASE_URL": db_url}
    port = _free_port()
    app_url = f"http://127.0.0.1:{port}"
    print(f"load average {os.getloadavg()[0]:.2f} at start; database {db_url}")
    started = time.perf_counter()
    subprocess.run([python, "-m", "data", "migrate"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [python, "-m", "data", "seed", "--if-empty", "--scale", args.scale],
        cwd=ROOT,
        env=env,
        check=True,
    )
    seeded = time.perf_counter()
    worker = subprocess.Popen([python, "-m", "jobs", "worker", "--every", "60"], cwd=ROOT, env=env)
    app = subprocess.Popen(
        [
            python,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not _healthy(app_url):
            if time.perf_counter() - seeded > HEALTH_TIMEOUT_S:
                print("streamlit did not answer within the timeout")
                return 1
            time.sleep(0.2)
        answered = time.perf_counter()
        print(f"migrate + seed ({args.scale}): {seeded - started:.1f} s")
        print(f"streamlit start to /_stcore/health ok: {answered - seeded:.1f} s")
        print(f"first start, migrate to health ok: {answered - started:.1f} s")
        if args.wait_training:
            while (run := _retrain_run(db_url)) is None:
                if time.perf_counter() - answered > TRAINING_TIMEOUT_S:
                    print("no retraining run within the timeout")
                    return 1
                time.sleep(2)
            seconds = (run.finished_at - run.started_at).total_seconds()
            print(f"worker's first retrain-models: {run.outcome} in {seconds:.1f} s {run.counts}")
        return 0
    finally:
        for process in (app, worker):
            process.send_signal(signal.SIGTERM)
        for process in (app, worker):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


if __name__ == "__main__":
    raise SystemExit(main())
