"""The secret that signs the re-login cookie: from secrets, the environment, or a local file.

Never a constant in the repository (STACK_NOTES). When neither ``st.secrets["cookie_key"]`` nor
``LARDER_COOKIE_KEY`` is set, a random key is generated on first run into ``.larder_cookie_key``
at the repository root (git-ignored, readable by the owner only).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import streamlit as st

KEY_FILE = Path(__file__).resolve().parent.parent / ".larder_cookie_key"
ENV_VAR = "LARDER_COOKIE_KEY"
MIN_KEY_LENGTH = 32


def _from_secrets() -> str | None:
    try:
        value = st.secrets.get("cookie_key")
    except Exception:  # no secrets.toml at all is the common case, not an error
        return None
    return str(value) if value else None


def _from_file(path: Path) -> str:
    try:
        # O_EXCL: two servers starting at once must not write two different keys.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def cookie_key(key_file: Path = KEY_FILE) -> str:
    """The cookie signing key (at least 32 characters)."""
    key = _from_secrets() or os.environ.get(ENV_VAR, "").strip() or _from_file(key_file)
    if len(key) < MIN_KEY_LENGTH:
        raise RuntimeError(
            f"The cookie key must be at least {MIN_KEY_LENGTH} characters; "
            f"set {ENV_VAR} or delete {key_file.name} to generate a new one."
        )
    return key
