"""The weekly backorder report (PDF) as a download button, made only when clicked."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from data.schema import utcnow
from data.summaries import report_week

HELP = (
    "A PDF for the weekly meeting covering the last finished week (Monday to Sunday): backorder "
    "rate by category and segment against the week before, lost sales, the oldest and most "
    "valuable open backorders with their dates, and overdue purchase orders. The jobs runner "
    "mails it every Monday to the roles named in the weekly report setting."
)


def weekly_report_download(engine: Engine, *, key: str) -> None:
    """A button that makes last week's report when clicked and downloads it."""
    monday = report_week(utcnow().date())

    def make() -> bytes:
        # Loaded on the click only: neither the PDF library nor the report's reads are needed
        # to show the page.
        from queries.weekly_report import weekly_figures
        from reports.weekly_pdf import weekly_report_pdf

        return weekly_report_pdf(weekly_figures(engine, week_start=monday))

    st.download_button(
        "Weekly report (PDF)",
        data=make,
        file_name=f"backorder-report-{monday.isoformat()}.pdf",
        mime="application/pdf",
        key=key,
        help=HELP,
        on_click="ignore",
        icon=":material/picture_as_pdf:",
    )
