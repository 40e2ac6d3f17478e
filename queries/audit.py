"""Reads of the audit trail: who changed what, filtered in the database, newest first."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
from sqlalchemy import Connection, select

from data.schema import AuditLog

DEFAULT_LIMIT = 2000
COLUMNS = ["at", "actor", "action", "entity", "entity_id", "before", "after", "note"]


def _as_text(value: object) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


def audit_entries(
    conn: Connection,
    *,
    actor: str | None = None,
    entity: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    limit: int = DEFAULT_LIMIT,
) -> pd.DataFrame:
    """Audit rows matching the filters (dates inclusive), newest first, at most ``limit``."""
    query = select(
        AuditLog.at,
        AuditLog.actor,
        AuditLog.action,
        AuditLog.entity,
        AuditLog.entity_id,
        AuditLog.before,
        AuditLog.after,
        AuditLog.note,
    )
    if actor:
        query = query.where(AuditLog.actor == actor)
    if entity:
        query = query.where(AuditLog.entity == entity)
    if since:
        query = query.where(AuditLog.at >= dt.datetime.combine(since, dt.time.min))
    if until:
        query = query.where(
            AuditLog.at < dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min)
        )
    rows = conn.execute(query.order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(limit)).all()
    frame = pd.DataFrame([r._asdict() for r in rows], columns=COLUMNS)
    frame["before"] = frame["before"].map(_as_text)
    frame["after"] = frame["after"].map(_as_text)
    frame["at"] = pd.to_datetime(frame["at"])
    return frame


def audit_actors(conn: Connection) -> list[str]:
    """Everyone who appears in the audit log, alphabetically."""
    return list(conn.scalars(select(AuditLog.actor).distinct().order_by(AuditLog.actor)))


def audit_entities(conn: Connection) -> list[str]:
    """Every kind of thing the audit log mentions (user, setting, product…), alphabetically."""
    return list(conn.scalars(select(AuditLog.entity).distinct().order_by(AuditLog.entity)))
