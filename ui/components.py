"""The shared widgets every page uses, so all pages look and read alike.

KPI tiles carry their definition on hover; the standard table is sortable, formatted and
exportable to CSV and Excel; empty and error states say what happened and what to do.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st

from operations.errors import LarderError

CURRENCY = "€"
MISSING = "—"


def _is_missing(x: Any) -> bool:
    if x is None:
        return True
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def money(x: Any) -> str:
    """€1,234.50; missing values as a dash."""
    if _is_missing(x):
        return MISSING
    value = float(x) if not isinstance(x, Decimal) else float(x)
    sign = "-" if value < 0 else ""
    return f"{sign}{CURRENCY}{abs(value):,.2f}"


def qty(x: Any) -> str:
    """Whole units with thousands separators: 12,345."""
    if _is_missing(x):
        return MISSING
    value = float(x)
    if math.isfinite(value) and value.is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def pct(x: Any, digits: int = 1) -> str:
    """A share (0.153) as a percentage: 15.3 %."""
    if _is_missing(x):
        return MISSING
    return f"{float(x) * 100:.{digits}f} %"


def kpi_tile(
    label: str,
    value: Any,
    help: str,
    delta: Any = None,
    fmt: Callable[[Any], str] = qty,
    *,
    delta_color: str = "normal",
) -> None:
    """One KPI as a bordered metric; ``help`` is the definition shown on hover."""
    shown_delta = None if delta is None or _is_missing(delta) else fmt(delta)
    st.metric(
        label,
        fmt(value),
        delta=shown_delta,
        delta_color=delta_color,
        help=help,
        border=True,
    )


def empty_state(message: str, hint: str | None = None) -> None:
    """An explained empty result: what is missing and, optionally, what to do about it."""
    st.info(message if hint is None else f"{message}\n\n{hint}", icon=":material/inbox:")


def error_state(err: LarderError) -> None:
    """A refusal from the write side, shown with its own message (never a traceback)."""
    st.error(err.message, icon=":material/error:")


def excel_bytes(df: pd.DataFrame, sheet_name: str = "Larder") -> bytes:
    """``df`` as an .xlsx workbook (openpyxl)."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        df.to_excel(writer, index=False, sheet_name=sheet_name[:31])
    return buffer.getvalue()


def csv_bytes(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode("utf-8")


def standard_table(
    df: pd.DataFrame,
    key: str,
    *,
    column_config: Mapping[str, Any] | None = None,
    file_name: str = "export",
    empty_message: str = "Nothing to show.",
    empty_hint: str | None = None,
    height: int | str = "auto",
    select_row: bool = False,
) -> int | None:
    """A sortable, formatted table with CSV and Excel downloads; an explained empty state.

    With ``select_row`` a click selects one row; its position in ``df`` is returned (else None).
    """
    if df is None or df.empty:
        empty_state(empty_message, empty_hint)
        return None
    event = st.dataframe(
        df,
        key=key,
        hide_index=True,
        column_config=dict(column_config) if column_config else None,
        height=height,
        placeholder=MISSING,
        on_select="rerun" if select_row else "ignore",
        selection_mode="single-row",
    )
    with st.container(horizontal=True, vertical_alignment="center"):
        st.download_button(
            "CSV",
            data=lambda: csv_bytes(df),
            file_name=f"{file_name}.csv",
            mime="text/csv",
            key=f"{key}_csv",
            icon=":material/download:",
            on_click="ignore",
        )
        st.download_button(
            "Excel",
            data=lambda: excel_bytes(df, file_name),
            file_name=f"{file_name}.xlsx",
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            key=f"{key}_xlsx",
            icon=":material/download:",
            on_click="ignore",
        )
        st.caption(f"{qty(len(df))} rows")
    return selected_row(event, len(df)) if select_row else None


def selected_row(event: Any, rows: int) -> int | None:
    """The selected row's position from a dataframe event (a seeded one is a plain dict)."""
    selection = (
        event["selection"] if isinstance(event, Mapping) else getattr(event, "selection", None)
    )
    if selection is None:
        return None
    picked = selection["rows"] if isinstance(selection, Mapping) else getattr(selection, "rows", [])
    if not picked:
        return None
    position = picked[0]
    return position if isinstance(position, int) and 0 <= position < rows else None
