"""The Admin page's Export tab: every table needed to leave Larder, as one ZIP."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from data.schema import utcnow


def export_panel(engine: Engine) -> None:
    """A download button that writes the ZIP when clicked (nothing is made before)."""
    from reports.export import export_files

    st.caption(
        "One ZIP of CSV files (UTF-8, comma-separated): "
        + ", ".join(f"`{name}`" for name in export_files())
        + ", and `manifest.json` with each file's columns and row count. Rows name products, "
        "customers, orders, purchase orders, suppliers and warehouses by their codes and "
        "numbers, so the files load into another system. Text that a spreadsheet would run "
        "as a formula starts with a single quote. The same from the command line: "
        "`python -m reports export larder-export.zip`."
    )

    def make() -> bytes:
        from reports.export import export_bytes

        return export_bytes(engine)

    st.download_button(
        "Export everything (ZIP)",
        data=make,
        file_name=f"larder-export-{utcnow():%Y%m%d-%H%M}.zip",
        mime="application/zip",
        key="admin_export_zip",
        on_click="ignore",
        icon=":material/archive:",
        help="Made when clicked; a large history takes a minute or two.",
    )
