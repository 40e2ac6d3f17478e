"""Job leases: at most one process runs a job at a time, on SQLite and PostgreSQL alike.

Each job has one row in ``job_locks``. A process claims it with a guarded
``UPDATE job_locks SET holder = me, locked_until = now + lease WHERE job = :job AND
(locked_until IS NULL OR locked_until <= now)``: the database lets exactly one of several
concurrent claims match (PostgreSQL re-checks the WHERE after the first claimer commits;
SQLite's single writer serializes the transactions), and the loser sees zero rows updated.
Releasing clears the row only when this holder still has it.

Why a lease row rather than a PostgreSQL advisory lock: an advisory lock lives as long as one
database session, so a retraining run of several minutes would pin a pooled connection, and
SQLite has no equivalent (holding its write lock for the whole job would stop every order
being placed). A row works the same on both databases, needs no open transaction while the job
runs, shows who holds which job on the Admin page, and a crashed process's lease simply expires
(``locked_until`` passes) so the next ``run-due`` takes the job over.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid

from sqlalchemy import Engine, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from data.db import write_session
from data.schema import JobLock


def new_holder() -> str:
    """A name for one claim: host, process and a random part (threads of one process differ)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim(engine: Engine, job: str, holder: str, now: dt.datetime, lease: dt.timedelta) -> bool:
    """Take ``job``'s lease until ``now + lease``; False when another holder's lease is live."""
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    with write_session(engine) as session:
        session.execute(
            insert(JobLock).values(job=job).on_conflict_do_nothing(index_elements=["job"])
        )
        claimed = session.execute(
            update(JobLock)
            .where(
                JobLock.job == job,
                or_(JobLock.locked_until.is_(None), JobLock.locked_until <= now),
            )
            .values(holder=holder, locked_until=now + lease, acquired_at=now)
            .execution_options(synchronize_session=False)
        )
        return claimed.rowcount == 1


def release(engine: Engine, job: str, holder: str) -> bool:
    """Give the lease back; False when it had expired and another holder took it over."""
    with write_session(engine) as session:
        released = session.execute(
            update(JobLock)
            .where(JobLock.job == job, JobLock.holder == holder)
            .values(holder=None, locked_until=None)
            .execution_options(synchronize_session=False)
        )
        return released.rowcount == 1
