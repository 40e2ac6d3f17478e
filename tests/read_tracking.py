"""Which SQL a page run makes, and which cached read made it (see ui.db.live_read).

``StatementLog`` listens on every engine while it is open and records, for each statement, the
tables it names and the cached reads running at the time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Column, Engine, Table, event
from sqlalchemy.sql import visitors

from data.changes import COUNTER_TABLE, FIXED_COLUMNS, PAST_WEEKS, TABLE_SUBJECTS, WEEK_COLUMNS
from ui.db import FIXED_READS, LIVE_READS, current_reads


@dataclass(frozen=True)
class Statement:
    reads: tuple[str, ...]
    tables: frozenset[str]
    writes: bool
    fixed_only: frozenset[str] = frozenset()  # tables of which it names fixed columns only


def fixed_only_tables(context) -> frozenset[str]:
    """The tables of ``FIXED_COLUMNS`` whose every column the statement names is fixed."""
    statement = getattr(getattr(context, "compiled", None), "statement", None)
    if statement is None:
        return frozenset()
    named: dict[str, set[str]] = {}
    for element in visitors.iterate(statement):
        if isinstance(element, Column) and isinstance(element.table, Table):
            named.setdefault(element.table.name, set()).add(element.name)
    return frozenset(
        table for table, fixed in FIXED_COLUMNS.items() if table in named and named[table] <= fixed
    )


def statement_tables(context) -> frozenset[str]:
    """The tables a compiled statement names (subqueries included)."""
    statement = getattr(getattr(context, "compiled", None), "statement", None)
    if statement is None:
        return frozenset()
    return frozenset(
        element.name for element in visitors.iterate(statement) if isinstance(element, Table)
    )


@dataclass
class StatementLog:
    statements: list[Statement] = field(default_factory=list)

    def _record(self, _conn, _cursor, _statement, _parameters, context, _executemany) -> None:
        writes = bool(
            context is not None and (context.isinsert or context.isupdate or context.isdelete)
        )
        self.statements.append(
            Statement(
                current_reads(),
                statement_tables(context),
                writes,
                fixed_only_tables(context) if not writes else frozenset(),
            )
        )

    def __enter__(self) -> StatementLog:
        event.listen(Engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_exc) -> None:
        event.remove(Engine, "before_cursor_execute", self._record)

    def clear(self) -> None:
        self.statements.clear()

    def reads_run(self) -> set[str]:
        """Names of the cached reads that ran SQL of their own (their caches missed)."""
        return {s.reads[-1] for s in self.statements if s.reads}

    def subjects_read(self) -> dict[str, set[str]]:
        """For each cached read that ran, the subjects of the tables its statements named
        (a nested read's statements count for the reads around it too). A read of past weeks
        (one that declares ``past_weeks``) covers the weekly and daily summaries with it; a
        table of a subject the read declared ``fixed`` counts for nothing where the statement
        names only its fixed columns."""
        found: dict[str, set[str]] = {}
        for s in self.statements:
            tables = [t for t in s.tables if t != COUNTER_TABLE]
            for read in s.reads:
                past = PAST_WEEKS in LIVE_READS.get(read, ())
                fixed = FIXED_READS.get(read, ())
                found.setdefault(read, set()).update(
                    PAST_WEEKS if past and t in WEEK_COLUMNS else TABLE_SUBJECTS.get(t, f"?{t}")
                    for t in tables
                    if not (TABLE_SUBJECTS.get(t) in fixed and t in s.fixed_only)
                )
        return found

    def data_statements(self) -> list[Statement]:
        """Statements other than the version look-ups."""
        return [s for s in self.statements if s.tables != {COUNTER_TABLE}]
