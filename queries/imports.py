"""Reads for the Admin page's Import tab: saved column mappings and the files applied so far."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, select

from data.schema import ImportBatch, ImportMapping

HISTORY_LIMIT = 200


def saved_mappings(conn: Connection, kind: str) -> list[dict]:
    """The saved mappings of one kind of import, by name: id, name, columns, options."""
    rows = conn.execute(
        select(ImportMapping.id, ImportMapping.name, ImportMapping.columns, ImportMapping.options)
        .where(ImportMapping.kind == kind)
        .order_by(ImportMapping.name)
    )
    return [dict(row._mapping) for row in rows]


def import_history(conn: Connection, limit: int = HISTORY_LIMIT) -> pd.DataFrame:
    """The newest applied import files: when, who, what kind, file, checksum and counts."""
    statement = (
        select(
            ImportBatch.id,
            ImportBatch.at,
            ImportBatch.actor,
            ImportBatch.kind,
            ImportBatch.filename,
            ImportBatch.sha256,
            ImportBatch.rows,
            ImportBatch.created,
            ImportBatch.updated,
            ImportBatch.unchanged,
        )
        .order_by(ImportBatch.at.desc(), ImportBatch.id.desc())
        .limit(limit)
    )
    frame = pd.DataFrame(
        conn.execute(statement).all(), columns=list(statement.selected_columns.keys())
    )
    frame["at"] = pd.to_datetime(frame["at"])
    return frame
