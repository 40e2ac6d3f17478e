"""Document numbers (SO-000123, PO-000045, SH-000007) derived from the row id.

The id comes from the database's own sequence, so two app servers can never hand out the same
number; the row is inserted with a unique provisional number and renamed once its id is known.
The demo data (:mod:`data.demo.rows`) numbers its rows by the same rule.
"""

from __future__ import annotations

import uuid


def provisional_number() -> str:
    """A unique placeholder that fits the 20-character number columns."""
    return "tmp-" + uuid.uuid4().hex[:16]


def document_number(prefix: str, row_id: int) -> str:
    return f"{prefix}-{row_id:06d}"
