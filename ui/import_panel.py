"""The Admin page's Import tab: bring a wholesaler's own files in, checked row by row first.

Choose what to import, upload a CSV or Excel file, check (or change) which column feeds which
field, confirm the date order when the file leaves it open, read the preview and the refused
rows (downloadable as CSV), then apply: every row in one transaction, or none. Mappings can be
saved by name and used again. The owner sees the history and the expected columns only.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from data.db import read_connection
from data.schema import IMPORT_KINDS
from models.import_files import (
    DATE_ORDER_LABELS,
    FIELDS,
    KEY_FIELDS,
    KIND_LABELS,
    FileRefused,
    cell_text,
    expected_columns,
    sheet_names,
)
from operations.errors import LarderError
from operations.imports import ImportRefused, apply_import, preview_import, save_import_mapping
from queries.imports import import_history, saved_mappings
from ui.components import error_state, kpi_tile, remember_success, standard_table
from ui.format import count_column

FLASH_KEY = "admin_flash"  # the Admin page shows (and clears) this message after a rerun
NONE = "— not in the file —"
DETECT, NAMES, DATA = "Detect", "Column names", "Data (no header row)"
SAMPLE_ROWS = 20
WHEN = "D MMM YYYY, HH:mm"


def _history(engine: Engine) -> None:
    with read_connection(engine) as conn:
        history = import_history(conn)
    history["kind"] = history["kind"].map(KIND_LABELS)
    standard_table(
        history,
        key="import_history",
        file_name="imports",
        column_config={
            "id": st.column_config.NumberColumn("Batch", format="%d"),
            "at": st.column_config.DatetimeColumn("Applied (UTC)", format=WHEN),
            "actor": "By",
            "kind": "Kind",
            "filename": "File",
            "sha256": st.column_config.TextColumn("SHA-256", width="small"),
            "rows": count_column("Rows"),
            "created": count_column("Created"),
            "updated": count_column("Updated"),
            "unchanged": count_column("Unchanged"),
        },
        empty_message="No file has been imported into this database yet.",
    )


def _expected(kind: str) -> None:
    with st.expander(f"Columns Larder reads for {KIND_LABELS[kind].lower()}"):
        st.caption(
            f"The key is **{KEY_FIELDS[kind]}**: importing a row whose key exists "
            + (
                "updates it."
                if kind in ("suppliers", "products", "customers")
                else "sets the count."
                if kind == "stock"
                else "skips that document (it was imported before)."
            )
            + " A file without a header row is read in this order."
        )
        st.dataframe(
            pd.DataFrame(
                expected_columns(kind), columns=["column", "type", "required", "also read as"]
            ),
            hide_index=True,
            key=f"import_expected_{kind}",
        )


def import_tab(engine: Engine, actor: str, *, read_only: bool) -> None:
    """History of applied files; for an administrator the upload, mapping, preview and apply."""
    if read_only:
        st.caption("Files imported into Larder (importing is the administrator's).")
        _history(engine)
        _expected(
            st.selectbox("Kind", IMPORT_KINDS, format_func=KIND_LABELS.get, key="import_kind")
        )
        return
    st.caption(
        "Import in this order: suppliers, products, customers, stock counts, open purchase "
        "orders, open orders. Nothing is written until you apply, and a file is applied whole "
        "or not at all. The same from the command line: `python -m operations import KIND FILE`."
    )
    kind = st.selectbox(
        "What to import", IMPORT_KINDS, format_func=KIND_LABELS.get, key="import_kind"
    )
    _expected(kind)
    uploaded = st.file_uploader("CSV or Excel file", key="import_file")
    if uploaded is None:
        st.subheader("Imported so far")
        _history(engine)
        return
    name, content = uploaded.name, uploaded.getvalue()
    with read_connection(engine) as conn:
        saved = saved_mappings(conn, kind)
    by_name = {m["name"]: m for m in saved}
    chosen_saved = st.selectbox(
        "Saved mapping",
        [None, *by_name],
        format_func=lambda n: n or "— match by name —",
        key="import_saved",
    )
    stored = by_name.get(chosen_saved) if chosen_saved else None
    stored_options = stored["options"] if stored else {}
    sheet = None
    if name.lower().endswith((".xlsx", ".xlsm")):
        try:
            sheets = sheet_names(content)
        except FileRefused as refused:
            st.error(refused.message, icon=":material/error:")
            return
        default = (
            sheets.index(stored_options["sheet"]) if stored_options.get("sheet") in sheets else 0
        )
        sheet = st.selectbox("Sheet", sheets, index=default, key="import_sheet")
    header_choice = st.radio(
        "First row",
        [DETECT, NAMES, DATA],
        horizontal=True,
        key="import_header",
        index={None: 0, True: 1, False: 2}[stored_options.get("header")],
    )
    header = {DETECT: None, NAMES: True, DATA: False}[header_choice]
    if (
        header is None
        and stored
        and not all(c.startswith("Column ") for c in stored["columns"].values())
    ):
        header = True  # a mapping saved by column names: the file's first row holds them
    base = dict(kind=kind, filename=name, content=content, sheet=sheet, header=header)
    try:
        first = preview_import(engine, **base)
    except LarderError as refused:
        error_state(refused)
        return
    table = first.table
    st.caption(
        f"{name}: {first.rows:,} rows, {'Excel' if table.file_type == 'excel' else 'CSV'}"
        + (f" separated by {table.separator!r}" if table.separator else "")
        + (f", sheet {table.sheet!r}" if table.sheet else "")
        + f", {'with' if table.has_header else 'without'} a header row."
    )
    initial = dict(first.mapping)
    if stored:  # the saved mapping's columns that this file has; the rest as matched by name
        initial.update({f: c for f, c in stored["columns"].items() if c in table.columns})
    # Widgets keyed by file and saved mapping: choosing another one presets them afresh.
    mapping = _mapping_editor(kind, table.columns, initial, f"{table.sha256[:12]}_{chosen_saved}")
    date_order, decimal_mark = _forms(first, stored_options)
    same = (
        mapping == first.mapping
        and date_order == first.date_order
        and decimal_mark == first.decimal_mark
        and (date_order is not None or not first._numeric_dates)
    )
    try:
        # A large file is read once per run when the first reading already used these choices.
        preview = (
            first
            if same
            else preview_import(
                engine, **base, mapping=mapping, date_order=date_order, decimal_mark=decimal_mark
            )
        )
    except LarderError as refused:
        error_state(refused)
        return
    _show_preview(preview)
    _save_form(engine, actor, kind, mapping, header, date_order, decimal_mark, sheet, chosen_saved)
    if preview.already is not None:
        st.info(
            f"This file was imported already ({preview.already.at:%d %b %Y %H:%M} UTC by "
            f"{preview.already.actor}, batch {preview.already.id}): applying it again changes "
            "nothing.",
            icon=":material/history:",
        )
    if preview.date_order_needed:
        st.warning("Say how the dates are written before applying.", icon=":material/event:")
    if st.button(
        f"Apply {first.rows:,} rows",
        key="import_apply",
        type="primary",
        disabled=not preview.ready,
        icon=":material/upload:",
    ):
        bar = st.progress(0.0, text="Importing…")

        def progress(done: int, total: int) -> None:
            bar.progress(
                min(done / max(total, 1), 1.0), text=f"Importing… {done:,} of {total:,} rows"
            )

        try:
            result = apply_import(
                engine,
                **base,
                actor=actor,
                mapping=mapping,
                date_order=date_order,
                decimal_mark=decimal_mark,
                progress=progress,
            )
        except ImportRefused as refused:
            error_state(refused)
        except LarderError as refused:
            error_state(refused)
        else:
            if result.already_imported:
                remember_success(FLASH_KEY, f"{name} was imported already: nothing changed.")
            else:
                remember_success(
                    FLASH_KEY,
                    f"Imported {name} ({KIND_LABELS[kind].lower()}): {result.created:,} created, "
                    f"{result.updated:,} updated, {result.unchanged:,} unchanged.",
                )


def _mapping_editor(kind: str, columns: list[str], suggested: dict, salt: str) -> dict:
    """One selectbox per field, preset from the saved or matched mapping."""
    st.markdown("**Columns** (which column of the file feeds each field)")
    options = [None, *columns]
    mapping = {}
    grid = st.columns(3)
    for i, spec in enumerate(FIELDS[kind]):
        current = suggested.get(spec.name)
        mapping[spec.name] = grid[i % 3].selectbox(
            spec.name + (" *" if spec.required else ""),
            options,
            index=options.index(current) if current in options else 0,
            format_func=lambda c: NONE if c is None else c,
            key=f"import_map_{kind}_{spec.name}_{salt}",
        )
    return mapping


def _forms(preview, stored_options: dict) -> tuple[str | None, str | None]:
    """The date order (asked when the file leaves it open) and the decimal mark."""
    left, right = st.columns(2)
    date_order = None
    if preview._numeric_dates:
        orders = list(DATE_ORDER_LABELS)
        if preview.date_order_settled:
            index = orders.index(preview.date_order)
        else:
            index = (
                orders.index(stored_options["date_order"])
                if stored_options.get("date_order")
                else None
            )
        date_order = left.radio(
            "Dates like 03/04/2026 mean",
            orders,
            index=index,
            format_func=DATE_ORDER_LABELS.get,
            key=f"import_date_order_{preview.table.sha256[:12]}",
            help="Only asked when the file's dates fit both readings, or to correct the reading.",
        )
    marks = [".", ","]
    mark_default = stored_options.get("decimal_mark") or preview.decimal_mark
    decimal_mark = right.radio(
        "Decimal mark",
        marks,
        index=marks.index(mark_default),
        format_func={".": "point (1,234.50)", ",": "comma (1.234,50)"}.get,
        horizontal=True,
        key=f"import_decimal_{preview.table.sha256[:12]}",
    )
    return date_order, decimal_mark


def _show_preview(preview) -> None:
    tiles = st.columns(4)
    with tiles[0]:
        kpi_tile("Rows", preview.rows, "Data rows in the file (blank rows skipped).")
    with tiles[1]:
        kpi_tile("Refused", len({p.line for p in preview.problems}), "Rows that would be refused.")
    with tiles[2]:
        kpi_tile("New", preview.new, "Records or documents Larder does not have yet.")
    with tiles[3]:
        kpi_tile("Known", preview.existing, "Already in Larder: updated, counted or skipped.")
    columns = [c for c in preview.mapping.values() if c]
    indexes = [preview.table.columns.index(c) for c in columns]
    sample = pd.DataFrame(
        [[cell_text(row[i]) for i in indexes] for row in preview.table.rows[:SAMPLE_ROWS]],
        columns=[f for f, c in preview.mapping.items() if c],
    )
    sample.insert(0, "line", preview.table.lines[:SAMPLE_ROWS])
    st.markdown(f"**First {min(SAMPLE_ROWS, preview.rows)} rows as Larder reads them**")
    st.dataframe(sample, hide_index=True, key="import_sample")
    if preview.problems:
        st.markdown(f"**Refused rows** ({len(preview.problems):,} problems): fix them in the file.")
        standard_table(
            pd.DataFrame(
                [(p.line, p.column, p.value, p.reason) for p in preview.problems],
                columns=["line", "column", "value", "reason"],
            ),
            key="import_problems",
            file_name="import_report",
        )
    else:
        st.success("Every row passes the checks.", icon=":material/task_alt:")


def _save_form(engine, actor, kind, mapping, header, date_order, decimal_mark, sheet, current):
    with st.form("import_save_mapping"):
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        name = left.text_input(
            "Save this mapping as", value=current or "", key="import_mapping_name"
        )
        if right.form_submit_button("Save mapping", icon=":material/save:"):
            try:
                save_import_mapping(
                    engine,
                    kind=kind,
                    name=name,
                    columns=mapping,
                    actor=actor,
                    options={
                        "header": header,
                        "date_order": date_order,
                        "decimal_mark": decimal_mark,
                        "sheet": sheet,
                    },
                )
            except LarderError as refused:
                error_state(refused)
            else:
                remember_success(FLASH_KEY, f"Saved the mapping {name.strip()!r}.")
