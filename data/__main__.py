"""Command line for the database: ``python -m data {migrate,seed,reset,info,rebuild-summaries}``.

The database is the one ``DATABASE_URL`` names (default: the SQLite file ``data/larder.db``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time

from sqlalchemy import Engine, MetaData, func, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from data.db import database_url, make_engine
from data.migrate import DatabaseMissing, create_database_if_missing, is_empty, upgrade
from data.schema import Base

SCALE_HELP = "tiny (tests, seconds), default (the demo: ~1,000 products, 3 years) or large"


def _where(engine: Engine) -> str:
    return _hidden(engine.url)


def _hidden(url) -> str:
    return make_url(str(url) if not isinstance(url, str) else url).render_as_string(
        hide_password=True
    )


def _today(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def _seed(engine: Engine, args: argparse.Namespace) -> None:
    from data.demo import generate

    started = time.perf_counter()
    counts = generate(engine, scale=args.scale, seed=args.seed, today=args.today)
    seconds = time.perf_counter() - started
    print(
        f"Seeded the {args.scale} demo (seed {args.seed}): {counts['products']:,} products, "
        f"{counts['orders']:,} orders, {counts['order_lines']:,} order lines, "
        f"{counts['backorders']:,} backorders, {sum(counts.values()):,} rows in {seconds:.1f} s."
    )


def cmd_migrate(engine: Engine, args: argparse.Namespace) -> int:
    upgrade(engine)
    print(f"Migrated {_where(engine)} to the latest schema.")
    return 0


def cmd_seed(engine: Engine, args: argparse.Namespace) -> int:
    upgrade(engine)
    if not is_empty(engine):
        if args.if_empty:
            print("The database already has data; nothing to seed (--if-empty).")
            return 0
        print(
            f"Refusing to seed {_where(engine)}: it already has data, and seeding again would "
            "duplicate it. Use `python -m data reset --yes` to start over.",
            file=sys.stderr,
        )
        return 1
    _seed(engine, args)
    return 0


def drop_everything(engine: Engine) -> None:
    """Drop every table in the database, Alembic's version table included."""
    existing = MetaData()
    existing.reflect(engine)
    existing.drop_all(engine)


def cmd_reset(engine: Engine, args: argparse.Namespace) -> int:
    if not args.yes:
        print(
            f"Refusing to reset {_where(engine)} without --yes: reset drops every table and all "
            "data in it, then migrates and seeds the demo again.",
            file=sys.stderr,
        )
        return 2
    drop_everything(engine)
    upgrade(engine)
    _seed(engine, args)
    return 0


def cmd_info(engine: Engine, args: argparse.Namespace) -> int:
    print(f"Database: {_where(engine)}")
    present = set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name not in present:
                print(f"  {table.name:<22} (missing: run `python -m data migrate`)")
                continue
            count = conn.execute(select(func.count()).select_from(table)).scalar_one()
            print(f"  {table.name:<22} {count:>10,}")
    return 0


def cmd_rebuild_summaries(engine: Engine, args: argparse.Namespace) -> int:
    from data.summaries import rebuild

    upgrade(engine)
    started = time.perf_counter()
    with engine.begin() as conn:
        rows = rebuild(conn)
    print(
        f"Rebuilt the summaries of {_where(engine)} in {time.perf_counter() - started:.1f} s: "
        f"backorder rollup {rows['backorder_rollup']:,} rows (from the order lines), "
        f"closed backorders {rows['backorder_closures']:,} rows (from the backorders), "
        f"weekly costs {rows['backorder_cost_weekly']:,} rows (from the cost ledger), "
        f"weekly deliveries {rows['delivery_weekly']:,} rows (from the shipments), "
        f"weekly demand {rows['demand_weekly']:,} rows (from the daily demand)."
    )
    return 0


def cmd_import(engine: Engine, args: argparse.Namespace) -> int:
    print(
        "Importing goes through the write side, which this command may not call: run "
        f"`python -m operations import {args.kind or 'KIND'} {args.file or 'FILE'}` instead "
        "(see the README, Importing your own data).",
        file=sys.stderr,
    )
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m data",
        description="Manage Larder's database (the one DATABASE_URL names; default: the SQLite "
        "file data/larder.db).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("migrate", help="apply all database migrations").set_defaults(
        run=cmd_migrate
    )

    def seed_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--scale", choices=("tiny", "default", "large"), default="default", help=SCALE_HELP
        )
        sub.add_argument(
            "--seed",
            type=int,
            default=7,
            help="random seed; the same seed gives the same data (default 7)",
        )
        sub.add_argument(
            "--today",
            type=_today,
            default=None,
            help="last day of the history, which stops at its noon, YYYY-MM-DD "
            "(default: today from noon UTC on, yesterday before)",
        )

    seed = commands.add_parser(
        "seed", help="migrate, then fill an empty database with the demo wholesaler"
    )
    seed_options(seed)
    seed.add_argument(
        "--if-empty",
        action="store_true",
        help="do nothing (and succeed) when the database already has data",
    )
    seed.set_defaults(run=cmd_seed)

    reset = commands.add_parser(
        "reset", help="drop every table, migrate and seed again (needs --yes)"
    )
    seed_options(reset)
    reset.add_argument(
        "--yes", action="store_true", help="confirm that all data in the database may be deleted"
    )
    reset.set_defaults(run=cmd_reset)

    commands.add_parser("info", help="show the row count of every table").set_defaults(run=cmd_info)
    commands.add_parser(
        "rebuild-summaries",
        help="recompute the backorder rollup from the order lines, the closed backorders, weekly "
        "costs and deliveries from their rows, and the weekly demand from the daily one (safe to "
        "run at any time)",
    ).set_defaults(run=cmd_rebuild_summaries)
    pointer = commands.add_parser(
        "import", help="moved: use `python -m operations import KIND FILE` (says so and stops)"
    )
    pointer.add_argument("kind", nargs="?")
    pointer.add_argument("file", nargs="?")
    pointer.add_argument("rest", nargs=argparse.REMAINDER)
    pointer.set_defaults(run=cmd_import)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    url = database_url()
    try:
        if create_database_if_missing(url):
            print(f"Created the database {make_url(url).database!r}.")
    except DatabaseMissing as missing:
        print(missing, file=sys.stderr)
        return 1
    except DBAPIError as error:
        first = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
        print(f"Cannot reach the database at {_hidden(url)}: {first}", file=sys.stderr)
        return 1
    engine = make_engine(url)
    try:
        return args.run(engine, args)
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
