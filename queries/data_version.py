"""Cheap change markers: the versions per subject that key the pages' cached reads, and one
overall counter.

``subject_versions`` reads the change counters (``data/changes.py`` says what each subject
covers and why a committed write always moves its subjects): one statement summing a few dozen
small rows. ``data_version`` below is the older overall marker, kept for the retraining job.

Every stock move appends a ledger row and every manual change an audit row, so the sum grows
whenever something a page shows changes. Each term is a primary-key max (an index lookup), so
the whole query costs a few microseconds even on the benchmark data.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from sqlalchemy import Connection, Select, func, select

from data.changes import SUBJECTS, check_subjects
from data.schema import (
    AuditLog,
    Backorder,
    Notification,
    Order,
    PurchaseOrder,
    Shipment,
    ShipmentEvent,
    StockLedger,
    change_counters,
)

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


def subject_versions(conn: Connection, subjects: Iterable[str] = SUBJECTS) -> dict[str, int]:
    """The version of each of ``subjects`` (every subject by default), in one statement.

    A version rises each time a transaction that wrote one of the subject's tables commits.
    """
    names = check_subjects(subjects)
    row = conn.execute(_versions_select(names)).one()
    return {s: int(v) for s, v in zip(names, row, strict=True)}


@lru_cache(maxsize=256)
def _versions_select(names: tuple[str, ...]) -> Select:
    # One statement object per subject list, so SQLAlchemy compiles it once.
    return select(*(func.coalesce(func.sum(change_counters.c[s]), 0).label(s) for s in names))
