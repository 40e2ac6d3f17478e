"""What a supplier receives with a purchase order: the mail, a PDF and a CSV of the lines."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal

from fpdf import FPDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from data.schema import (
    OutboxMessage,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Supplier,
    Warehouse,
)
from operations.outbox import Attachment, html_from_text, queue_mail

COMPANY_NAME = "Larder catering wholesale"
CSV_COLUMNS = ("sku", "name", "quantity", "pack_size", "unit_cost", "line_total")
# PDF table: (heading, width in mm, alignment)
PDF_COLUMNS = (
    ("SKU", 28, "L"),
    ("Product", 72, "L"),
    ("Quantity", 20, "R"),
    ("Pack", 14, "R"),
    ("Unit cost", 24, "R"),
    ("Total", 26, "R"),
)


@dataclass(frozen=True)
class PoLine:
    sku: str
    name: str
    qty: int
    pack_size: int
    unit_cost: Decimal

    @property
    def total(self) -> Decimal:
        return self.unit_cost * self.qty


@dataclass(frozen=True)
class PoDocument:
    number: str
    supplier: str
    supplier_email: str | None
    warehouse: str
    created: dt.date
    expected: dt.date | None
    lines: list[PoLine]

    @property
    def total(self) -> Decimal:
        return sum((line.total for line in self.lines), Decimal("0"))


def po_document(session: Session, po: PurchaseOrder) -> PoDocument:
    supplier = session.get(Supplier, po.supplier_id)
    warehouse = session.get(Warehouse, po.warehouse_id)
    rows = session.execute(
        select(
            Product.sku,
            Product.name,
            PurchaseOrderLine.qty_ordered,
            Product.pack_size,
            PurchaseOrderLine.unit_cost,
        )
        .join(Product, Product.id == PurchaseOrderLine.product_id)
        .where(PurchaseOrderLine.po_id == po.id)
        .order_by(Product.sku)
    ).all()
    return PoDocument(
        number=po.number,
        supplier=supplier.name,
        supplier_email=supplier.email,
        warehouse=warehouse.name,
        created=po.created_at.date(),
        expected=po.expected_date,
        lines=[PoLine(*row) for row in rows],
    )


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _latin1(value: str) -> str:
    # The PDF core fonts cover Latin-1 only; anything else prints as "?" rather than failing.
    return value.encode("latin-1", "replace").decode("latin-1")


def po_pdf(doc: PoDocument) -> bytes:
    """The purchase order as a one-table PDF: header, supplier, lines, total, expected date."""
    pdf = FPDF(format="A4")
    pdf.set_title(f"Purchase order {doc.number}")
    pdf.set_author(COMPANY_NAME)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _latin1(f"Purchase order {doc.number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for label, value in (
        ("From", COMPANY_NAME),
        ("Supplier", doc.supplier),
        ("Deliver to", doc.warehouse),
        ("Ordered", doc.created.isoformat()),
        ("Expected", doc.expected.isoformat() if doc.expected else "as agreed"),
    ):
        pdf.cell(30, 6, label)
        pdf.cell(0, 6, _latin1(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 10)
    for heading, width, align in PDF_COLUMNS:
        pdf.cell(width, 7, heading, border=1, align=align)
    pdf.ln()
    pdf.set_font("Helvetica", "", 9)
    for line in doc.lines:
        cells = (
            line.sku,
            line.name,
            str(line.qty),
            str(line.pack_size),
            _money(line.unit_cost),
            _money(line.total),
        )
        for value, (_heading, width, align) in zip(cells, PDF_COLUMNS, strict=True):
            pdf.cell(width, 6, _latin1(value)[:48], border=1, align=align)
        pdf.ln()
    pdf.set_font("Helvetica", "B", 10)
    label_width = sum(width for _h, width, _a in PDF_COLUMNS[:-1])
    pdf.cell(label_width, 7, "Total", border=1, align="R")
    pdf.cell(PDF_COLUMNS[-1][1], 7, _money(doc.total), border=1, align="R")
    return bytes(pdf.output())


def po_csv(doc: PoDocument) -> bytes:
    """The lines as CSV (UTF-8, one header row) for the supplier's order system."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in doc.lines:
        writer.writerow([line.sku, line.name, line.qty, line.pack_size, line.unit_cost, line.total])
    return buffer.getvalue().encode("utf-8")


def po_mail_text(doc: PoDocument) -> str:
    expected = doc.expected.isoformat() if doc.expected else "the date you confirm"
    lines = "\n".join(
        f"- {line.sku}  {line.name}: {line.qty} (packs of {line.pack_size}) at "
        f"{_money(line.unit_cost)} = {_money(line.total)}"
        for line in doc.lines
    )
    return (
        f"Dear {doc.supplier},\n\n"
        f"Please supply purchase order {doc.number} for delivery to {doc.warehouse} "
        f"by {expected}.\n\n{lines}\n\nTotal: {_money(doc.total)}\n\n"
        "The order is attached as a PDF and as a CSV of the lines. Please reply to confirm "
        f"the delivery date.\n\n{COMPANY_NAME}"
    )


def queue_po_mail(session: Session, po: PurchaseOrder) -> OutboxMessage | None:
    """Queue the purchase order to its supplier, in the caller's transaction.

    Returns None when the supplier has no mail address on file (the PO is sent by other means).
    """
    doc = po_document(session, po)
    if not doc.supplier_email:
        return None
    body = po_mail_text(doc)
    return queue_mail(
        session,
        to=doc.supplier_email,
        subject=f"Purchase order {doc.number} from {COMPANY_NAME}",
        text=body,
        html=html_from_text(body),
        attachments=[
            Attachment(f"{doc.number}.pdf", "application/pdf", po_pdf(doc)),
            Attachment(f"{doc.number}.csv", "text/csv", po_csv(doc)),
        ],
        ref_type="purchase_order",
        ref_id=po.id,
    )
