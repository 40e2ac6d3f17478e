"""The app's engine and the cached reads of live pages, keyed by the versions of their subjects.

A page declares what each cached read depends on::

    @live_read("stock", "backorders", "catalogue")
    def _waiting(engine, category):
        return stock.something(engine, category=category)

    table = _waiting(db, "Dairy")

Each call reads the versions of those subjects (one cheap statement, see
``queries.data_version.subject_versions``) and returns the cached result while none of them has
moved; a write to any other subject leaves the cache alone. ``data/changes.py`` lists the
subjects and the tables each covers.
"""

from __future__ import annotations

import contextvars
import dataclasses
import datetime as dt
import functools
import itertools
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st
from sqlalchemy import Engine

from data.bootstrap import ensure_database
from data.changes import check_subjects, local_commits
from data.db import database_url, make_engine, read_connection
from data.migrate import head_revisions
from queries.data_version import subject_versions
from ui.code_digest import code_digest

# Cached reads are keyed by their subjects' versions; the ttl only bounds memory and age.
CACHE_TTL_S = 600
SLOW_TTL_S = 3600

# How long one reading of the versions serves the reads that follow it (one page run).
VERSIONS_FRESH_S = 0.25
_versions_memo: weakref.WeakKeyDictionary[Engine, tuple[float, int, dict[str, int]]] = (
    weakref.WeakKeyDictionary()
)

# Reads with a settle time: the versions key each one last used, and since when.
_settled: dict[tuple, tuple[tuple[int, ...], float]] = {}
_settled_lock = threading.Lock()

# Every live read defined so far: its name ("file stem.function") and the subjects it declared.
LIVE_READS: dict[str, tuple[str, ...]] = {}
# The reads that declared subjects they reach only by fixed columns (``fixed``), and those.
FIXED_READS: dict[str, tuple[str, ...]] = {}
# The cached function of each read, by (name, digest of its body, ttl).
_cached_bodies: dict[tuple[str, str, int], Callable] = {}
_cached_bodies_lock = threading.Lock()

# The call keys of cached reads (read, versions, arguments) and the number each one is cached
# under. Streamlit hashes a cached function's arguments on every call, and looks up each
# positional argument's name in the function's signature; a page run after a write makes some
# forty such calls. A plain-value call key is numbered here once, and Streamlit hashes only
# that number (see _call_token).
_tokens: dict[tuple, int] = {}
_tokens_lock = threading.Lock()
_token_numbers = itertools.count()
MAX_TOKENS = 20_000
_PLAIN = (str, int, float, bool, type(None), dt.date, dt.datetime, dt.time, dt.timedelta)

# The cached reads running now (names, outermost first), so a test can tell which read ran a
# statement: a read that calls another depends on that one's subjects too.
_current_reads: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "larder_current_reads", default=()
)


# The migrations' head, read from their scripts now (server start) rather than by the first page
# run, which then only compares it with the database's version (data.bootstrap).
head_revisions()


@st.cache_resource(show_spinner=False)
def _engine_for(url: str) -> Engine:
    engine = make_engine(url)
    ensure_database(engine)  # migrate, and seed an empty database, once per process and URL
    return engine


def engine() -> Engine:
    """The engine for the configured database (one per process and ``DATABASE_URL``)."""
    return _engine_for(database_url())


def versions(engine: Engine, subjects) -> tuple[int, ...]:
    """The versions of ``subjects`` (sorted by name).

    One statement reads every subject's version; the answer serves the reads of the same run
    for ``VERSIONS_FRESH_S``, unless this process committed a write meanwhile. A key that old
    can only be older than the data read after it, so the next refresh re-reads; it is never
    newer than the data it keys.
    """
    now = time.monotonic()
    commits = local_commits()
    memo = _versions_memo.get(engine)
    if memo is None or memo[1] != commits or not 0 <= now - memo[0] < VERSIONS_FRESH_S:
        with read_connection(engine) as conn:
            memo = (now, commits, subject_versions(conn))
        _versions_memo[engine] = memo
    every = memo[2]
    return tuple(every[s] for s in sorted(subjects))


def _exact(value: Any) -> Any:
    """``value`` as a hashable key that tells apart what Python's ``==`` would not (1, 1.0 and
    True; a list and a tuple), for plain values, tuples, lists, frozensets and frozen
    dataclasses of them; TypeError for anything else."""
    kind = type(value)
    if kind is float and value != value:  # NaN equals nothing, not even itself
        return kind, "nan"
    if kind in _PLAIN:
        return kind, value
    if kind in (tuple, list):
        return kind, tuple(_exact(v) for v in value)
    if kind is frozenset:
        return kind, frozenset(_exact(v) for v in value)
    if dataclasses.is_dataclass(kind) and kind.__dataclass_params__.frozen:
        return kind, tuple(_exact(getattr(value, f.name)) for f in dataclasses.fields(value))
    raise TypeError(f"no exact key for {kind.__name__}")


