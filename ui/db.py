"""The app's engine and the cheap data version that keys cached reads."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from data.bootstrap import ensure_database
from data.db import database_url, make_engine, read_connection
from queries.data_version import data_version as _query_data_version


@st.cache_resource(show_spinner=False)
def _engine_for(url: str) -> Engine:
    engine = make_engine(url)
    ensure_database(engine)  # migrate, and seed an empty database, once per process and URL
    return engine


def engine() -> Engine:
    """The engine for the configured database (one per process and ``DATABASE_URL``)."""
    return _engine_for(database_url())


def data_version(engine: Engine) -> int:
    """A number that grows whenever stock, orders, backorders, messages or settings change."""
    with read_connection(engine) as conn:
        return _query_data_version(conn)
