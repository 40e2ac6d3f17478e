"""Keeping SQLite's query plans steady whatever statistics the database holds.

Without statistics (Larder never runs ``ANALYZE``) SQLite picks its plans by rules; after an
``ANALYZE`` (by hand, or by a tool) it may switch a full-history aggregate to index lookups
driven from a small table, several times slower on two million order lines. Where a read has
one right plan, the join terms that would allow the wrong one are marked :class:`unindexed`:
SQLite's documented unary ``+`` keeps a term from being searched by index, so the planner
keeps the plan it takes without statistics. Other databases get the column unchanged.
"""

from __future__ import annotations

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class unindexed(FunctionElement):  # noqa: N801  (reads as a SQL function in a query)
    """``column`` as a value SQLite may not look up by index (``+column``); plain elsewhere."""

    inherit_cache = True

    def __init__(self, column):
        super().__init__(column)
        self.type = column.type


@compiles(unindexed)
def _plain(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


@compiles(unindexed, "sqlite")
def _unary_plus(element, compiler, **kw):
    return "+" + compiler.process(element.clauses, **kw)
