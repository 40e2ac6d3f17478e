"""The audit trail: who changed what, with the state before and after."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from data.schema import AuditLog, utcnow


def _plain(value: Any) -> Any:
    """JSON-friendly copy of ``value`` (dates as ISO text, money as text)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: Any,
    before: dict | None = None,
    after: dict | None = None,
    note: str = "",
    at: dt.datetime | None = None,
) -> None:
    """Append one audit row inside the caller's transaction.

    A plain insert on the session's connection, written at once: nothing refers to audit rows,
    so they need no place in the session's unit of work.
    """
    session.connection().execute(
        _INSERT,
        {
            "at": at or utcnow(),
            "actor": actor,
            "action": action,
            "entity": entity,
            "entity_id": None if entity_id is None else str(entity_id),
            "before": _plain(before) if before is not None else None,
            "after": _plain(after) if after is not None else None,
            "note": note[:300],
        },
    )


_INSERT = insert(AuditLog.__table__)
