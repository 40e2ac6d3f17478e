"""One way to show numbers, money, dates and other people's text, on every page.

Text helpers (``qty``, ``money``, ``day``, ``moment``) serve alerts, KPI tiles and sentences;
the column helpers give tables the same look through ``st.column_config``. ``plain`` makes text
that a user or the database provides safe to put into Markdown: it is shown as typed, never as
a link, an image, HTML or formatting.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st

CURRENCY = "€"
MISSING = "—"
# Table formats (st.column_config): thousands separators, euros, "13 Dec 2026", "13 Dec 2026, 22:17".
COUNT_FORMAT = "localized"
MONEY_FORMAT = "euro"
DATE_FORMAT = "D MMM YYYY"
DATETIME_FORMAT = "D MMM YYYY, HH:mm"

# What Markdown (and Streamlit's additions: :icon: and :colour[...] directives, $ maths) reads
# as syntax. Escaped with a backslash (CommonMark), the character is shown as typed. Ordinary
# punctuation (. , : - inside a sentence, _ inside a word) is left alone so messages read normally.
_MARKDOWN_SPECIAL = re.compile(
    r"([\\`*\[\]<>~$&])"  # always syntax (links and images need [ ], so ( ) ! stay)
    r"|(?<!\w)(_)|(_)(?!\w)"  # emphasis, but not snake_case words
    r"|(:)(?=[A-Za-z/])"  # :directive[...], :shortcode: and the :// of a bare link
    r"|(?<=\bwww)(\.)"  # a bare www. link
)
_LINE_START = re.compile(r"^(\s*)(?:\d+)?([-+=>#.)])")  # lists, headings, quotes
_LINE_BREAKS = re.compile(r"[\r\n\t\f\v]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _is_missing(x: Any) -> bool:
    if x is None:
        return True
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def qty(x: Any) -> str:
    """Whole units with thousands separators: 12,345 (one decimal when not whole)."""
    if _is_missing(x):
        return MISSING
    value = float(x)
    if math.isfinite(value) and value.is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def number(x: Any, digits: int = 0) -> str:
    """A number with thousands separators and ``digits`` decimals: 3,999,999,992 or 1,234.5."""
    if _is_missing(x):
        return MISSING
    return f"{float(x):,.{digits}f}"


def money(x: Any) -> str:
    """€1,234.50; missing values as a dash."""
    if _is_missing(x):
        return MISSING
    value = float(x) if not isinstance(x, Decimal) else float(x)
    sign = "-" if value < 0 else ""
    return f"{sign}{CURRENCY}{abs(value):,.2f}"


def tile_money(x: Any) -> str:
    """Money short enough for a narrow KPI tile: to the cent below €100,000 (€99,999.50), whole
    euros below a million (€788,852), then millions (€3.38 M); give the exact amount in the
    tile's help."""
    if _is_missing(x):
        return MISSING
    value = float(x)
    sign = "-" if value < 0 else ""
    if abs(value) >= 1_000_000:
        return f"{sign}{CURRENCY}{abs(value) / 1_000_000:,.2f} M"
    if abs(value) >= 100_000:
        return f"{sign}{CURRENCY}{abs(value):,.0f}"
    return money(value)


def pct(x: Any, digits: int = 1) -> str:
    """A share (0.153) as a percentage: 15.3 %."""
    if _is_missing(x):
        return MISSING
    return f"{float(x) * 100:.{digits}f} %"


def points(x: Any, digits: int = 1) -> str:
    """A difference of two shares in percentage points, signed: 0.006 as +0.6 pts.

    A change of a rate is not a percentage of it: 5.2 % against 4.6 % is +0.6 pts, not +0.6 %.
    """
    if _is_missing(x):
        return MISSING
    return f"{float(x) * 100:+.{digits}f} pts"


def day(x: Any) -> str:
    """A date as 13 Dec 2026 (a datetime shows its date)."""
    if _is_missing(x):
        return MISSING
    value = pd.Timestamp(x)
    return f"{value.day} {value:%b %Y}"


def moment(x: Any) -> str:
    """A date and time as 13 Dec 2026, 22:17."""
    if _is_missing(x):
        return MISSING
    value = pd.Timestamp(x)
    return f"{value.day} {value:%b %Y, %H:%M}"


def plain(text: Any) -> str:
    """``text`` escaped for st.markdown and friends: shown as typed, on one line.

    Markdown and HTML are both neutralised: link and image syntax, emphasis, headings, tags.
    Control characters are dropped and line breaks become spaces.
    """
    if _is_missing(text):
        return ""
    cleaned = _CONTROL.sub("", _LINE_BREAKS.sub(" ", str(text)))
    escaped = _MARKDOWN_SPECIAL.sub(lambda m: "\\" + next(g for g in m.groups() if g), cleaned)
    # A list, heading or quote marker only counts at the start of a line.
    return _LINE_START.sub(lambda m: m.group(0)[:-1] + "\\" + m.group(2), escaped)


# --- Table columns ----------------------------------------------------------------------


def count_column(label: str, **kwargs: Any):
    """Whole numbers with thousands separators."""
    return st.column_config.NumberColumn(label, format=COUNT_FORMAT, **kwargs)


def decimal_column(label: str, digits: int = 1, **kwargs: Any):
    """A figure with ``digits`` decimals (small figures such as days of cover)."""
    return st.column_config.NumberColumn(label, format=f"%.{digits}f", **kwargs)


def money_column(label: str, **kwargs: Any):
    """Euros with thousands separators and cents: €1,234.50."""
    return st.column_config.NumberColumn(label, format=MONEY_FORMAT, **kwargs)


def date_column(label: str, **kwargs: Any):
    """13 Dec 2026."""
    return st.column_config.DateColumn(label, format=DATE_FORMAT, **kwargs)


def datetime_column(label: str, **kwargs: Any):
    """13 Dec 2026, 22:17."""
    return st.column_config.DatetimeColumn(label, format=DATETIME_FORMAT, **kwargs)


def as_dates(df: pd.DataFrame, columns) -> pd.DataFrame:
    """``df`` with its date ``columns`` as datetime columns: they sort as dates, show with
    :func:`date_column`, and a missing date shows blank rather than "None"."""
    return df.assign(**{c: pd.to_datetime(df[c]) for c in columns})


def as_date(x: Any) -> dt.date | None:
    """A date-like value as a date (None when missing)."""
    if _is_missing(x):
        return None
    return pd.Timestamp(x).date()
