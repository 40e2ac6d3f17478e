"""Reads of the scheduled jobs: their schedules, leases and recent runs."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Connection, func, select

from data.schema import JobLock, JobRun
from data.settings import all_settings, job_schedule_key, scheduled_jobs

RECENT_RUNS = 100
# Outcomes that count as "the job ran" for its schedule (a skipped run did no work).
RAN_OUTCOMES = ("ok", "failed")


def last_run_started(conn: Connection, job: str) -> dt.datetime | None:
    """When ``job`` last ran (ok or failed), or None if never."""
    return conn.execute(
        select(func.max(JobRun.started_at)).where(
            JobRun.job == job, JobRun.outcome.in_(RAN_OUTCOMES)
        )
    ).scalar_one()


def last_ok_counts(conn: Connection, job: str) -> dict | None:
    """The counts of ``job``'s newest successful run, or None if it never succeeded."""
    counts = conn.execute(
        select(JobRun.counts)
        .where(JobRun.job == job, JobRun.outcome == "ok")
        .order_by(JobRun.started_at.desc(), JobRun.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return None if counts is None else dict(counts)


def job_schedule(conn: Connection, now: dt.datetime) -> pd.DataFrame:
    """One row per scheduled job: interval, last run and outcome, next due time, lease."""
    settings = all_settings(conn)
    newest = (
        select(JobRun.job, func.max(JobRun.id).label("id"))
        .where(JobRun.outcome.in_(RAN_OUTCOMES))
        .group_by(JobRun.job)
        .subquery()
    )
    last = {
        row.job: row
        for row in conn.execute(
            select(JobRun.job, JobRun.started_at, JobRun.outcome).join(
                newest, newest.c.id == JobRun.id
            )
        )
    }
    leases = {row.job: row for row in conn.execute(select(JobLock))}
    rows = []
    for job in scheduled_jobs():
        minutes = int(settings[job_schedule_key(job)])
        ran = last.get(job)
        lease = leases.get(job)
        held = lease is not None and lease.locked_until is not None and lease.locked_until > now
        if minutes <= 0:
            next_due = None
        elif ran is None:
            next_due = now
        else:
            next_due = max(now, ran.started_at + dt.timedelta(minutes=minutes))
        rows.append(
            {
                "job": job,
                "every_minutes": minutes or None,
                "last_started": ran.started_at if ran else None,
                "last_outcome": ran.outcome if ran else "never run",
                "next_due": next_due,
                "running_on": lease.holder if held else None,
                "lease_until": lease.locked_until if held else None,
            }
        )
    return pd.DataFrame(rows)


def recent_job_runs(conn: Connection, limit: int = RECENT_RUNS) -> pd.DataFrame:
    """The newest job runs, newest first, with their duration in seconds and counts as text."""
    rows = conn.execute(
        select(
            JobRun.id,
            JobRun.job,
            JobRun.started_at,
            JobRun.finished_at,
            JobRun.outcome,
            JobRun.counts,
            JobRun.error,
            JobRun.host,
            JobRun.pid,
        )
        .order_by(JobRun.started_at.desc(), JobRun.id.desc())
        .limit(limit)
    ).all()
    columns = [
        "id",
        "job",
        "started_at",
        "finished_at",
        "outcome",
        "counts",
        "error",
        "host",
        "pid",
    ]
    frame = pd.DataFrame([tuple(r) for r in rows], columns=columns)
    if frame.empty:
        return frame.assign(seconds=pd.Series(dtype=float))
    frame["started_at"] = pd.to_datetime(frame["started_at"])
    frame["finished_at"] = pd.to_datetime(frame["finished_at"])
    frame["seconds"] = (frame["finished_at"] - frame["started_at"]).dt.total_seconds()
    frame["counts"] = frame["counts"].map(
        lambda c: ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in (c or {}).items())
    )
    frame["error"] = (
        frame["error"].fillna("").map(lambda e: e.strip().splitlines()[-1] if e else "")
    )
    return frame
