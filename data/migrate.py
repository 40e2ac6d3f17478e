"""Apply Alembic migrations to an engine (called on app start and by ``python -m data migrate``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


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


def is_empty(engine: Engine) -> bool:
    """True when the database has no products table yet or no products in it."""
    if not inspect(engine).has_table("products"):
        return True
    from sqlalchemy import func, select

    from data.schema import Product

    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Product)).scalar_one() == 0
