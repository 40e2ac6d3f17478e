"""Running jobs: take the lease, check the schedule, run, record the run, give the lease back.

``run-due`` checks whether a job is due only *after* taking its lease, against the runs
recorded so far: a second server that takes the lease a moment after the first gave it back
sees the run just recorded and does nothing. So each due job runs once however many servers
call ``run-due`` at the same minute. The run is recorded before the lease is given back.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
import traceback
from dataclasses import dataclass, field

from sqlalchemy import Engine

from data.db import read_connection, write_session
from data.schema import JobRun
from data.settings import get_setting, job_schedule_key
from jobs.leases import claim, new_holder, release
from jobs.registry import JOBS, Job, JobContext
from models.threads import limited_threads
from queries.jobs import last_run_started

ERROR_TEXT_LIMIT = 4000


@dataclass
class JobResult:
    job: str
    outcome: str  # ok | failed | skipped
    counts: dict = field(default_factory=dict)
    error: str | None = None
    run_id: int | None = None


def is_due(engine: Engine, job: Job, now: dt.datetime) -> bool:
    """Due when its ``due_anyway`` rule says so, or its interval has passed since it last ran."""
    with read_connection(engine) as conn:
        if job.due_anyway is not None and job.due_anyway(conn):
            return True
        minutes = int(get_setting(conn, job_schedule_key(job.name)))
        if minutes <= 0:
            return False
        last = last_run_started(conn, job.name)
    return last is None or last + dt.timedelta(minutes=minutes) <= now


def _record(engine: Engine, result: JobResult, started: dt.datetime, seconds: float) -> JobResult:
    with write_session(engine) as session:
        row = JobRun(
            job=result.job,
            started_at=started,
            finished_at=started + dt.timedelta(seconds=seconds),
            outcome=result.outcome,
            counts=result.counts,
            error=result.error[-ERROR_TEXT_LIMIT:] if result.error else None,
            host=socket.gethostname()[:100],
            pid=os.getpid(),
        )
        session.add(row)
        session.flush()
        result.run_id = row.id
    return result


def run_job(
    engine: Engine, name: str, context: JobContext, *, only_if_due: bool = False
) -> JobResult | None:
    """Run job ``name`` under its lease and record the run.

    By hand (``only_if_due`` false) a job whose lease another process holds is recorded as
    skipped. From ``run-due`` a held or no-longer-due job returns None and records nothing.
    """
    job = JOBS[name]
    holder = new_holder()
    started = context.clock()
    # A cheap read first, so a worker polling every minute writes nothing while nothing is due.
    if only_if_due and not is_due(engine, job, started):
        return None
    if not claim(engine, name, holder, started, job.lease):
        if only_if_due:
            return None
        context.log(f"{name}: skipped, another process is running it")
        skipped = JobResult(name, "skipped", error="another process holds this job's lease")
        return _record(engine, skipped, started, 0.0)
    try:
        # Again under the lease: another server may have run it since the read above.
        if only_if_due and not is_due(engine, job, started):
            return None
        clock = time.perf_counter()
        try:
            result = JobResult(name, "ok", counts=job.run(engine, context))
        except Exception:  # one job's failure is recorded and must not stop the others
            result = JobResult(name, "failed", error=traceback.format_exc())
        except BaseException:  # stopped (SIGTERM, Ctrl-C): its transaction rolled back
            _record(
                engine,
                JobResult(name, "failed", error="stopped before it finished"),
                started,
                time.perf_counter() - clock,
            )
            raise
        _record(engine, result, started, time.perf_counter() - clock)
        context.log(
            f"{name}: {result.outcome} "
            + (", ".join(f"{k} {v}" for k, v in result.counts.items()) or "")
            + (f" {result.error.strip().splitlines()[-1]}" if result.error else "")
        )
        return result
    finally:
        release(engine, name, holder)


def run_due(engine: Engine, context: JobContext) -> list[JobResult]:
    """Run every job that is due now, one after another; returns the runs made."""
    results = []
    with limited_threads(context.threads):
        for name in JOBS:
            result = run_job(engine, name, context, only_if_due=True)
            if result is not None:
                results.append(result)
    return results
