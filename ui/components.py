"""The shared widgets every page uses, so all pages look and read alike.

KPI tiles carry their definition on hover; the standard table is sortable, formatted and
exportable to CSV and Excel; empty and error states say what happened and what to do.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import streamlit as st
from streamlit.dataframe_util import convert_pandas_df_to_arrow_table

from reports.spreadsheet import defused
from ui.format import MISSING, _is_missing, count_column, date_column, money, pct, plain, qty

if TYPE_CHECKING:  # the write side loads scikit-learn; the login form must not wait for it
    from operations.errors import LarderError

__all__ = [
    "csv_bytes",
    "empty_state",
    "error_state",
    "excel_bytes",
    "kpi_tile",
    "money",
    "neutralise_formulas",
    "page_offset",
    "paged_table",
    "PickableTable",
    "pct",
    "qty",
    "ShownTable",
    "shown_table",
    "standard_table",
    "table_page",
]


def kpi_tile(
    label: str,
    value: Any,
    help: str,
    delta: Any = None,
    fmt: Callable[[Any], str] = qty,
    *,
    delta_color: str = "normal",
    delta_fmt: Callable[[Any], str] | None = None,
) -> None:
    """One KPI as a bordered metric; ``help`` is the definition shown on hover.

    ``delta_fmt`` formats the change when it differs from the value's format (a change of a rate
    is shown in points, see :func:`ui.format.points`).
    """
    shown_delta = None if delta is None or _is_missing(delta) else (delta_fmt or fmt)(delta)
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
    st.error(plain(err.message), icon=":material/error:")


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells cannot run as formulas; numbers stay numbers.

    Only text (object and string columns, and the column titles) is touched, so -12 stored as a
    number is exported as -12, while the text "-12" or "=HYPERLINK(...)" gets a leading quote.
    """
    out = df.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
            out[column] = series.map(defused).astype(object)
    out.columns = [defused(c) if isinstance(c, str) else c for c in out.columns]
    return out


def remember_success(key: str, message: str) -> None:
    """Keep ``message`` for the run that shows the change, then rerun the page.

    ``message`` is plain text: names and subjects people typed are shown as typed.
    """
    st.session_state[key] = message
    st.rerun()


def show_success(key: str) -> None:
    """Show, once, the success message a change left before its rerun (escaped as text)."""
    message = st.session_state.pop(key, None)
    if message:
        st.success(plain(message), icon=":material/check_circle:")


