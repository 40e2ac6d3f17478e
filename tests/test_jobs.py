"""Scheduled jobs: idempotent runs, recorded runs, leases, schedules, run-due at once, worker."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import func, insert, select

from data.db import make_engine, read_connection
from data.schema import Backorder, JobLock, JobRun, ModelRun, PurchaseOrder
from jobs import __main__ as cli
from jobs.leases import claim, release
from jobs.registry import JOBS, SHORT_LEASE, JobContext
from jobs.runner import is_due, run_due, run_job
from operations import place_order, set_setting
from tests.operations_world import build_world, ensure_admin

T0 = dt.datetime(2026, 3, 2, 9, 0)  # a Monday morning, UTC
TODAY = T0.date()


def quiet(now: dt.datetime | None = T0, **kw) -> JobContext:
    return JobContext(now=now, log=lambda _: None, **kw)


def _without_training(engine) -> None:
    """Retraining off by schedule, and a model run on record so it is not due as a first start.

    The outbox, the overdue check and the weekly report are off too: these tests follow the two
    jobs that change stock and dates; the others have tests of their own.
    """
    ensure_admin(engine, "test")
    for job in (
        "retrain_models",
        "dispatch_outbox",
        "check_overdue_and_late",
        "mail_weekly_report",
    ):
        set_setting(engine, key=f"job_{job}_minutes", value=0, actor="test")
    with engine.begin() as conn:
        conn.execute(
            insert(ModelRun).values(
                kind="demand", version="v0", status="failed", params={}, metrics={}
            )
        )


@pytest.fixture
def shop(engine):
    """The tiny wholesaler with a backorder waiting and retraining switched off."""
    world = build_world(engine)
    placed = place_order(
        engine,
        customer_id=world.customers["gold"],
        lines=[("NAPKIN-500", 7)],
        actor="test",
        now=T0 - dt.timedelta(days=3),
    )
    assert placed.lines[0].qty_backordered == 7
    _without_training(engine)
    return engine, world


def _runs(engine, job: str | None = None, outcome: str | None = None) -> list:
    query = select(JobRun).order_by(JobRun.id)
    if job:
        query = query.where(JobRun.job == job)
    if outcome:
        query = query.where(JobRun.outcome == outcome)
    with read_connection(engine) as conn:
        return conn.execute(query).all()


# --- each job is idempotent and recorded ----------------------------------------------------


def test_drafting_twice_drafts_once_and_records_both_runs_with_counts(shop):
    engine, world = shop
    first = run_job(engine, "draft-purchase-orders", quiet())
    second = run_job(engine, "draft-purchase-orders", quiet())
    # FLOUR-25 (MILL) is below its reorder point and NAPKIN-500 (MILL) is backordered; BUTTER-10
    # (DAIRY) sits below its reorder point too: one draft per supplier.
    assert first.counts == {"purchase_orders_changed": 2}
    assert second.counts == {"purchase_orders_changed": 0}
    with read_connection(engine) as conn:
        assert conn.scalar(select(func.count()).select_from(PurchaseOrder)) == 2
    rows = _runs(engine, "draft-purchase-orders")
    assert [(r.outcome, r.counts) for r in rows] == [
        ("ok", {"purchase_orders_changed": 2}),
        ("ok", {"purchase_orders_changed": 0}),
    ]
    assert rows[0].started_at == T0 and rows[0].finished_at >= T0
    assert rows[0].host == socket.gethostname()[:100] and rows[0].pid == os.getpid()
    assert rows[0].error is None


def test_reestimating_twice_changes_dates_once(shop):
    engine, world = shop
    later = T0 + dt.timedelta(days=10)  # ten days on, every estimate moves
    first = run_job(engine, "reestimate-backorders", quiet(later))
    with read_connection(engine) as conn:
        dates = conn.execute(select(Backorder.id, Backorder.estimated_date)).all()
    second = run_job(engine, "reestimate-backorders", quiet(later))
    assert first.counts["open_backorders"] == 1 and first.counts["estimates_changed"] == 1
    assert second.counts == {
        "open_backorders": 1,
        "estimates_changed": 0,
        "promises_slipped": 0,
        "notices": 0,
    }
    with read_connection(engine) as conn:
        assert conn.execute(select(Backorder.id, Backorder.estimated_date)).all() == dates
    assert dates[0][1] > later.date()


def test_a_failing_job_is_recorded_as_failed_and_frees_its_lease(shop, monkeypatch):
    engine, _ = shop

    def broken(engine, context):
        raise RuntimeError("supplier table unreadable")

    job = JOBS["draft-purchase-orders"]
    monkeypatch.setitem(JOBS, job.name, dataclasses.replace(job, run=broken))
    result = run_job(engine, job.name, quiet())
    assert result.outcome == "failed"
    (row,) = _runs(engine, job.name)
    assert row.outcome == "failed" and "RuntimeError: supplier table unreadable" in row.error
    with read_connection(engine) as conn:
        lock = conn.execute(select(JobLock).where(JobLock.job == job.name)).one()
    assert lock.holder is None and lock.locked_until is None


# --- leases -------------------------------------------------------------------------------


def test_a_held_lease_refuses_a_second_claim_until_released(engine):
    assert claim(engine, "reestimate-backorders", "one", T0, SHORT_LEASE)
    assert not claim(
        engine, "reestimate-backorders", "two", T0 + dt.timedelta(minutes=5), SHORT_LEASE
    )
    assert not release(engine, "reestimate-backorders", "two")  # not the holder: no effect
    assert release(engine, "reestimate-backorders", "one")
    assert claim(engine, "reestimate-backorders", "two", T0 + dt.timedelta(minutes=5), SHORT_LEASE)


def test_a_crashed_jobs_lease_expires_and_is_taken_over(shop):
    engine, _ = shop
    name = "draft-purchase-orders"
    assert claim(engine, name, "crashed-host:1:dead", T0, SHORT_LEASE)  # never released
    # While the lease runs, by hand the job is skipped (recorded), by schedule not run at all.
    soon = T0 + SHORT_LEASE - dt.timedelta(seconds=1)
    assert run_job(engine, name, quiet(soon)).outcome == "skipped"
    assert run_job(engine, name, quiet(soon), only_if_due=True) is None
    assert [r.outcome for r in _runs(engine, name)] == ["skipped"]
    after = T0 + SHORT_LEASE
    taken = run_job(engine, name, quiet(after), only_if_due=True)
    assert taken.outcome == "ok" and taken.counts == {"purchase_orders_changed": 2}
    with read_connection(engine) as conn:
        lock = conn.execute(select(JobLock).where(JobLock.job == name)).one()
    assert lock.holder is None  # given back by the process that took it over


# --- schedules ----------------------------------------------------------------------------


def test_run_due_follows_the_schedule_settings(shop):
    engine, _ = shop

    def due_at(minutes: int) -> list[str]:
        return [r.job for r in run_due(engine, quiet(T0 + dt.timedelta(minutes=minutes)))]

    assert due_at(0) == ["draft-purchase-orders", "reestimate-backorders"]  # never ran
    assert due_at(10) == []
    assert due_at(15) == ["reestimate-backorders"]  # every 15 minutes by default
    assert due_at(29) == []
    set_setting(engine, key="job_reestimate_backorders_minutes", value=5, actor="test")
    assert due_at(20) == ["reestimate-backorders"]
    assert due_at(60) == ["draft-purchase-orders", "reestimate-backorders"]
    set_setting(engine, key="job_draft_purchase_orders_minutes", value=0, actor="test")
    assert due_at(24 * 60) == ["reestimate-backorders"]  # 0 = by hand only


def test_retraining_is_due_at_once_on_a_database_never_trained(engine):
    retrain = JOBS["retrain-models"]
    ensure_admin(engine, "test")
    set_setting(engine, key="job_retrain_models_minutes", value=0, actor="test")
    assert is_due(engine, retrain, T0)  # no model run at all: the first start
    with engine.begin() as conn:
        conn.execute(
            insert(ModelRun).values(kind="demand", version="v0", status="ok", params={}, metrics={})
        )
    assert not is_due(engine, retrain, T0)


# --- several servers at once --------------------------------------------------------------


def _slowed(monkeypatch, seconds: float = 0.3) -> None:
    """Make every real job take a moment, so two callers certainly overlap."""
    for name, job in list(JOBS.items()):

        def slow(engine, context, run=job.run):
            time.sleep(seconds)
            return run(engine, context)

        monkeypatch.setitem(JOBS, name, dataclasses.replace(job, run=slow))


def test_run_due_at_once_from_two_servers_runs_each_due_job_once(shop, monkeypatch):
    engine, _ = shop
    _slowed(monkeypatch)
    start = threading.Barrier(3)
    results, errors = [], []

    def server():
        # Each "server" has its own engine (its own connection pool), as two hosts would.
        own = make_engine(_url(engine))
        try:
            start.wait()
            results.extend(run_due(own, quiet()))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            own.dispose()

    workers = [threading.Thread(target=server) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert errors == []
    assert sorted(r.job for r in results) == ["draft-purchase-orders", "reestimate-backorders"]
    with read_connection(engine) as conn:
        counted = dict(conn.execute(select(JobRun.job, func.count()).group_by(JobRun.job)).all())
        drafts = conn.scalar(select(func.count()).select_from(PurchaseOrder))
    assert counted == {"draft-purchase-orders": 1, "reestimate-backorders": 1}
    assert drafts == 2


# Each job slowed by three seconds in a worker process, so two processes certainly overlap.
SLOW_WORKER = """
import dataclasses, sys, time
from jobs.registry import JOBS
for name, job in list(JOBS.items()):
    def slow(engine, context, run=job.run):
        time.sleep(3.0)
        return run(engine, context)
    JOBS[name] = dataclasses.replace(job, run=slow)
