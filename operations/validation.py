"""Checks on raw input, shared by every operation; each failure is a ValidationError.

These checks stand at the write side's door so that nothing the database driver would choke on
ever reaches it: integers outside a 32-bit column, NaN and infinity, text with control
characters (PostgreSQL refuses NUL outright) or longer than its column, dates outside the years
Larder can sensibly plan for. Messages quote at most a short excerpt of what was given.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from decimal import Decimal
from numbers import Integral, Real
from typing import Any

from operations.errors import NotFound, ValidationError

# Every INTEGER column is 32-bit on PostgreSQL; ids and quantities beyond it cannot be stored.
LARGEST_STORED_INTEGER = 2**31 - 1
EARLIEST_DATE = dt.date(2000, 1, 1)  # nothing Larder plans or records lies before this
YEARS_AHEAD = 5  # nor more than this many years after today
EXCERPT_LENGTH = 40  # characters of the caller's input that a message may quote
# Control characters except the line breaks and tab a message body may hold.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile(r"[\t\n\r]")


def excerpt(value: Any, length: int = EXCERPT_LENGTH) -> str:
    """``repr(value)`` cut to ``length`` characters (with an ellipsis), safe to echo in a message."""
    shown = repr(value)
    if len(shown) <= length:
        return shown
    return shown[: max(length - 1, 1)] + "…"


def latest_date(today: dt.date | None = None) -> dt.date:
    """The last date accepted anywhere: ``YEARS_AHEAD`` years after today."""
    today = today or dt.date.today()
    try:
        return today.replace(year=today.year + YEARS_AHEAD)
    except ValueError:  # 29 February
        return today.replace(year=today.year + YEARS_AHEAD, day=28)


def whole_number(
    value: Any, what: str, *, minimum: int = 1, maximum: int = LARGEST_STORED_INTEGER
) -> int:
    """``value`` as an int from ``minimum`` to ``maximum``; fractions, bools and text are refused.

    A float with no fraction (2.0, as a data editor may hand back) is accepted as 2.
    """
    if isinstance(value, bool) or value is None:
        raise ValidationError(f"{what} must be a whole number, not {excerpt(value)}.")
    if isinstance(value, Decimal):
        value = float(value) if value.is_finite() else float("nan")
    if isinstance(value, Real) and not isinstance(value, Integral):
        if not math.isfinite(float(value)):
            raise ValidationError(f"{what} must be a whole number, not {excerpt(value)}.")
        if not float(value).is_integer():
            raise ValidationError(
                f"{what} must be a whole number, not {excerpt(value)}: "
                "fractions are not rounded for you. Give a whole number and try again."
            )
        number = int(value)
    elif isinstance(value, Integral):
        number = int(value)
    else:
        raise ValidationError(f"{what} must be a whole number, not {excerpt(value)}.")
    if number < minimum:
        raise ValidationError(f"{what} must be at least {minimum:,}, not {number:,}.")
    if number > maximum:
        raise ValidationError(f"{what} must be at most {maximum:,}, not {excerpt(number, 20)}.")
    return number


def quantity(value: Any, what: str = "Quantity", *, maximum: int = LARGEST_STORED_INTEGER) -> int:
    """A positive whole number of units."""
    return whole_number(value, what, minimum=1, maximum=maximum)


def non_negative(value: Any, what: str, *, maximum: int = LARGEST_STORED_INTEGER) -> int:
    """A whole number of zero or more."""
    return whole_number(value, what, minimum=0, maximum=maximum)


def identifier(value: Any, what: str) -> int:
    """A database id given by the caller (a positive whole number that fits an id column)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or int(value) < 1:
        raise ValidationError(
            f"{what} must be a record id (a positive whole number), not {excerpt(value)}."
        )
    if int(value) > LARGEST_STORED_INTEGER:
        raise NotFound(f"{what} {excerpt(int(value), 20)} does not exist.")
    return int(value)


def optional_identifier(value: Any, what: str) -> int | None:
    return None if value is None else identifier(value, what)


def text(
    value: Any,
    what: str,
    *,
    max_length: int,
    required: bool = True,
    multiline: bool = False,
) -> str:
    """Stripped text no longer than ``max_length``; empty is refused when ``required``.

    Control characters (NUL and the like) are refused; ``multiline`` text may hold line breaks
    and tabs.
    """
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be text, not {excerpt(value)}.")
    value = value.strip()
    if required and not value:
        raise ValidationError(f"{what} is required.")
    if len(value) > max_length:
        raise ValidationError(
            f"{what} is too long ({len(value):,} characters; at most {max_length:,})."
        )
    if _CONTROL.search(value) or (not multiline and _LINE_BREAKS.search(value)):
        raise ValidationError(
            f"{what} contains a control character (such as NUL or a line break): "
            "type it again as plain text."
        )
    if any(unicodedata.category(char) == "Cs" for char in value):
        raise ValidationError(f"{what} contains a broken character: type it again.")
    return value


def actor_name(value: Any) -> str:
    """The username recorded in the audit log."""
    return text(value, "Actor (the user making the change)", max_length=60)


def one_of(value: Any, allowed: tuple[str, ...], what: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValidationError(f"{what} must be one of {', '.join(allowed)}; got {excerpt(value)}.")
    return value


def flag(value: Any, what: str) -> bool:
    """True or False, nothing else (1, "yes" and None are refused)."""
    if not isinstance(value, bool):
        raise ValidationError(f"{what} must be true or false, not {excerpt(value)}.")
    return value


def _within_window(day: dt.date, what: str) -> None:
    if day < EARLIEST_DATE or day > latest_date():
        raise ValidationError(
            f"{what} {day.isoformat()} is out of range: give a date from "
            f"{EARLIEST_DATE.isoformat()} to {latest_date().isoformat()}."
        )


def a_date(value: Any, what: str) -> dt.date:
    """A calendar date within Larder's window (a datetime is refused: say which day)."""
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise ValidationError(f"{what} must be a date, not {excerpt(value)}.")
    _within_window(value, what)
    return value


def a_moment(value: Any, what: str) -> dt.datetime:
    """A date and time within Larder's window."""
    if not isinstance(value, dt.datetime):
        raise ValidationError(f"{what} must be a date and time, not {excerpt(value)}.")
    _within_window(value.date(), what)
    return value


def optional_moment(value: Any, what: str) -> dt.datetime | None:
    return None if value is None else a_moment(value, what)


def id_list(value: Any, what: str, *, most: int = 1000) -> list[int]:
    """A non-empty list of record ids."""
    if not isinstance(value, (list, tuple)) or not value:
        raise ValidationError(f"Choose at least one {what.lower()}.")
    if len(value) > most:
        raise ValidationError(f"Choose at most {most:,} at once.")
    return [identifier(item, what) for item in value]
