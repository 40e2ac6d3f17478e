"""The scheduled jobs, one entry each: what it runs, how long its lease lasts, when it is due.

A job takes the engine and a :class:`JobContext` and returns counts of what it changed (all
zero when there was nothing to do, so running it twice changes nothing the second time). Its
schedule is the setting ``job_<name>_minutes`` (``data.settings``). Adding a job is one entry in
:data:`JOBS` plus its schedule setting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select

from data.db import read_connection
from data.schema import ModelRun, utcnow
from models.registry import latest
from models.threads import limited_threads
from models.train import KINDS, train_all
from operations import draft_purchase_orders, reestimate_all_backorders
from operations.alerts import check_overdue_and_late
from operations.dispatcher import dispatch_until_empty
from operations.weekly_report import queue_weekly_report, weekly_report_due
from queries.data_version import data_version
from queries.jobs import last_ok_counts
from queries.weekly_report import report_week, weekly_figures
from reports.weekly_pdf import summary_text, weekly_report_pdf

ACTOR = "jobs"  # the name the write side records for changes a job makes
SHORT_LEASE = dt.timedelta(minutes=15)
# Training the default demo takes minutes; the large one longer. A lease that ran out mid-run
# would let a second server start the same training.
TRAINING_LEASE = dt.timedelta(hours=2)


@dataclass
class JobContext:
    """What a run is given: the clock (injectable), the thread cap and where to log."""

    now: dt.datetime | None = None  # naive UTC; None = the real clock
    threads: int | None = None
    log: Callable[[str], None] = print
    model_params: dict | None = None  # demand-model parameters for retraining (tests)

    def clock(self) -> dt.datetime:
        return self.now if self.now is not None else utcnow()


@dataclass(frozen=True)
class Job:
    name: str
    help: str
    run: Callable[[Engine, JobContext], dict[str, int]]
    lease: dt.timedelta = SHORT_LEASE
    due_anyway: Callable[[Connection], bool] | None = None  # due whatever the schedule says


def run_draft_purchase_orders(engine: Engine, context: JobContext) -> dict[str, int]:
    changed = draft_purchase_orders(engine, actor=ACTOR, today=context.clock().date())
    return {"purchase_orders_changed": len(changed)}


def run_reestimate_backorders(engine: Engine, context: JobContext) -> dict[str, int]:
    return reestimate_all_backorders(engine, today=context.clock().date())


def run_dispatch_outbox(engine: Engine, context: JobContext) -> dict[str, int]:
    return dispatch_until_empty(engine, now=context.now)


def run_check_overdue_and_late(engine: Engine, context: JobContext) -> dict[str, int]:
    return check_overdue_and_late(engine, now=context.clock())


def run_mail_weekly_report(engine: Engine, context: JobContext) -> dict[str, int]:
    """Mail last week's report once, from Monday on; later runs that week find it queued."""
    now = context.clock()
    monday = report_week(now.date())
    if not weekly_report_due(engine, monday):
        return {"reports_mailed": 0, "recipients": 0}
    figures = weekly_figures(engine, week_start=monday, now=now)
    sent_to = queue_weekly_report(
        engine,
        week_start=monday,
        pdf=weekly_report_pdf(figures),
        summary=summary_text(figures),
        actor=ACTOR,
    )
    return {"reports_mailed": int(bool(sent_to)), "recipients": len(sent_to)}


def never_trained(conn: Connection) -> bool:
    """True while the database has no model run at all (the first start)."""
    return conn.execute(select(ModelRun.id).limit(1)).first() is None


def run_retrain_models(engine: Engine, context: JobContext) -> dict[str, int]:
    """Train every kind when the data changed since the last retraining, else only the missing."""
    with read_connection(engine) as conn:
        version = data_version(conn)
        before = last_ok_counts(conn, "retrain-models") or {}
    if before.get("data_version") == version:
        kinds = tuple(kind for kind in KINDS if latest(engine, kind) is None)
    else:
        kinds = KINDS
    trained = failed = 0
    if kinds:
        with limited_threads(context.threads) as threads:
            context.log(f"training {', '.join(kinds)} with {threads} thread(s)")
            runs = train_all(
                engine, kinds=kinds, log=context.log, model_params=context.model_params
            )
        trained = sum(run.status == "ok" for run in runs.values())
        failed = len(runs) - trained
    return {"models_trained": trained, "models_failed": failed, "data_version": version}


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job(
            "draft-purchase-orders",
            "draft purchase orders for products below their reorder point",
            run_draft_purchase_orders,
        ),
        Job(
            "reestimate-backorders",
            "new likely and late-case dates for every open backorder; tell people of slips",
            run_reestimate_backorders,
        ),
        Job(
            "retrain-models",
            "fit the forecasting models again when the data changed since the last retraining "
            "(due at once while none was ever trained)",
            run_retrain_models,
            lease=TRAINING_LEASE,
            due_anyway=never_trained,
        ),
        Job(
            "dispatch-outbox",
            "send queued mail and webhooks (retrying those that failed, with backoff)",
            run_dispatch_outbox,
        ),
        Job(
            "check-overdue-and-late",
            "tell people of overdue purchase orders, shipments predicted late and slipped promises",
            run_check_overdue_and_late,
        ),
        Job(
            "mail-weekly-report",
            "mail last week's backorder report (PDF) to the roles that receive it, once a week "
            "from Monday on",
            run_mail_weekly_report,
        ),
    )
}
