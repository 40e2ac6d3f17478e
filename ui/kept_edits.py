"""Unsaved edits of an editable grid, kept in the session by row id.

Streamlit forgets a grid's edits when a run does not draw it: another tab is open, or another
purchase order is chosen. Folding the edits into the session by row id (on every change) lets a
page draw the grid again with them, and save them later, whatever was drawn in between.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import pandas as pd
import streamlit as st


def keep(editor_key: str, store_key: str, row_ids: Sequence[Hashable]) -> None:
    """Fold the grid's edits (``edited_rows``, by position in the frame it was drawn with) into
    ``store_key``, by row id. Used as the grid's ``on_change`` and before a save."""
    edits = (st.session_state.get(editor_key) or {}).get("edited_rows", {})
    kept = st.session_state.setdefault(store_key, {})
    for position, change in edits.items():
        row_id = row_ids[int(position)]
        kept[row_id] = {**kept.get(row_id, {}), **change}


def kept_for(store_key: str, row_ids: Sequence[Hashable]) -> dict[Hashable, dict[str, Any]]:
    """The kept edits of these rows (row id -> {column: value})."""
    kept = st.session_state.get(store_key, {})
    return {row_id: kept[row_id] for row_id in row_ids if row_id in kept}


def with_kept(
    frame: pd.DataFrame, store_key: str, row_ids: Sequence[Hashable], convert=None
) -> pd.DataFrame:
    """``frame`` (positions matching ``row_ids``) with the kept edits written into it.
    ``convert(column, value)`` turns a kept value back into the column's type."""
    kept = kept_for(store_key, row_ids)
    if not kept:
        return frame
    frame = frame.copy()
    for position, row_id in enumerate(row_ids):
        for column, value in kept.get(row_id, {}).items():
            if column in frame.columns:
                frame.iat[position, frame.columns.get_loc(column)] = (
                    convert(column, value) if convert else value
                )
    return frame


def forget(store_key: str, row_ids: Sequence[Hashable]) -> None:
    """Drop the kept edits of these rows (after they were saved)."""
    kept = st.session_state.get(store_key, {})
    for row_id in row_ids:
        kept.pop(row_id, None)


def kept_index(store_key: str, options: Sequence[Hashable]) -> int:
    """The position of the choice kept under ``store_key`` among ``options`` (0 if gone)."""
    choice = st.session_state.get(store_key)
    return options.index(choice) if choice in options else 0
