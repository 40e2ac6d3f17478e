"""Everything a wholesaler needs to leave Larder, as one ZIP of CSV files.

One file per subject (suppliers, products, customers, stock, orders, order lines, backorders
with their dates, purchase orders and their lines, the stock ledger), each row naming the
things it refers to by their business keys (SKU, customer code, order and PO numbers, supplier
and warehouse codes) rather than Larder's internal ids, so the files read on their own and load
into another system. ``open_orders.csv`` and ``open_purchase_orders.csv`` repeat what is
still open in the layout Larder's import reads, so suppliers, products, customers, stock and
those two files load into another Larder as they are. ``manifest.json`` lists the files, their
columns and row counts, the time of the export and the schema revision.

Rows are streamed from the database in batches straight into the ZIP, so a large history is
never held in memory at once. Text that a spreadsheet would run as a formula is written with a
leading single quote (:mod:`reports.spreadsheet`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy import Boolean, Date, DateTime, Engine, Select, String, func, select, text
from sqlalchemy.orm import aliased

from data.db import read_connection
from data.schema import (
    OPEN_PO_STATUSES,
    Backorder,
    Customer,
    Order,
    OrderLine,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    SalesRep,
    Stock,
    StockLedger,
    Supplier,
    Warehouse,
    utcnow,
)
from reports.spreadsheet import defused

BATCH_ROWS = 5_000
Progress = Callable[[str, int, int], None]  # (file name, rows written, rows in the file)


@dataclass(frozen=True)
class ExportFile:
    name: str
    about: str
    statement: Select


def _files() -> list[ExportFile]:
    waits_on = aliased(PurchaseOrder)
    outstanding = OrderLine.qty_ordered - OrderLine.qty_shipped - OrderLine.qty_cancelled
    to_receive = PurchaseOrderLine.qty_ordered - PurchaseOrderLine.qty_received
    return [
        ExportFile(
            "suppliers.csv",
            "one row per supplier",
            select(
                Supplier.code,
                Supplier.name,
                Supplier.email,
                Supplier.lead_time_days,
                Supplier.min_order_value,
                Supplier.active,
            ).order_by(Supplier.code),
        ),
        ExportFile(
            "products.csv",
            "one row per product, with its supplier and stock thresholds",
            select(
                Product.sku,
                Product.name,
                Product.category,
                Product.use,
                Product.unit,
                Product.pack_size,
                Product.cost,
                Product.price,
                Supplier.code.label("supplier_code"),
                Product.reorder_point,
                Product.safety_stock,
                Product.order_up_to,
                Product.min_order_qty,
                Product.shelf_life_days,
                Product.allergens,
                Product.active,
            )
            .join(Supplier, Supplier.id == Product.supplier_id)
            .order_by(Product.sku),
        ),
        ExportFile(
            "customers.csv",
            "one row per customer",
            select(
                Customer.code,
                Customer.name,
                Customer.segment,
                Customer.region,
                Customer.tier,
                SalesRep.code.label("sales_rep_code"),
                Customer.backorder_preference,
                Customer.email,
                Customer.phone,
                Customer.created_at,
                Customer.mail_opt_out,
            )
            .outerjoin(SalesRep, SalesRep.id == Customer.sales_rep_id)
            .order_by(Customer.code),
        ),
        ExportFile(
            "stock.csv",
            "units on hand and reserved per product and warehouse",
            select(
                Product.sku,
                Warehouse.code.label("warehouse"),
                Stock.on_hand,
                Stock.reserved,
            )
            .join(Product, Product.id == Stock.product_id)
            .join(Warehouse, Warehouse.id == Stock.warehouse_id)
            .order_by(Product.sku, Warehouse.code),
        ),
        ExportFile(
            "orders.csv",
            "one row per customer order",
            select(
                Order.number.label("order_number"),
                Customer.code.label("customer_code"),
                Order.placed_at,
                Order.requested_date,
                Order.priority,
                Order.status,
                Order.channel,
                Order.backorder_choice,
                Order.cancelled_at,
                Order.cancel_reason,
            )
            .join(Customer, Customer.id == Order.customer_id)
            .order_by(Order.id),
        ),
        ExportFile(
            "order_lines.csv",
            "one row per order line: ordered, reserved, backordered, cancelled and shipped units",
            select(
                Order.number.label("order_number"),
                OrderLine.line_no,
                Product.sku,
                OrderLine.qty_ordered,
                OrderLine.qty_allocated,
                OrderLine.qty_backordered,
                OrderLine.qty_cancelled,
                OrderLine.qty_shipped,
                OrderLine.unit_price,
            )
            .join(Order, Order.id == OrderLine.order_id)
            .join(Product, Product.id == OrderLine.product_id)
            .order_by(OrderLine.order_id, OrderLine.line_no),
        ),
        ExportFile(
            "backorders.csv",
            "one row per backorder with its promised, likely and late-case dates",
            select(
                Order.number.label("order_number"),
                OrderLine.line_no,
                Product.sku,
                Customer.code.label("customer_code"),
                Backorder.qty,
                Backorder.qty_filled,
                Backorder.qty_cancelled,
                Backorder.status,
                Backorder.created_at,
                Backorder.promised_date,
                Backorder.estimated_date.label("likely_date"),
                Backorder.estimated_late_date.label("late_case_date"),
                Backorder.estimate_reason,
                waits_on.number.label("waits_on_po"),
                Backorder.closed_at,
                Backorder.cancel_reason,
                Backorder.root_cause,
            )
            .join(OrderLine, OrderLine.id == Backorder.order_line_id)
            .join(Order, Order.id == OrderLine.order_id)
            .join(Product, Product.id == Backorder.product_id)
            .join(Customer, Customer.id == Backorder.customer_id)
            .outerjoin(waits_on, waits_on.id == Backorder.waits_on_po_id)
            .order_by(Backorder.id),
        ),
        ExportFile(
            "purchase_orders.csv",
            "one row per purchase order",
            select(
                PurchaseOrder.number.label("po_number"),
                Supplier.code.label("supplier_code"),
                Warehouse.code.label("warehouse_code"),
                PurchaseOrder.status,
                PurchaseOrder.created_at,
                PurchaseOrder.sent_at,
                PurchaseOrder.expected_date,
                PurchaseOrder.original_expected_date,
                PurchaseOrder.received_at,
            )
            .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
            .join(Warehouse, Warehouse.id == PurchaseOrder.warehouse_id)
            .order_by(PurchaseOrder.id),
        ),
        ExportFile(
            "purchase_order_lines.csv",
            "one row per purchase order line",
            select(
                PurchaseOrder.number.label("po_number"),
                Product.sku,
                PurchaseOrderLine.qty_ordered,
                PurchaseOrderLine.qty_received,
                PurchaseOrderLine.unit_cost,
            )
            .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
            .join(Product, Product.id == PurchaseOrderLine.product_id)
            .order_by(PurchaseOrderLine.po_id, PurchaseOrderLine.id),
        ),
        ExportFile(
            "open_orders.csv",
            "the order lines still to ship (also of orders that shipped in part), in the "
            "layout the import reads (qty = ordered less shipped and cancelled)",
            select(
                Order.number.label("order_number"),
                Customer.code.label("customer_code"),
                Product.sku,
                outstanding.label("qty"),
                OrderLine.unit_price,
                Order.placed_at.label("order_date"),
                Order.requested_date,
                Order.priority,
            )
            .join(Order, Order.id == OrderLine.order_id)
            .join(Customer, Customer.id == Order.customer_id)
            .join(Product, Product.id == OrderLine.product_id)
            .where(Order.status != "cancelled", outstanding > 0)
            .order_by(OrderLine.order_id, OrderLine.line_no),
        ),
        ExportFile(
            "open_purchase_orders.csv",
            "the lines of purchase orders sent and not fully received, in the layout the import "
            "reads (qty = ordered less received)",
            select(
                PurchaseOrder.number.label("po_number"),
                Supplier.code.label("supplier_code"),
                Product.sku,
                to_receive.label("qty"),
                PurchaseOrderLine.unit_cost,
                PurchaseOrder.expected_date,
                PurchaseOrder.created_at.label("order_date"),
            )
            .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
            .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
            .join(Product, Product.id == PurchaseOrderLine.product_id)
            .where(PurchaseOrder.status.in_(OPEN_PO_STATUSES), to_receive > 0)
            .order_by(PurchaseOrderLine.po_id, PurchaseOrderLine.id),
        ),
        ExportFile(
            "stock_ledger.csv",
            "every stock movement: units on hand and reserved, why, by whom",
            select(
                StockLedger.at,
                Product.sku,
                Warehouse.code.label("warehouse_code"),
                StockLedger.on_hand_delta,
                StockLedger.reserved_delta,
                StockLedger.reason,
                StockLedger.ref_type,
                StockLedger.ref_id,
                StockLedger.actor,
                StockLedger.note,
            )
            .join(Product, Product.id == StockLedger.product_id)
            .join(Warehouse, Warehouse.id == StockLedger.warehouse_id)
            .order_by(StockLedger.id),
        ),
    ]


def export_files() -> list[str]:
    return [f.name for f in _files()]


def _text_cell(value: str) -> str:
    return defused(value)


def _moment_cell(value: dt.datetime) -> str:
    return value.isoformat(sep=" ", timespec="seconds")


def _day_cell(value: dt.date) -> str:
    return value.isoformat()


def _flag_cell(value: bool) -> str:
    return "true" if value else "false"


def _converters(statement: Select) -> list[tuple[int, Callable[[object], object]]]:
    """(column position, converter) for the columns the CSV writer cannot write as they are.

    Numbers and Decimals are written by the CSV writer itself, None as an empty cell.
    """
    chosen = []
    for i, column in enumerate(statement.selected_columns):
        kind = column.type
        if isinstance(kind, Boolean):
            chosen.append((i, _flag_cell))
        elif isinstance(kind, DateTime):
            chosen.append((i, _moment_cell))
        elif isinstance(kind, Date):
            chosen.append((i, _day_cell))
        elif isinstance(kind, String):
            chosen.append((i, _text_cell))
    return chosen


def _rows(batch, converters):
    for row in batch:
        cells = list(row)
        for i, convert in converters:
            value = cells[i]
            if value is not None:
                cells[i] = convert(value)
        yield cells


def _schema_revision(conn) -> str | None:
    try:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
    except Exception:  # a database made without migrations (tests) has no version table
        conn.rollback()
        return None


def write_export(engine: Engine, target: str | Path | IO[bytes], progress: Progress | None = None):
    """Write the ZIP to ``target`` (a path or a binary file); returns the manifest (a dict).

    Everything is read in one read transaction, so the files agree with each other.
    """
    files = _files()
    manifest: dict = {"made_at": utcnow().isoformat(timespec="seconds") + "Z", "files": []}
    with (
        read_connection(engine) as conn,
        zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf,
    ):
        manifest["schema_revision"] = _schema_revision(conn)
        for spec in files:
            total = conn.execute(
                select(func.count()).select_from(spec.statement.order_by(None).subquery())
            ).scalar_one()
            columns = list(spec.statement.selected_columns.keys())
            written = 0
            with (
                zf.open(spec.name, "w", force_zip64=True) as raw,
                io.TextIOWrapper(raw, encoding="utf-8", newline="") as out,
            ):
                writer = csv.writer(out, lineterminator="\r\n")
                writer.writerow(columns)
                result = conn.execution_options(yield_per=BATCH_ROWS).execute(spec.statement)
                converters = _converters(spec.statement)
                for batch in result.partitions():
                    writer.writerows(_rows(batch, converters))
                    written += len(batch)
                    if progress:
                        progress(spec.name, written, total)
            if progress and not written:
                progress(spec.name, 0, 0)
            manifest["files"].append(
                {"name": spec.name, "about": spec.about, "columns": columns, "rows": written}
            )
        zf.writestr("manifest.json", json.dumps(manifest, indent=2))
    return manifest


def export_bytes(engine: Engine, progress: Progress | None = None) -> bytes:
    """The ZIP in memory (for a download button)."""
    buffer = io.BytesIO()
    write_export(engine, buffer, progress)
    return buffer.getvalue()
