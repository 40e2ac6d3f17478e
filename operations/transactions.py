"""The door every public write operation goes through: retries when busy, no driver errors out.

Each operation is one transaction that changes nothing when it fails, so running it again is
safe. SQLite waits for its write lock on the busy timeout; when even that runs out (or
PostgreSQL reports a deadlock or a serialization failure, or every pooled connection is in use)
the operation is tried again after a short, growing pause, and after the last attempt the caller
gets :class:`Busy` with a message a person can act on, never the driver's exception.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy import exc as sa_exc

from operations.errors import Busy, LarderError, StorageRefused

BUSY_ATTEMPTS = 4  # tries of one operation before telling the person to try again
BUSY_FIRST_PAUSE_S = 0.05  # pause after the first busy try; doubled after each further one
# PostgreSQL: serialization failure, deadlock detected, lock not available.
BUSY_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
BUSY_MESSAGE = "Larder is busy with other changes: nothing was saved. Try again in a moment."

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def is_busy(error: BaseException) -> bool:
    """True for the driver errors that only mean 'not now': locks, deadlocks, a full pool."""
    if isinstance(error, sa_exc.TimeoutError):  # no pooled connection came free in time
        return True
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    original = error.orig
    if getattr(original, "sqlstate", None) in BUSY_SQLSTATES:
        return True
    if isinstance(error, sa_exc.OperationalError):
        words = str(original).lower()
        return "database is locked" in words or "database is busy" in words
    return False


def write_operation(operation: Callable[P, R]) -> Callable[P, R]:
    """Run ``operation``, again while the database is busy; refuse with a LarderError otherwise."""

    @functools.wraps(operation)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        pause = BUSY_FIRST_PAUSE_S
        for attempt in range(1, BUSY_ATTEMPTS + 1):
            try:
                return operation(*args, **kwargs)
            except LarderError:
                raise
            except (sa_exc.SQLAlchemyError, OverflowError) as error:
                if not is_busy(error):
                    log.exception("%s: the database refused the change", operation.__name__)
                    raise StorageRefused(
                        "The database refused this change, so nothing was saved. Check the "
                        "values given; if they look right, tell the administrator."
                    ) from error
                if attempt == BUSY_ATTEMPTS:
                    raise Busy(BUSY_MESSAGE) from error
                time.sleep(pause * (1 + random.random()))
                pause *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    return run
