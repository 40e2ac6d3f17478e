"""Command line for the files Larder makes: ``python -m reports {export,weekly}``.

    python -m reports export larder-export.zip          # everything needed to leave Larder
    python -m reports weekly report.pdf [--week MONDAY]  # the weekly backorder report

The database is the one ``DATABASE_URL`` names (default: the SQLite file ``data/larder.db``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from data.db import database_url, make_engine


def _monday(text: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc
    if day.weekday() != 0:
        raise argparse.ArgumentTypeError(f"{text} is a {day:%A}; a report week starts on a Monday")
    return day


def _target(text: str) -> Path:
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; name the file to write")
    if not path.parent.exists():
        raise argparse.ArgumentTypeError(f"the folder {path.parent} does not exist")
    return path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reports", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    export = sub.add_parser("export", help="write every table needed to leave Larder as a ZIP")
    export.add_argument("file", type=_target, help="the ZIP file to write (replaced if present)")
    weekly = sub.add_parser("weekly", help="write the weekly backorder report as a PDF")
    weekly.add_argument("file", type=_target, help="the PDF file to write (replaced if present)")
    weekly.add_argument(
        "--week",
        type=_monday,
        help="the Monday of the week to report (default: the last finished week)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    engine = make_engine(database_url())
    started = time.perf_counter()
    if args.command == "export":
        from reports.export import write_export

        partial = args.file.with_name(args.file.name + ".partial")
        manifest = write_export(engine, partial)
        partial.replace(args.file)  # a failed export never leaves a half file under the name
        rows = sum(f["rows"] for f in manifest["files"])
        print(
            f"Wrote {args.file}: {len(manifest['files'])} files, {rows:,} rows "
            f"in {time.perf_counter() - started:.1f} s."
        )
        for f in manifest["files"]:
            print(f"  {f['name']:26} {f['rows']:>10,} rows")
        return 0
    from queries.weekly_report import weekly_figures
    from reports.weekly_pdf import week_label, weekly_report_pdf

    figures = weekly_figures(engine, week_start=args.week)
    args.file.write_bytes(weekly_report_pdf(figures))
    print(f"Wrote {args.file}: {week_label(figures)} in {time.perf_counter() - started:.1f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
