"""Checks on raw input, shared by every operation; each failure is a ValidationError."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from numbers import Integral, Real
from typing import Any

from operations.errors import ValidationError


def whole_number(value: Any, what: str, *, minimum: int = 1) -> int:
    """``value`` as an int of at least ``minimum``; fractions, bools and text are refused.

    A float with no fraction (2.0, as a data editor may hand back) is accepted as 2.
    """
    if isinstance(value, bool) or value is None:
        raise ValidationError(f"{what} must be a whole number, not {value!r}.")
    if isinstance(value, Decimal):
        value = float(value) if value.is_finite() else float("nan")
    if isinstance(value, Integral) or isinstance(value, Real) and float(value).is_integer():
        number = int(value)
    elif isinstance(value, Real):
        raise ValidationError(
            f"{what} must be a whole number of units, not {value!r}: round it and try again."
        )
    else:
        raise ValidationError(f"{what} must be a whole number, not {value!r}.")
    if number < minimum:
        if minimum == 1:
            raise ValidationError(f"{what} must be at least 1, not {number}.")
        raise ValidationError(f"{what} must be at least {minimum}, not {number}.")
    return number


def quantity(value: Any, what: str = "Quantity") -> int:
    """A positive whole number of units."""
    return whole_number(value, what, minimum=1)


def non_negative(value: Any, what: str) -> int:
    """A whole number of zero or more."""
    return whole_number(value, what, minimum=0)


def identifier(value: Any, what: str) -> int:
    """A database id given by the caller (a positive whole number)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or int(value) < 1:
        raise ValidationError(
            f"{what} must be a record id (a positive whole number), not {value!r}."
        )
    return int(value)


def text(value: Any, what: str, *, max_length: int, required: bool = True) -> str:
    """Stripped text no longer than ``max_length``; empty is refused when ``required``."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be text, not {value!r}.")
    value = value.strip()
    if required and not value:
        raise ValidationError(f"{what} is required.")
    if len(value) > max_length:
        raise ValidationError(
            f"{what} is too long ({len(value)} characters; at most {max_length})."
        )
    return value


def actor_name(value: Any) -> str:
    """The username recorded in the audit log."""
    return text(value, "Actor (the user making the change)", max_length=60)


def one_of(value: Any, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValidationError(f"{what} must be one of {', '.join(allowed)}; got {value!r}.")
    return value


def a_date(value: Any, what: str) -> dt.date:
    """A calendar date (a datetime is refused: the caller must say which day)."""
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise ValidationError(f"{what} must be a date, not {value!r}.")
    return value