def excel_bytes(df: pd.DataFrame, sheet_name: str = "Larder") -> bytes:
    """``df`` as an .xlsx workbook (openpyxl), every text cell kept as text."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        neutralise_formulas(df).to_excel(writer, index=False, sheet_name=sheet_name[:31])
    return buffer.getvalue()


def csv_bytes(df: pd.DataFrame) -> bytes:
    """``df`` as UTF-8 CSV, every text cell kept as text."""
    # CRLF line ends (RFC 4180): the writer then quotes any field holding a CR or LF, which a
    # bare-LF file leaves unquoted, splitting one row into two.
    return neutralise_formulas(df).to_csv(index=False, lineterminator="\r\n").encode("utf-8")


@dataclasses.dataclass(frozen=True, eq=False)  # frames do not compare as one truth value
class ShownTable:
    """A table's rows twice: the frame of the columns shown (downloads, counts, the row a click
    picks) and the same rows as the Arrow table Streamlit sends (:func:`table_rows`).

    A cached read that returns ``shown_table(frame, columns)`` converts once per change of its
    data; :func:`standard_table` sends the kept table on every run in between.
    """

    frame: pd.DataFrame
    arrow: pa.Table

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def empty(self) -> bool:
        return self.frame.empty


def shown_table(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> ShownTable:
    """``frame`` (its ``columns``, in that order, when given) with its Arrow table."""
    shown = frame if columns is None else frame[list(columns)]
    return ShownTable(shown, table_rows(shown))


@dataclasses.dataclass(frozen=True, eq=False)
class PickableTable:
    """Rows a page shows in a table and offers in a picker, made once per change of their data:
    the rows as read (to look a picked one up), the table (:class:`ShownTable`) and the picker's
    text per row id."""

    rows: pd.DataFrame
    table: ShownTable
    labels: dict[Any, str]


def standard_table(
    df: pd.DataFrame | ShownTable,
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
    ``df`` may be a :class:`ShownTable`: its kept Arrow table is sent, its frame downloaded.
    """
    if df is None or df.empty:
        empty_state(empty_message, empty_hint)
        return None
    sent = df
    if isinstance(df, ShownTable):
        sent, df = df.arrow, df.frame
    event = st.dataframe(
        sent,
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


# --- A table read one page at a time ---------------------------------------------------------

PAGE_ROWS = 50


def _page_key(key: str) -> str:
    return f"{key}_page"


def table_page(
    key: str, sorts: Mapping[str, str], filters: tuple, *, rows: int = PAGE_ROWS
) -> tuple[str, bool, int]:
    """Sort controls of a paged table, and the page asked for: (sort key, descending, offset).

    ``sorts`` maps the sort keys the query accepts to their labels. The page number lives in
    the session; it goes back to the first page when ``filters`` or the sort change.
    """
    with st.container(horizontal=True, vertical_alignment="bottom"):
        sort = st.selectbox(
            "Sort by", list(sorts), format_func=lambda k: sorts[k], key=f"{key}_sort", width=220
        )
        descending = st.toggle("Descending", key=f"{key}_descending")
    return sort, descending, page_offset(key, (tuple(filters), sort, descending), rows=rows)


def page_offset(key: str, seen: object, *, rows: int = PAGE_ROWS) -> int:
    """The offset of the page of table ``key`` asked for; back to the first page when ``seen``
    (the filters, the sort) changes."""
    if st.session_state.get(f"{key}_seen") != seen:
        st.session_state[f"{key}_seen"] = seen
        st.session_state[_page_key(key)] = 1
    page = int(st.session_state.get(_page_key(key)) or 1)
    return (max(page, 1) - 1) * rows


def table_rows(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> pa.Table:
    """``frame`` (its ``columns``, in that order, when given) as the Arrow table Streamlit sends.

    ``st.dataframe`` converts a frame to Arrow on every run that shows it. A cached read that
    returns ``table_rows(frame)`` converts once per change of its data, and the runs in between
    send the table it kept (:func:`paged_table` takes either).
    """
    shown = frame if columns is None else frame[list(columns)]
    return convert_pandas_df_to_arrow_table(shown, preserve_index=False)


def paged_table(
    df: pd.DataFrame | pa.Table,
    key: str,
    *,
    total: int,
    offset: int,
    export: Callable[[], pd.DataFrame],
    column_config: Mapping[str, Any] | None = None,
    file_name: str = "export",
    empty_message: str = "Nothing to show.",
    empty_hint: str | None = None,
    rows: int = PAGE_ROWS,
    height: int | str = "auto",
) -> None:
    """One page of a table (``df``, rows ``offset``.. of ``total``; a frame or
    :func:`table_rows`), its page number and CSV and Excel downloads of every row the filters
    match (``export`` runs on the click)."""
    if df is None or len(df) == 0:
        empty_state(empty_message, empty_hint)
        return
    st.dataframe(
        df,
        key=key,
        hide_index=True,
        column_config=dict(column_config) if column_config else None,
        height=height,
        placeholder=MISSING,
    )
    pages = max(1, -(-total // rows))
    with st.container(horizontal=True, vertical_alignment="center"):
        if pages > 1:
            page_key = _page_key(key)
            st.session_state[page_key] = min(
                max(int(st.session_state.get(page_key) or 1), 1), pages
            )
            st.number_input(
                f"Page (of {qty(pages)})",
                min_value=1,
                max_value=pages,
                step=1,
                key=page_key,
                width=160,
            )
        st.caption(f"Rows {qty(offset + 1)}–{qty(offset + len(df))} of {qty(total)}")
        st.download_button(
            "CSV",
            data=lambda: csv_bytes(export()),
            file_name=f"{file_name}.csv",
            mime="text/csv",
            key=f"{key}_csv",
            icon=":material/download:",
            on_click="ignore",
        )
        st.download_button(
            "Excel",
            data=lambda: excel_bytes(export(), file_name),
            file_name=f"{file_name}.xlsx",
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            key=f"{key}_xlsx",
            icon=":material/download:",
            on_click="ignore",
        )


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


# Columns of the "backorders waiting on a purchase order" table (Replenishment, In transit).
WAITING_BACKORDER_COLUMNS = {
    "customer": st.column_config.TextColumn("Customer"),
    "tier": st.column_config.TextColumn("Tier"),
    "order_number": st.column_config.TextColumn("Order"),
    "sku": st.column_config.TextColumn("SKU"),
    "qty_open": count_column("Units"),
    "promised_date": date_column("Promised"),
    "estimated_date": date_column("Expected"),
    "late_case_date": date_column("Late case"),
    "reason": st.column_config.TextColumn("Waits on", width="large"),
}


def waiting_backorders_rows(df: pd.DataFrame) -> ShownTable:
    """The rows of :func:`waiting_backorders_table`, for a cached read to keep."""
    return shown_table(df.drop(columns="backorder_id"))


def waiting_backorders_table(rows: ShownTable, key: str, file_name: str) -> None:
    """The open backorders that wait on one purchase order, with their dates and reason
    (``rows`` as :func:`waiting_backorders_rows` keeps them)."""
    standard_table(
        rows,
        key=key,
        column_config=WAITING_BACKORDER_COLUMNS,
        file_name=file_name,
        empty_message="No open backorder waits on this purchase order.",
    )
