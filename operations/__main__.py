"""Command line for the write side: ``python -m operations import KIND FILE``.

The database is the one ``DATABASE_URL`` names (default: the SQLite file ``data/larder.db``).
The import lives here rather than under ``python -m data`` because applying a file goes
through the write side (``operations.imports``), which the data layer may not use.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from data.db import make_engine
from data.schema import IMPORT_KINDS
from models.import_files import FIELDS, report_csv
from operations.errors import LarderError
from operations.imports import ImportRefused, apply_import, preview_import


def _mapping(pairs: list[str], kind: str) -> dict[str, str | None] | None:
    if not pairs:
        return None
    mapping: dict[str, str | None] = {}
    for pair in pairs:
        name, sep, column = pair.partition("=")
        if not sep:
            raise SystemExit(f"--map takes FIELD=COLUMN, not {pair!r}")
        mapping[name.strip()] = column.strip() or None
    return mapping


def _progress(done: int, total: int) -> None:
    print(f"\r  {done:,} / {total:,} rows", end="", file=sys.stderr, flush=True)


def cmd_import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"No such file: {path}", file=sys.stderr)
        return 2
    content = path.read_bytes()
    options = {
        "kind": args.kind,
        "filename": path.name,
        "content": content,
        "mapping": _mapping(args.map, args.kind),
        "sheet": args.sheet,
        "header": args.header,
        "date_order": args.date_order,
        "decimal_mark": args.decimal_mark,
    }
    engine = make_engine()
    try:
        preview = preview_import(engine, **options)
        used = ", ".join(f"{k}={v!r}" for k, v in preview.mapping.items() if v)
        print(
            f"{path.name}: {preview.rows:,} rows ({preview.table.file_type}"
            + (f", sheet {preview.table.sheet!r}" if preview.table.sheet else "")
            + f", {'with' if preview.table.has_header else 'without'} a header); columns: {used}"
        )
        if preview.problems and args.report:
            Path(args.report).write_bytes(report_csv(preview.problems))
            print(f"Wrote the {len(preview.problems):,} refused rows to {args.report}.")
        if args.dry_run:
            for problem in preview.problems[:20]:
                print("  " + problem.sentence())
            print(
                f"Dry run: {len(preview.problems):,} problem(s); {preview.new:,} new, "
                f"{preview.existing:,} already known. Nothing was written."
            )
            return 1 if preview.problems else 0
        started = time.perf_counter()
        result = apply_import(
            engine, actor=args.actor, progress=None if args.quiet else _progress, **options
        )
        seconds = time.perf_counter() - started
        if not args.quiet:
            print(file=sys.stderr)
    except ImportRefused as refused:
        for problem in refused.problems[:20]:
            print("  " + problem.sentence(), file=sys.stderr)
        print(refused.message, file=sys.stderr)
        return 1
    except LarderError as refused:
        print(refused.message, file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    if result.already_imported:
        print(
            f"{path.name} was imported already (batch {result.batch_id}, "
            f"{result.applied_at:%Y-%m-%d %H:%M} UTC): nothing changed."
        )
        return 0
    print(
        f"Imported {result.rows:,} rows of {path.name} as {result.kind}: {result.created:,} "
        f"created, {result.updated:,} updated, {result.unchanged:,} unchanged, in "
        f"{seconds:.1f} s (batch {result.batch_id}, SHA-256 {result.sha256[:16]}…)."
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m operations",
        description="Change Larder's database through the write side (the one DATABASE_URL "
        "names; default: the SQLite file data/larder.db).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    fields = "; ".join(
        f"{kind}: {', '.join(f.name for f in FIELDS[kind])}" for kind in IMPORT_KINDS
    )
    sub = commands.add_parser(
        "import",
        help="import a CSV or Excel file (all rows or none)",
        description=f"Import one file, all rows or none. Expected columns per kind: {fields}.",
    )
    sub.add_argument("kind", choices=IMPORT_KINDS, metavar="KIND", help=", ".join(IMPORT_KINDS))
    sub.add_argument("file", metavar="FILE", help="a .csv, .tsv, .txt or .xlsx file")
    sub.add_argument("--actor", default="admin", help="the administrator importing (default admin)")
    sub.add_argument("--sheet", help="the worksheet of an Excel file (default: the first)")
    header = sub.add_mutually_exclusive_group()
    header.add_argument("--header", dest="header", action="store_true", default=None)
    header.add_argument(
        "--no-header",
        dest="header",
        action="store_false",
        help="the first row is data (columns are then taken in the documented order)",
    )
    sub.add_argument("--date-order", choices=("dmy", "mdy"), help="how 03/04/2026 is read")
    sub.add_argument("--decimal-mark", choices=(".", ","), help="default: detected")
    sub.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="take FIELD from COLUMN (repeat; given once, the whole mapping must be given)",
    )
    sub.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    sub.add_argument("--report", metavar="CSV", help="write the refused rows to this CSV file")
    sub.add_argument("--quiet", action="store_true", help="no progress on stderr")
    sub.set_defaults(run=cmd_import)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
