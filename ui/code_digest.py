"""A short digest of a function's code, to tell a function a page defines from its former self.

Page scripts all run as ``__main__`` and define their reads and chart builders again on every
run, so caches key them by file, name and this digest. Nested code objects (a lambda, an inner
function) are taken by their bytecode and constants, not their printed form, which carries an
address that changes each time a page script is compiled.
"""

from __future__ import annotations

import hashlib
import types
from collections.abc import Callable


def _constants(code: types.CodeType) -> tuple:
    return tuple(
        (c.co_code, c.co_names, _constants(c)) if isinstance(c, types.CodeType) else c
        for c in code.co_consts
    )


def code_digest(fn: Callable) -> str:
    """Twelve hex digits that change when ``fn``'s body changes, and only then."""
    code = fn.__code__
    # The names a body uses (the functions and attributes it calls) are part of it: bytecode
    # refers to them by position only, so ``ov.a(x)`` and ``ov.b(x)`` compile alike.
    return hashlib.blake2b(
        code.co_code + repr((code.co_names, _constants(code))).encode(), digest_size=6
    ).hexdigest()
