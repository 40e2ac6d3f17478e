"""Search text as typed, made safe to bind: no control characters, a sane length."""

from __future__ import annotations

import unicodedata

SEARCH_MAX_LENGTH = 100  # no product name, SKU or use is longer


def clean_search(value: object) -> str:
    """``value`` without control or broken characters (PostgreSQL refuses NUL), stripped, cut.

    Anything that is not text searches for nothing in particular (the empty string).
    """
    if not isinstance(value, str):
        return ""
    kept = "".join(char for char in value if unicodedata.category(char) not in ("Cc", "Cs"))
    return kept.strip()[:SEARCH_MAX_LENGTH].strip()
