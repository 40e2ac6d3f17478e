"""Draw the first page of the weekly backorder report as docs/screenshots/weekly_report.png.

    DATABASE_URL=sqlite:///data/larder.db .venv/bin/python scripts/weekly_report_screenshot.py

Reads the database DATABASE_URL names (default: data/larder.db), makes last week's report and
renders its first page with pdfium at 110 dpi.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pypdfium2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data.db import database_url, make_engine  # noqa: E402
from queries.weekly_report import weekly_figures  # noqa: E402
from reports.weekly_pdf import weekly_report_pdf  # noqa: E402

TARGET = Path(__file__).resolve().parents[1] / "docs" / "screenshots" / "weekly_report.png"


def main() -> None:
    pdf = weekly_report_pdf(weekly_figures(make_engine(database_url())))
    page = pypdfium2.PdfDocument(pdf)[0]
    page.render(scale=110 / 72).to_pil().save(TARGET)
    print(f"Wrote {TARGET}")


if __name__ == "__main__":
    main()
