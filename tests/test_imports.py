"""Importing a wholesaler's own files: every quirk of real exports, on SQLite and PostgreSQL.

The files are made by hand here, byte by byte, so each test shows the exact form it reads.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from data.db import write_session
from data.schema import (
    AuditLog,
    Backorder,
    Customer,
    ImportBatch,
    Order,
    OrderLine,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Setting,
    StockLedger,
)
from models import import_files
from models.import_files import FileRefused, parse_date, parse_number, read_file
from operations import LarderError, ValidationError
from operations.errors import InvalidState
from operations.imports import ImportRefused, apply_import, preview_import
from tests import operations_world
from tests.operations_world import add_admin, fetch_rows, snapshot, stock_of

world = operations_world.world
MB = 1_000_000


def imp(engine, kind: str, name: str, content: bytes, **options):
    return apply_import(engine, kind=kind, filename=name, content=content, actor="admin", **options)


@pytest.fixture
def admin_world(engine, world):
    add_admin(engine)
    return world


def xlsx(sheets: dict[str, list[list]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def products(engine, *skus):
    rows = fetch_rows(
        engine,
        select(Product.sku, Product.name, Product.category, Product.cost, Product.price)
        .where(Product.sku.in_(skus))
        .order_by(Product.sku),
    )
    return [tuple(row) for row in rows]


# --- Reading files (no database) -----------------------------------------------------------


def test_bom_semicolons_and_crlf_are_read():
    content = "\ufeffSKU;Name\r\nA-1;Flour\r\nA-2;Salt\r\n".encode()
    table = read_file("x.csv", content, max_bytes=MB, kind="products")
    assert table.columns == ["SKU", "Name"]
    assert table.separator == ";"
    assert table.rows == [("A-1", "Flour"), ("A-2", "Salt")]
    assert table.lines == [2, 3]


def test_a_windows_1252_file_is_read_without_a_decoded_copy():
    table = read_file("c.csv", b"code;name\r\nK1;Caf\xe9 Rouge\r\n", max_bytes=MB)
    assert table.rows == [("K1", "Café Rouge")]
    assert import_files.encoding_of("Café".encode()) == "utf-8-sig"


def test_tabs_and_bare_cr_line_endings_are_read():
    content = b"sku\tname\rA-1\tFlour\rA-2\tSalt\r"
    table = read_file("x.tsv", content, max_bytes=MB, kind="products")
    assert table.separator == "\t"
    assert table.rows == [("A-1", "Flour"), ("A-2", "Salt")]


def test_a_headerless_file_is_detected_and_numbered_columns_map_in_order():
    content = b"A-1,Flour,Dry goods,MILL,1.00,2.00\n"
    table = read_file("x.csv", content, max_bytes=MB, kind="products")
    assert not table.has_header
    assert table.columns[:2] == ["Column 1", "Column 2"]
    mapping = import_files.suggest_mapping("products", table.columns, has_header=False)
    assert mapping["sku"] == "Column 1" and mapping["price"] == "Column 6"


def test_identical_rows_are_kept_and_blank_rows_skipped():
    content = b"order_number,sku,qty\nX1,A,2\nX1,A,2\n,,\nX1,A,2\n"
    table = read_file("o.csv", content, max_bytes=MB, kind="orders")
    assert table.rows == [("X1", "A", "2")] * 3
    assert table.lines == [2, 3, 5]


@pytest.mark.parametrize(
    ("text", "mark", "expected"),
    [
        ("1,234.50", ".", Decimal("1234.50")),
        ("1.234,50", ",", Decimal("1234.50")),
        ("12,5", ",", Decimal("12.5")),
        ("€ 1 234,50", ",", Decimal("1234.50")),
        ("$2,000", ".", Decimal("2000")),
        ("1'234.5", ".", Decimal("1234.5")),
    ],
)
def test_numbers_with_decimal_commas_and_thousands_separators(text, mark, expected):
    assert parse_number(text, mark) == expected


def test_text_that_is_not_a_number_says_so():
    with pytest.raises(ValueError, match="not a number"):
        parse_number("12,34,5", ".")
    with pytest.raises(ValueError, match="with a decimal comma, write it like 1.234,50"):
        parse_number("1,234.50", ",")


def test_the_decimal_mark_is_detected_from_the_values():
    assert import_files.detect_decimal_mark(["1.234,50", "7"]) == (",", True)
    assert import_files.detect_decimal_mark(["1,234.50"]) == (".", True)
    assert import_files.detect_decimal_mark(["1,234"]) == (".", False)


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("2026-03-04", "dmy", dt.date(2026, 3, 4)),
        ("2026-03-04 00:00:00", "dmy", dt.date(2026, 3, 4)),
        ("04/03/2026", "dmy", dt.date(2026, 3, 4)),
        ("03/04/26", "mdy", dt.date(2026, 3, 4)),
        ("04-Mar-26", None, dt.date(2026, 3, 4)),
        ("4 March 2026", None, dt.date(2026, 3, 4)),
        ("N/A", None, None),
        ("Date Not Captured", None, None),
        ("", None, None),
    ],
)
def test_each_date_form_and_placeholder(text, order, expected):
    assert parse_date(text, order) == expected


def test_an_ambiguous_numeric_date_needs_the_order():
    assert import_files.detect_date_order(["03/04/2026", "05/06/2026"]) == ("dmy", False)
    assert import_files.detect_date_order(["25/03/2026", "03/04/2026"]) == ("dmy", True)
    assert import_files.detect_date_order(["03/25/2026"]) == ("mdy", True)
    assert import_files.detect_date_order(["2026-03-25", "N/A"]) == (None, False)
    with pytest.raises(ValueError, match="choose the date order"):
        parse_date("03/04/2026", None)
    with pytest.raises(ValueError, match="not a real calendar date"):
        parse_date("31/02/2026", "dmy")


def test_excel_with_several_sheets_reads_the_chosen_one():
    content = xlsx(
        {"Notes": [["exported by the old system"]], "Stock": [["SKU", "Count"], ["A", 5]]}
    )
    assert import_files.sheet_names(content) == ["Notes", "Stock"]
    table = read_file("s.xlsx", content, max_bytes=MB, sheet="Stock", kind="stock")
    assert table.columns == ["SKU", "Count"] and table.rows == [("A", 5)]
    with pytest.raises(FileRefused, match="no sheet 'Nope'"):
        read_file("s.xlsx", content, max_bytes=MB, sheet="Nope")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "is empty"),
        ("blank.csv", b"  \r\n\r\n", "is empty"),
        ("photo.png", b"\x89PNG\r\n\x1a\n", "not a CSV or Excel file"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "old Excel (.xls)"),
        ("fake.xlsx", b"sku,name\n", "not one"),
        ("big.csv", b"sku\n" + b"A\n" * 600_000, "the limit is 1 MB"),
        ("header.csv", b"sku,name\r\n", "no rows below it"),
    ],
)
def test_files_that_cannot_be_imported_are_refused_with_a_reason(name, content, message):
    with pytest.raises(FileRefused) as refused:
        read_file(name, content, max_bytes=MB)
    assert message in refused.value.message


def test_the_report_csv_names_line_column_and_reason_and_defuses_formulas():
    report = import_files.report_csv(
        [import_files.Problem(7, "Price", "=1+1", "is not a number (like 1,234.50).")]
    )
    assert report.decode("utf-8-sig").splitlines() == [
        "line,column,value,reason",
        '7,Price,\'=1+1,"is not a number (like 1,234.50)."',
    ]


# --- Applying (SQLite and PostgreSQL) ------------------------------------------------------


def test_products_with_bom_semicolons_crlf_decimal_commas_and_thousands(engine, admin_world):
    content = (
        "\ufeffArtikel;Description;Group;Supplier;Cost price;Sales price\r\n"
        "new-1;Olive oil 5 L;Dry goods;mill;1.234,50;2.000,00\r\n"
        "NEW-2;Sea salt;dry goods;MILL;0,45;1,20\r\n"
    ).encode()
    preview = preview_import(engine, kind="products", filename="p.csv", content=content)
    assert preview.decimal_mark == "," and preview.mapping["sku"] is None
    mapping = dict(preview.mapping, sku="Artikel")
    result = imp(engine, "products", "p.csv", content, mapping=mapping)
    assert (result.created, result.updated, result.unchanged) == (2, 0, 0)
    assert products(engine, "NEW-1", "NEW-2") == [
        ("NEW-1", "Olive oil 5 L", "Dry goods", Decimal("1234.50"), Decimal("2000.00")),
        ("NEW-2", "Sea salt", "Dry goods", Decimal("0.45"), Decimal("1.20")),
    ]


def test_a_changed_product_file_updates_only_what_differs(engine, admin_world):
    first = b"sku,name,category,supplier_code,cost,price\nNEW-1,Salt,Dry goods,MILL,1.00,2.00\n"
    imp(engine, "products", "a.csv", first)
    second = first + b"NEW-2,Pepper,Dry goods,MILL,3.00,4.00\n"
    second = second.replace(b"2.00\n", b"2.50\n", 1)
    result = imp(engine, "products", "b.csv", second)
    assert (result.created, result.updated, result.unchanged) == (1, 1, 0)
    assert products(engine, "NEW-1")[0][4] == Decimal("2.50")


def test_headerless_tab_separated_products_with_cr_line_endings(engine, admin_world):
    content = b"TAB-1\tTea\tBeverages\tDAIRY\t2.10\t3.50\rTAB-2\tCoffee\tBeverages\tDAIRY\t4\t6\r"
    result = imp(engine, "products", "tea.txt", content)
    assert result.created == 2
    assert products(engine, "TAB-1", "TAB-2") == [
        ("TAB-1", "Tea", "Beverages", Decimal("2.10"), Decimal("3.50")),
        ("TAB-2", "Coffee", "Beverages", Decimal("4.00"), Decimal("6.00")),
    ]


def test_refused_rows_name_line_column_and_fix_and_nothing_is_written(engine, admin_world):
    content = (
        b"sku,name,category,supplier_code,cost,price\n"
        b"OK-1,Fine,Dry goods,MILL,1,2\n"
        b"BAD-1,Price,Dry goods,MILL,1,twelve\n"
        b"BAD-2,Negative,Dry goods,MILL,-1,2\n"
        b"BAD-3,Supplier,Dry goods,NOBODY,1,2\n"
        b"OK-1,Twice,Dry goods,MILL,1,2\n"
        b"BAD-4,Category,Toys,MILL,1,2\n"
    )
    before = snapshot(engine)
    with pytest.raises(ImportRefused) as refused:
        imp(engine, "products", "mixed.csv", content)
    assert snapshot(engine) == before, "one bad row: nothing written"
    found = {(p.line, p.column): p.reason for p in refused.value.problems}
    assert found[(3, "price")].startswith("is not a number")
    assert found[(4, "cost")] == "is negative: give 0 or more."
    assert found[(5, "supplier_code")].startswith("is not a known supplier code")
    assert found[(6, "sku")].startswith("repeats the sku of line 2")
    assert found[(7, "category")].startswith("is not a Larder category")
    assert len(found) == 5
    assert refused.value.message.startswith("Nothing was imported: 5 row(s) of mixed.csv")
    assert "Line 3, column 'price'" in refused.value.message


def test_a_customer_with_no_segment_is_refused(engine, admin_world):
    content = b"code,name,segment,sales_rep_code\nK1,Kitchen One,Hotel,R1\nK2,Kitchen Two,,R1\n"
    with pytest.raises(ImportRefused) as refused:
        imp(engine, "customers", "c.csv", content)
    (problem,) = refused.value.problems
    assert (problem.line, problem.column) == (3, "segment")
    assert problem.reason == "is empty: every row needs its segment; fill it in."
    fixed = content.replace(b"Two,,", b"Two,cafe,")
    assert imp(engine, "customers", "c.csv", fixed).created == 2
    rows = fetch_rows(
        engine,
        select(Customer.code, Customer.segment, Customer.tier).where(Customer.code.like("K%")),
    )
    assert sorted(map(tuple, rows)) == [("K1", "Hotel", "bronze"), ("K2", "Café", "bronze")]


def test_stock_counts_become_ledger_entries_and_the_same_file_twice_changes_nothing(
    engine, admin_world
):
    content = xlsx(
        {
            "Read me": [["Stock count, week 48"]],
            "Count": [["Item code", "Counted"], ["FLOUR-25", 14], ["OIL-5L", "1.000"]],
        }
    )
    preview = preview_import(engine, kind="stock", filename="count.xlsx", content=content)
    assert preview.table.sheet == "Read me" and preview.problems
    # "1.000" could be one unit or a thousand: the person says the file writes a decimal comma.
    result = imp(engine, "stock", "count.xlsx", content, sheet="Count", decimal_mark=",")
    assert (result.updated, result.unchanged) == (2, 0)
    assert stock_of(engine, admin_world.products["FLOUR-25"]) == (14, 0)
    assert stock_of(engine, admin_world.products["OIL-5L"]) == (1000, 0)
    ledger = fetch_rows(
        engine,
        select(
            StockLedger.on_hand_delta, StockLedger.reason, StockLedger.ref_type, StockLedger.note
        )
        .where(StockLedger.ref_type == "import")
        .order_by(StockLedger.product_id),
    )
    assert [tuple(r) for r in ledger] == [
        (4, "adjust", "import", "stock count imported from count.xlsx"),
        (900, "adjust", "import", "stock count imported from count.xlsx"),
    ]
    before = snapshot(engine)
    again = imp(engine, "stock", "count.xlsx", content, sheet="Count", decimal_mark=",")
    assert again.already_imported and again.batch_id == result.batch_id
    assert snapshot(engine) == before
    audited = fetch_rows(engine, select(AuditLog.note).where(AuditLog.action == "import_stock"))
    assert [r.note for r in audited] == [f"count.xlsx (SHA-256 {result.sha256})"]


def test_a_negative_count_and_an_unknown_sku_are_refused(engine, admin_world):
    content = b"sku;on_hand\nFLOUR-25;-3\nNOPE-1;4\nOIL-5L;N/A\n"
    with pytest.raises(ImportRefused) as refused:
        imp(engine, "stock", "c.csv", content)
    reasons = {p.line: p.reason for p in refused.value.problems}
    assert reasons == {
        2: "is negative: give 0 or more.",
        3: "is not a known SKU: import the products first, or correct the SKU.",
        4: "is empty: every row needs its on_hand; fill it in.",
    }


ORDER_LINES = (
    "order_number,customer_code,sku,qty,order_date,requested_date\n"
    "OLD-1,C-gold,OIL-5L,3,{d1},N/A\n"
    "OLD-1,C-gold,OIL-5L,3,{d1},N/A\n"
    "OLD-1,C-gold,NAPKIN-500,5,{d1},N/A\n"
    "OLD-2,C-silver,FLOUR-25,4,{d2},Date Not Captured\n"
)


@pytest.mark.parametrize(
    ("d1", "d2", "options"),
    [
        ("2026-11-20", "2026-11-21", {}),
        ("20/11/2026", "21/11/2026", {}),
        ("11/20/26", "11/21/26", {}),
        ("20-Nov-26", "21-Nov-26", {}),
    ],
    ids=["iso", "d/m/Y", "m/d/y", "d-Mon-yy"],
)
def test_open_orders_reserve_and_backorder_like_the_shop(engine, admin_world, d1, d2, options):
    content = ORDER_LINES.format(d1=d1, d2=d2).encode()
    now = dt.datetime(2026, 12, 1, 9, 0)
    result = imp(engine, "orders", "orders.csv", content, now=now, **options)
    assert (result.created, result.unchanged) == (2, 0)
    orders = fetch_rows(
        engine, select(Order.external_ref, Order.placed_at, Order.requested_date, Order.channel)
    )
    assert sorted(map(tuple, orders)) == [
        ("OLD-1", dt.datetime(2026, 11, 20), None, "import"),
        ("OLD-2", dt.datetime(2026, 11, 21), None, "import"),
    ]
    lines = fetch_rows(
        engine,
        select(
            OrderLine.line_no,
            OrderLine.qty_ordered,
            OrderLine.qty_allocated,
            OrderLine.qty_backordered,
        )
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.external_ref == "OLD-1")
        .order_by(OrderLine.line_no),
    )
    # Two identical lines are two purchases; napkins (none on hand) go on backorder whole.
    assert [tuple(r) for r in lines] == [(1, 3, 3, 0), (2, 3, 3, 0), (3, 5, 0, 5)]
    assert stock_of(engine, admin_world.products["OIL-5L"]) == (100, 6)
    assert stock_of(engine, admin_world.products["FLOUR-25"]) == (10, 4)
    backorder = fetch_rows(
        engine, select(Backorder.qty, Backorder.created_at, Backorder.promised_date)
    )
    assert [(b.qty, b.created_at) for b in backorder] == [(5, dt.datetime(2026, 11, 20))]
    assert backorder[0].promised_date is not None


def test_the_same_orders_twice_change_nothing_even_as_another_file(engine, admin_world):
    content = ORDER_LINES.format(d1="2026-11-20", d2="2026-11-21").encode()
    imp(engine, "orders", "orders.csv", content)
    before = snapshot(engine)
    assert imp(engine, "orders", "orders.csv", content).already_imported
    assert snapshot(engine) == before
    resaved = content.replace(b"\n", b"\r\n")  # other bytes, same orders: skipped by number
    result = imp(engine, "orders", "orders-resaved.csv", resaved)
    assert (result.created, result.unchanged) == (0, 2)
    after = snapshot(engine)
    assert after["orders"] == before["orders"] and after["order_lines"] == before["order_lines"]
    assert after["stock"] == before["stock"]


def test_ambiguous_dates_must_be_confirmed(engine, admin_world):
    content = ORDER_LINES.format(d1="03/11/2026", d2="04/11/2026").encode()
    preview = preview_import(engine, kind="orders", filename="o.csv", content=content)
    assert preview.date_order_needed and not preview.ready
    with pytest.raises(ValidationError, match="fit both day/month and month/day"):
        imp(engine, "orders", "o.csv", content)
    imp(engine, "orders", "o.csv", content, date_order="dmy")
    placed = fetch_rows(engine, select(Order.placed_at).where(Order.external_ref == "OLD-1"))
    assert placed[0].placed_at == dt.datetime(2026, 11, 3)


def test_an_order_with_an_unknown_sku_writes_nothing(engine, admin_world):
    content = ORDER_LINES.format(d1="2026-11-20", d2="2026-11-21").encode()
    content += b"OLD-3,C-gold,GHOST-1,2,2026-11-22,\n"
    before = snapshot(engine)
    with pytest.raises(ImportRefused) as refused:
        imp(engine, "orders", "o.csv", content)
    assert snapshot(engine) == before
    (problem,) = refused.value.problems
    assert (problem.line, problem.column, problem.value) == (6, "sku", "GHOST-1")


def test_open_purchase_orders_from_the_second_sheet(engine, admin_world):
    rows = [
        ["PO", "Vendor", "Item", "Quantity", "Unit cost", "ETA"],
        ["V-77", "MILL", "NAPKIN-500", 40, "2.10", dt.datetime(2026, 12, 10)],
        ["V-77", "MILL", "NAPKIN-500", 40, "2.10", dt.datetime(2026, 12, 10)],
        ["V-77", "MILL", "FLOUR-25", 20, None, dt.datetime(2026, 12, 10)],
    ]
    content = xlsx({"Summary": [["open POs"]], "Lines": rows})
    result = imp(engine, "purchase_orders", "pos.xlsx", content, sheet="Lines")
    assert result.created == 1
    po = fetch_rows(
        engine,
        select(PurchaseOrder.external_ref, PurchaseOrder.status, PurchaseOrder.expected_date),
    )
    assert [tuple(p) for p in po] == [("V-77", "sent", dt.date(2026, 12, 10))]
    lines = fetch_rows(
        engine,
        select(Product.sku, PurchaseOrderLine.qty_ordered, PurchaseOrderLine.unit_cost)
        .join(Product, Product.id == PurchaseOrderLine.product_id)
        .order_by(Product.sku),
    )
    # The identical lines add up: the PO holds one line per product.
    assert [tuple(r) for r in lines] == [
        ("FLOUR-25", 20, Decimal("11.10")),
        ("NAPKIN-500", 80, Decimal("2.10")),
    ]


def test_only_an_administrator_imports(engine, admin_world):
    add_admin(engine, "pam", roles=("purchasing_manager",))
    content = b"code,name\nS9,Supplier Nine\n"
    with pytest.raises(InvalidState, match="Only an administrator can import data"):
        apply_import(engine, kind="suppliers", filename="s.csv", content=content, actor="pam")


def test_the_size_limit_is_a_setting(engine, admin_world):
    with write_session(engine) as session:
        session.add(Setting(key="import_max_mb", value={"v": 1}))
    content = b"code,name\n" + b"S9,Supplier Nine\n" * 70_000
    with pytest.raises(LarderError, match="the limit is 1 MB"):
        imp(engine, "suppliers", "s.csv", content)
    with write_session(engine) as session:
        assert session.scalar(select(ImportBatch.id)) is None


def test_a_counted_gain_fills_the_waiting_backorders(engine, admin_world):
    import operations

    placed = operations.place_order(
        engine, customer_id=admin_world.customers["gold"], lines=[("NAPKIN-500", 20)], actor="ann"
    )
    assert placed.lines[0].qty_backordered == 20
    imp(engine, "stock", "count.csv", b"sku,on_hand\nNAPKIN-500,30\n")
    assert stock_of(engine, admin_world.products["NAPKIN-500"]) == (30, 20)
    filled = fetch_rows(engine, select(Backorder.qty_filled, Backorder.status))
    assert [tuple(b) for b in filled] == [(20, "filled")]


def test_a_product_on_two_short_lines_queues_the_second_behind_the_first(engine, admin_world):
    pos = b"PO,Vendor,Item,Quantity,Unit cost,ETA\nV-9,MILL,NAPKIN-500,6,2.10,2026-12-10\n"
    imp(engine, "purchase_orders", "pos.csv", pos)
    po_id = fetch_rows(engine, select(PurchaseOrder.id))[0].id
    content = (
        b"order_number,customer_code,sku,qty,order_date\n"
        b"OLD-7,C-gold,NAPKIN-500,6,2026-11-30\n"
        b"OLD-7,C-gold,NAPKIN-500,4,2026-11-30\n"
    )
    imp(engine, "orders", "orders.csv", content, now=dt.datetime(2026, 12, 1, 9, 0))
    waiting = fetch_rows(
        engine,
        select(
            OrderLine.line_no, Backorder.qty, Backorder.waits_on_po_id, Backorder.estimate_reason
        )
        .join(OrderLine, OrderLine.id == Backorder.order_line_id)
        .order_by(OrderLine.line_no),
    )
    # No stock: the PO's six units serve line 1; line 2 waits behind them for the next reorder.
    assert [(w.line_no, w.qty, w.waits_on_po_id) for w in waiting] == [
        (1, 6, po_id),
        (2, 4, None),
    ]
    assert "waits on" in waiting[0].estimate_reason
    assert "open purchase orders do not cover it" in waiting[1].estimate_reason
