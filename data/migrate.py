"""Apply Alembic migrations to an engine (called on app start and by ``python -m data migrate``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, column, create_engine, inspect, select, table, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from data.changes import count_only_existing

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MAINTENANCE_DATABASE = "postgres"  # the database every PostgreSQL server has, to create ours from
MISSING_DATABASE_SQLSTATE = "3D000"  # invalid_catalog_name: "database ... does not exist"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database behind ``engine`` to ``revision`` in one transaction."""
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        count_only_existing(conn)


@cache
def head_revisions() -> frozenset[str]:
    """The revisions at the head of data/migrations (read from the scripts once per process)."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def at_head(engine: Engine) -> bool:
    """True when the database's Alembic version is the scripts' head: nothing to upgrade.

    One small read, so a server start on an up-to-date database skips Alembic's environment
    (loading every migration script and opening a write transaction). False when the version
    table is missing or cannot be read; :func:`upgrade` then says what is wrong.
    """
    versions = table("alembic_version", column("version_num"))
    try:
        with engine.connect() as conn:
            found = {row[0] for row in conn.execute(select(versions.c.version_num))}
    except DBAPIError:
        return False
    return bool(found) and found == head_revisions()


def is_empty(engine: Engine) -> bool:
    """True when the database has no products table yet or no products in it."""
    if not inspect(engine).has_table("products"):
        return True
    from sqlalchemy import func, select

    from data.schema import Product

    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Product)).scalar_one() == 0


class DatabaseMissing(Exception):
    """The PostgreSQL database does not exist and could not be created; the message says how."""


def _missing(error: DBAPIError) -> bool:
    return getattr(error.orig, "sqlstate", None) == MISSING_DATABASE_SQLSTATE or (
        "does not exist" in str(error.orig) and "database" in str(error.orig)
    )


def create_database_if_missing(url: str) -> bool:
    """Create the PostgreSQL database ``url`` names when it does not exist; True if created.

    Connects to the server's ``postgres`` database with the same credentials. Raises
    :class:`DatabaseMissing` (with the command to run) when the server does not allow it.
    Other databases (SQLite creates its file itself) are left alone.
    """
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        return False
    probe = create_engine(parsed)
    try:
        with probe.connect():
            return False
    except DBAPIError as error:
        if not _missing(error):
            raise
    finally:
        probe.dispose()
    name = parsed.database
    maintenance = create_engine(
        parsed.set(database=MAINTENANCE_DATABASE), isolation_level="AUTOCOMMIT"
    )
    try:
        with maintenance.connect() as conn:
            # An identifier cannot be a bind parameter: the dialect quotes it instead.
            quoted = conn.dialect.identifier_preparer.quote(name)
            conn.execute(text(f"CREATE DATABASE {quoted}"))
    except DBAPIError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
        user = f" -U {parsed.username}" if parsed.username else ""
        host = f" -h {parsed.host}" if parsed.host else ""
        port = f" -p {parsed.port}" if parsed.port else ""
        raise DatabaseMissing(
            f"The database {name!r} does not exist and could not be created ({reason}): "
            f"run `createdb{host}{port}{user} {name}` as a user allowed to, then try again."
        ) from None
    finally:
        maintenance.dispose()
    return True
