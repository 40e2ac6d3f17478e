"""Text cells a spreadsheet program can open without running anything.

Spreadsheet programs run a cell that begins with one of :data:`FORMULA_TRIGGERS` as a formula
(OWASP's CSV injection guidance), so such text is written with a leading single quote. Numbers
stay numbers: -12 stored as a number is written as -12, while the text "-12" or
"=HYPERLINK(...)" gets the quote.
"""

from __future__ import annotations

from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def defused(value: Any) -> Any:
    """``value`` itself, or text that begins with a formula trigger behind a single quote."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value