from jobs.__main__ import main
sys.exit(main(["--database", sys.argv[1], "run-due"]))
"""


def test_two_worker_processes_started_together_run_each_due_job_once(shop):
    """Two servers' job workers (real processes, own connections) never run one job twice."""
    engine, _ = shop
    url = _url(engine)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root, OMP_NUM_THREADS="1")
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", SLOW_WORKER, url],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=240)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    with read_connection(engine) as conn:
        counted = dict(conn.execute(select(JobRun.job, func.count()).group_by(JobRun.job)).all())
        pids = set(conn.execute(select(JobRun.pid)).scalars())
    assert counted == {"draft-purchase-orders": 1, "reestimate-backorders": 1}, outputs
    # The runs were made by the two worker processes (one job each, or one both).
    assert pids <= {w.pid for w in workers}, (pids, outputs)


def _url(engine) -> str:
    """A URL for a second engine on the same database (on PostgreSQL: the test's own schema)."""
    url = engine.url
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
        url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


# --- the command line and the worker ------------------------------------------------------


def test_worker_once_runs_the_due_jobs_and_exits(shop, capsys):
    engine, _ = shop
    args = ["--database", _url(engine), "--now", T0.isoformat(), "worker", "--once", "--every", "5"]
    assert cli.main(args) == 0
    assert [r.job for r in _runs(engine)] == ["draft-purchase-orders", "reestimate-backorders"]
    assert "job worker: run-due every 5 s" in capsys.readouterr().out