def _call_token(read: tuple, key: tuple[int, ...], args: tuple, kwargs: dict) -> tuple:
    """What Streamlit hashes for one call of a cached read: a number given to this exact call
    key, or the arguments themselves when one of them is not a plain value (a frame, say)."""
    try:
        call_key = (read, key, _exact(args), _exact(sorted(kwargs.items())))
    except TypeError:
        return ("arguments", key, args, kwargs)
    with _tokens_lock:
        number = _tokens.get(call_key)
        if number is None:
            if len(_tokens) >= MAX_TOKENS:  # keep the newest three quarters; the rest are
                surplus = len(_tokens) - MAX_TOKENS * 3 // 4  # numbered anew when called again
                for old in list(itertools.islice(_tokens, surplus)):
                    del _tokens[old]
            number = _tokens[call_key] = next(_token_numbers)
    return ("call", number)


def current_reads() -> tuple[str, ...]:
    """The names of the cached reads whose bodies are running now, outermost first."""
    return _current_reads.get()


def live_read(
    *subjects: str, ttl: int = CACHE_TTL_S, settle_s: float = 0, fixed: tuple[str, ...] = ()
) -> Callable:
    """Cache a read ``fn(engine, *args)`` until a subject it depends on changes.

    The other arguments key the cache as ``st.cache_data`` arguments do. ``settle_s`` is for
    slow figures over a long window (a year's turnover) that one more order cannot visibly
    move: after a change the cached figure is kept up to that many seconds more, so a busy
    hour re-reads it at most once per ``settle_s`` instead of after every order. ``fixed``
    names subjects whose rows the read reaches only through rows of ``subjects`` and reads only
    by their columns fixed at insert (data/changes.py, "Facts fixed at insert"): they do not
    key it. The wrapped function keeps ``subjects`` and ``read_name`` as attributes.
    """
    names = check_subjects(subjects)
    fixed = check_subjects(fixed)
    if set(fixed) & set(names):
        raise ValueError(f"{sorted(set(fixed) & set(names))} both key the read and do not")

    def decorate(fn: Callable) -> Callable:
        # Page scripts all run as "__main__": the file tells two pages' "_kpis" apart, and the
        # digest of the body a changed function from its former self.
        digest = code_digest(fn)
        read_name = f"{Path(fn.__code__.co_filename).stem}.{fn.__qualname__}"
        LIVE_READS[read_name] = names
        if fixed:
            FIXED_READS[read_name] = fixed
        # A page defines its reads again on every run; the cached function built the first time
        # serves the same body (same name and digest) from then on, instead of a new wrapper
        # (and a look at the source) per read per run.
        memo_key = (read_name, digest, ttl)
        cached = _cached_bodies.get(memo_key)
        if cached is None:

            def body(*, _engine: Engine, call: tuple, _arguments: tuple[tuple, dict]):
                # ``call`` keys the cache (see _call_token); the arguments are not hashed.
                args, kwargs = _arguments
                token = _current_reads.set((*_current_reads.get(), read_name))
                try:
                    return fn(_engine, *args, **kwargs)
                finally:
                    _current_reads.reset(token)

            # st.cache_data tells functions apart by module and name: one cache per read.
            body.__module__ = fn.__module__
            body.__qualname__ = f"{read_name}__live_{digest}"
            cached = st.cache_data(ttl=ttl, show_spinner=False)(body)
            with _cached_bodies_lock:
                cached = _cached_bodies.setdefault(memo_key, cached)

        @functools.wraps(fn)
        def call(engine: Engine, *args: Any, **kwargs: Any):
            key = versions(engine, names)
            if settle_s:
                key = _settled_key((read_name, id(engine), args, tuple(kwargs.items())), key)
            call = _call_token(memo_key, key, args, kwargs)
            return cached(_engine=engine, call=call, _arguments=(args, kwargs))

        def _settled_key(slot: tuple, key: tuple[int, ...]) -> tuple[int, ...]:
            now = time.monotonic()
            with _settled_lock:
                kept = _settled.get(slot)
                if kept is not None and kept[0] != key and now - kept[1] < settle_s:
                    return kept[0]
                if kept is None or kept[0] != key:
                    _settled[slot] = (key, now)
            return key

        call.subjects = names
        call.read_name = read_name
        return call

    return decorate
