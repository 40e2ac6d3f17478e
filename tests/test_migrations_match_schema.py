"""The migrations build exactly the schema the code declares, on SQLite and on PostgreSQL.

Every test database is made from ``data.schema`` directly, while a real database is made by
the migrations; a column or index added to one and forgotten in the other would pass every
other test. Alembic compares a migrated database with the declared metadata here.
"""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Index, Integer, MetaData, Table

from data.migrate import at_head, upgrade
from data.schema import Base
from tests.conftest import _blank_engine


def differences(engine, metadata: MetaData = Base.metadata) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), metadata)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def migrated(request, tmp_path):
    for engine in _blank_engine(request.param, tmp_path):
        upgrade(engine)
        yield engine


def test_the_migrated_database_has_the_declared_tables_columns_and_indexes(migrated):
    assert at_head(migrated)
    assert differences(migrated) == []


def test_the_comparison_sees_an_index_missing_from_the_migrations(migrated):
    # The same check against metadata with one index more must report it.
    metadata = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(metadata)
    Index("ix_forecasts_extra", metadata.tables["forecasts"].c.mean)
    Table("not_migrated", metadata, Column("id", Integer, primary_key=True))
    found = differences(migrated, metadata)
    assert sorted((d[0], getattr(d[1], "name", None)) for d in found) == [
        ("add_index", "ix_forecasts_extra"),
        ("add_table", "not_migrated"),
    ]