def test_command_line_runs_one_job_and_lists_the_schedule(sqlite_engine, capsys):
    build_world(sqlite_engine)
    url = str(sqlite_engine.url)
    assert cli.main(["--database", url, "--now", T0.isoformat(), "draft-purchase-orders"]) == 0
    assert cli.main(["--database", url, "list"]) == 0
    out = capsys.readouterr().out
    assert "draft-purchase-orders: ok purchase_orders_changed 2" in out
    assert "reestimate-backorders    every 15 min" in out
    assert "retrain-models           every 1440 min" in out


def test_command_line_refuses_zero_threads(sqlite_engine, capsys):
    assert cli.main(["--database", str(sqlite_engine.url), "--threads", "0", "list"]) == 2
    assert "threads must be at least 1" in capsys.readouterr().err


def test_every_job_has_a_schedule_setting():
    from data.settings import SETTINGS, job_schedule_key, scheduled_jobs

    assert all(job_schedule_key(name) in SETTINGS for name in JOBS)
    assert scheduled_jobs() == list(JOBS)


def test_schedule_view_shows_last_run_next_due_and_lease(shop):
    from queries.jobs import job_schedule, recent_job_runs

    engine, _ = shop
    run_due(engine, quiet())
    claim(
        engine, "draft-purchase-orders", "host-b:42:abcd", T0 + dt.timedelta(minutes=1), SHORT_LEASE
    )
    with read_connection(engine) as conn:
        table = job_schedule(conn, T0 + dt.timedelta(minutes=5)).set_index("job")
        runs = recent_job_runs(conn)
    assert table.loc["reestimate-backorders", "next_due"] == T0 + dt.timedelta(minutes=15)
    assert table.loc["draft-purchase-orders", "running_on"] == "host-b:42:abcd"
    assert table.loc["retrain-models", "last_outcome"] == "never run"
    assert pd_isna(table.loc["retrain-models", "next_due"])  # 0 minutes: by hand only
    assert list(runs["job"]) == ["reestimate-backorders", "draft-purchase-orders"]
    assert runs.loc[runs["job"] == "draft-purchase-orders", "counts"].item() == (
        "purchase orders changed 2"
    )


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def test_release_after_takeover_leaves_the_new_holder_alone(engine):
    assert claim(engine, "retrain-models", "old", T0, SHORT_LEASE)
    assert claim(engine, "retrain-models", "new", T0 + SHORT_LEASE, SHORT_LEASE)
    assert not release(engine, "retrain-models", "old")
    with read_connection(engine) as conn:
        holder = conn.scalar(select(JobLock.holder).where(JobLock.job == "retrain-models"))
    assert holder == "new"


def test_worker_exits_when_the_app_server_it_was_started_by_is_gone(shop, monkeypatch):
    engine, _ = shop
    parents = iter([100, 100, 1])  # started by pid 100; then adopted by init: the app has ended
    monkeypatch.setattr(cli.os, "getppid", lambda: next(parents))
    started = time.monotonic()
    assert cli.worker(engine, quiet(), every=600) == 0
    assert time.monotonic() - started < 300  # left without sleeping out the interval
    assert [r.job for r in _runs(engine)] == ["draft-purchase-orders", "reestimate-backorders"]
