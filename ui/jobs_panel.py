"""The Admin page's Jobs tab: each scheduled job's schedule and lease, and the recent runs."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from data.db import read_connection
from data.schema import utcnow
from queries.jobs import job_schedule, recent_job_runs
from ui.components import standard_table
from ui.format import count_column, decimal_column

WHEN = "D MMM YYYY, HH:mm:ss"


def jobs_panel(engine: Engine) -> None:
    """Schedules (from the job_*_minutes settings) and the newest job runs."""
    st.caption(
        "A worker beside the app runs `python -m jobs run-due` every minute (on a server, a cron "
        "line does). Change a job's interval in Settings (`job_<name>_minutes`, 0 = by hand only); "
        "run one now with `python -m jobs <name>`."
    )
    with read_connection(engine) as conn:
        schedule = job_schedule(conn, utcnow())
        runs = recent_job_runs(conn)
    st.subheader("Schedule")
    standard_table(
        schedule,
        key="admin_jobs_schedule",
        file_name="job_schedule",
        column_config={
            "job": "Job",
            "every_minutes": count_column("Every (min)"),
            "last_started": st.column_config.DatetimeColumn("Last run (UTC)", format=WHEN),
            "last_outcome": "Outcome",
            "next_due": st.column_config.DatetimeColumn("Next due (UTC)", format=WHEN),
            "running_on": "Running on",
            "lease_until": st.column_config.DatetimeColumn("Lease until (UTC)", format=WHEN),
        },
    )
    st.subheader("Recent runs")
    standard_table(
        runs.drop(columns=["finished_at"]),
        key="admin_jobs_runs",
        file_name="job_runs",
        column_config={
            "id": st.column_config.NumberColumn("Run", format="%d"),
            "job": "Job",
            "started_at": st.column_config.DatetimeColumn("Started (UTC)", format=WHEN),
            "outcome": "Outcome",
            "counts": st.column_config.TextColumn("Changed", width="large"),
            "error": st.column_config.TextColumn("Error", width="medium"),
            "host": "Host",
            "pid": st.column_config.NumberColumn("Pid", format="%d"),
            "seconds": decimal_column("Seconds"),
        },
        empty_message="No job has run on this database yet.",
        empty_hint="The worker started by scripts/run_app.sh runs the due jobs within a minute.",
    )
