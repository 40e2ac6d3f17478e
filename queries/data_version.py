"""Cheap change markers: the versions per subject that key the pages' cached reads, and one
overall counter.

``subject_versions`` (kept in ``data/changes.py``, which says what each subject
covers and why a committed write always moves its subjects): one statement summing a few dozen
small rows. ``data_version`` below is the older overall marker, kept for the retraining job.

Every stock move appends a ledger row and every manual change an audit row, so the sum grows
whenever something a page shows changes. Each term is a primary-key max (an index lookup), so
the whole query costs a few microseconds even on the benchmark data.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from data.changes import subject_versions
from data.schema import (
    AuditLog,
    Backorder,
    Notification,
    Order,
    PurchaseOrder,
    Shipment,
    ShipmentEvent,
    StockLedger,
)

__all__ = ["data_version", "subject_versions"]

_COUNTED = (
    StockLedger,
    AuditLog,
    Order,
    Backorder,
    Notification,
    PurchaseOrder,
    Shipment,
    ShipmentEvent,
)


def data_version(conn: Connection) -> int:
    """Sum of max(id) over the append-only tables (0 for an empty database)."""
    terms = [select(func.coalesce(func.max(t.id), 0)).scalar_subquery() for t in _COUNTED]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return int(conn.execute(select(total)).scalar_one())
