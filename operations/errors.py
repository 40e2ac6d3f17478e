"""Domain errors raised by the write side: each carries a message a person can act on."""

from __future__ import annotations


class LarderError(Exception):
    """Base of every refusal: ``message`` says what was wrong and what to do instead."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(LarderError):
    """The input itself is wrong (a zero quantity, an unknown role, a password too short…)."""


class NotFound(LarderError):
    """The input names something that does not exist (an unknown SKU, customer, order, PO…)."""


class InvalidState(LarderError):
    """The request is well formed but not allowed now (cancelling a cancelled order…)."""


class Busy(LarderError):
    """The database is taken by other changes right now; trying again shortly will work."""


class StorageRefused(LarderError):
    """The database refused a change that the checks let through (logged: a check is missing)."""


class ConfirmationNeeded(ValidationError):
    """The request is unusual (a far larger quantity than usual): it goes through once confirmed."""
