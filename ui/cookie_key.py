"""The secret that signs the re-login cookie: from secrets, the environment, or the database.

Never a constant in the repository (STACK_NOTES). When neither ``st.secrets["cookie_key"]`` nor
``LARDER_COOKIE_KEY`` is set, the key is the one kept in the database (``data.shared_key``), so
every app server on that database signs and accepts the same cookies. The first server to start
stores it: the key of an older single-server install (the git-ignored ``.larder_cookie_key`` at
the repository root) when that file exists, so its users stay logged in, else a random one.
"""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path

import streamlit as st
from sqlalchemy import Engine

from data.shared_key import COOKIE_KEY_ROW, shared_cookie_key
from ui.db import engine as app_engine

KEY_FILE = Path(__file__).resolve().parent.parent / ".larder_cookie_key"
ENV_VAR = "LARDER_COOKIE_KEY"
MIN_KEY_LENGTH = 32
# The database's key never changes while a server runs: read it once per database and process.
_from_database_cache: dict[str, str] = {}
_cache_lock = threading.Lock()


def _from_secrets() -> str | None:
    try:
        value = st.secrets.get("cookie_key")
    except Exception:  # no secrets.toml at all is the common case, not an error
        return None
    return str(value) if value else None


def _local_key(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def _from_database(engine: Engine, key_file: Path) -> str:
    url = engine.url.render_as_string(hide_password=True)
    with _cache_lock:
        if url not in _from_database_cache:
            proposed = _local_key(key_file) or secrets.token_hex(32)
            _from_database_cache[url] = shared_cookie_key(engine, proposed)
        return _from_database_cache[url]


def cookie_key(key_file: Path = KEY_FILE, engine: Engine | None = None) -> str:
    """The cookie signing key (at least 32 characters)."""
    key = _from_secrets() or os.environ.get(ENV_VAR, "").strip()
    if not key:
        key = _from_database(engine or app_engine(), key_file)
    if len(key) < MIN_KEY_LENGTH:
        raise RuntimeError(
            f"The cookie key must be at least {MIN_KEY_LENGTH} characters; set {ENV_VAR}, "
            f"or store a longer key in the settings row {COOKIE_KEY_ROW} of the database."
        )
    return key
