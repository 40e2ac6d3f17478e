"""The ZIP to leave Larder: every file against the database, text defused, the command line."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from sqlalchemy import func, select, text, update

from data.db import read_connection, write_session
from data.schema import (
    Backorder,
    Customer,
    Order,
    OrderLine,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Stock,
    StockLedger,
    Supplier,
)
from reports import __main__ as cli
from reports.export import export_bytes, export_files, write_export
from tests import apptest_support
from tests.analytics_world import build_analytics_world
from tests.apptest_support import app_test

fresh_caches = apptest_support.fresh_caches
fresh_db_url = apptest_support.fresh_db_url

OPEN_FILES = ("open_orders.csv", "open_purchase_orders.csv")
TABLE_OF = {
    "suppliers.csv": Supplier,
    "products.csv": Product,
    "customers.csv": Customer,
    "stock.csv": Stock,
    "orders.csv": Order,
    "order_lines.csv": OrderLine,
    "backorders.csv": Backorder,
    "purchase_orders.csv": PurchaseOrder,
    "purchase_order_lines.csv": PurchaseOrderLine,
    "stock_ledger.csv": StockLedger,
}


@pytest.fixture
def aworld(engine):
    build_analytics_world(engine)
    with write_session(engine) as s:  # text a spreadsheet would run, and text that merely looks so
        s.execute(
            update(Customer)
            .where(Customer.code == "H1")
            .values(name='=HYPERLINK("http://x.example","open me")')
        )
        s.execute(update(Customer).where(Customer.code == "S1").values(phone="+44 1632 960000"))
    return engine


def _read(archive: bytes) -> dict[str, list[dict]]:
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        files = {}
        for name in zf.namelist():
            if name.endswith(".csv"):
                body = zf.read(name).decode("utf-8")
                files[name] = list(csv.DictReader(io.StringIO(body, newline="")))
        files["manifest.json"] = json.loads(zf.read("manifest.json"))
    return files


def test_every_file_has_every_row_of_its_table(aworld):
    files = _read(export_bytes(aworld))
    assert sorted(name for name in files if name.endswith(".csv")) == sorted(export_files())
    assert set(TABLE_OF) | set(OPEN_FILES) == set(export_files())
    with read_connection(aworld) as conn:
        for name, table in TABLE_OF.items():
            count = conn.execute(select(func.count()).select_from(table)).scalar_one()
            assert len(files[name]) == count > 0, name
    listed = {f["name"]: f["rows"] for f in files["manifest.json"]["files"]}
    assert listed == {name: len(files[name]) for name in export_files()}
    assert files["manifest.json"]["files"][0]["columns"][:2] == ["code", "name"]


def test_open_orders_and_purchase_orders_list_what_is_still_to_come(aworld):
    files = _read(export_bytes(aworld))
    with read_connection(aworld) as conn:
        lines = conn.execute(
            text(
                "SELECT o.number, c.code, p.sku, l.qty_ordered - l.qty_shipped - l.qty_cancelled "
                "FROM order_lines l JOIN orders o ON o.id = l.order_id "
                "JOIN customers c ON c.id = o.customer_id JOIN products p ON p.id = l.product_id "
                "WHERE o.status <> 'cancelled' "
                "AND l.qty_ordered - l.qty_shipped - l.qty_cancelled > 0 "
                "ORDER BY l.order_id, l.line_no"
            )
        ).all()
        po_lines = conn.execute(
            text(
                "SELECT po.number, s.code, p.sku, pl.qty_ordered - pl.qty_received "
                "FROM purchase_order_lines pl JOIN purchase_orders po ON po.id = pl.po_id "
                "JOIN suppliers s ON s.id = po.supplier_id JOIN products p ON p.id = pl.product_id "
                "WHERE po.status IN ('approved', 'sent', 'partially_received') "
                "AND pl.qty_ordered > pl.qty_received ORDER BY pl.po_id, pl.id"
            )
        ).all()
    got = [
        (r["order_number"], r["customer_code"], r["sku"], int(r["qty"]))
        for r in files["open_orders.csv"]
    ]
    assert got == [tuple(row) for row in lines] and len(got) > 3
    got_pos = [
        (r["po_number"], r["supplier_code"], r["sku"], int(r["qty"]))
        for r in files["open_purchase_orders.csv"]
    ]
    assert got_pos == [tuple(row) for row in po_lines] == [("PO-A2", "MILL", "FLOUR-25", 10)]


def test_order_lines_and_backorders_carry_their_keys_quantities_and_dates(aworld):
    files = _read(export_bytes(aworld))
    with read_connection(aworld) as conn:
        lines = conn.execute(
            text(
                "SELECT o.number, l.line_no, p.sku, l.qty_ordered, l.qty_backordered, "
                "l.qty_cancelled, l.unit_price FROM order_lines l "
                "JOIN orders o ON o.id = l.order_id JOIN products p ON p.id = l.product_id "
                "ORDER BY l.order_id, l.line_no"
            )
        ).all()
        backorders = conn.execute(
            text(
                "SELECT o.number, p.sku, c.code, b.qty, b.status, b.promised_date, "
                "b.estimated_date, b.estimated_late_date FROM backorders b "
                "JOIN order_lines l ON l.id = b.order_line_id JOIN orders o ON o.id = l.order_id "
                "JOIN products p ON p.id = b.product_id JOIN customers c ON c.id = b.customer_id "
                "ORDER BY b.id"
            )
        ).all()
    got = [
        (
            r["order_number"],
            int(r["line_no"]),
            r["sku"],
            int(r["qty_ordered"]),
            int(r["qty_backordered"]),
            int(r["qty_cancelled"]),
            r["unit_price"],
        )
        for r in files["order_lines.csv"]
    ]
    assert got == [(n, ln, s, q, b, c, f"{p:.2f}") for n, ln, s, q, b, c, p in lines]

    def day(value) -> str:
        return "" if value is None else str(value)[:10]

    assert [
        (
            r["order_number"],
            r["sku"],
            r["customer_code"],
            int(r["qty"]),
            r["status"],
            r["promised_date"],
            r["likely_date"],
            r["late_case_date"],
        )
        for r in files["backorders.csv"]
    ] == [(n, s, c, q, st, day(p), day(e), day(late)) for n, s, c, q, st, p, e, late in backorders]
    assert any(r["status"] == "open" and r["likely_date"] for r in files["backorders.csv"])


def test_text_that_would_run_as_a_formula_is_defused_and_numbers_stay_numbers(aworld):
    files = _read(export_bytes(aworld))
    customers = {r["code"]: r for r in files["customers.csv"]}
    assert customers["H1"]["name"] == '\'=HYPERLINK("http://x.example","open me")'
    assert customers["S1"]["phone"] == "'+44 1632 960000"
    deltas = [int(r["on_hand_delta"]) for r in files["stock_ledger.csv"]]
    assert min(deltas) < 0  # negative movements are written as numbers, no quote
    assert {r["active"] for r in files["products.csv"]} == {"true"}


@pytest.fixture
def sqlite_world(sqlite_engine, monkeypatch):
    """The analytics world in a SQLite file that DATABASE_URL names (what the command reads)."""
    build_analytics_world(sqlite_engine)
    monkeypatch.setenv("DATABASE_URL", sqlite_engine.url.render_as_string(hide_password=False))
    return sqlite_engine


def test_the_command_writes_the_zip_and_refuses_a_folder(sqlite_world, tmp_path, capsys):
    target = tmp_path / "leave.zip"
    assert cli.main(["export", str(target)]) == 0
    out = capsys.readouterr().out
    assert f"Wrote {target}: 12 files" in out
    assert not (tmp_path / "leave.zip.partial").exists()
    assert sorted(zipfile.ZipFile(target).namelist()) == sorted([*export_files(), "manifest.json"])
    with pytest.raises(SystemExit):
        cli.main(["export", str(tmp_path)])
    assert "is a folder" in capsys.readouterr().err


def test_the_weekly_command_writes_a_pdf_and_refuses_a_tuesday(sqlite_world, tmp_path, capsys):
    target = tmp_path / "week.pdf"
    assert cli.main(["weekly", str(target), "--week", "2026-06-08"]) == 0
    assert target.read_bytes().startswith(b"%PDF-")
    assert "Week of 08 Jun 2026 to 14 Jun 2026" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["weekly", str(target), "--week", "2026-06-09"])
    assert "is a Tuesday" in capsys.readouterr().err


def test_an_empty_database_exports_headers_only(engine):
    buffer = io.BytesIO()
    manifest = write_export(engine, buffer)
    assert [f["rows"] for f in manifest["files"]] == [0] * len(export_files())
    files = _read(buffer.getvalue())
    assert files["products.csv"] == []
    with zipfile.ZipFile(buffer) as zf:
        assert zf.read("products.csv").decode().startswith("sku,name,category,")


@pytest.mark.usefixtures("fresh_caches")
@pytest.mark.parametrize("username", ["admin", "owner"])
def test_the_admin_page_offers_the_export(fresh_db_url, username):
    at = app_test("pages/admin.py", username)
    at.session_state["admin_tab"] = "Export"  # only the open tab is drawn
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    labels = [e.proto.label for e in at.get("download_button")]
    assert "Export everything (ZIP)" in labels
    assert any("python -m reports export" in c.value for c in at.caption)
