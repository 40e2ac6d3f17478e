"""Importing a wholesaler's own data: suppliers, products, customers, stock counts, open purchase
orders and open orders, from the CSV or Excel files its old system exports.

Two steps, the same checks in both. :func:`preview_import` reads the file (``models.import_files``),
maps its columns to Larder's fields, parses every value and checks every row against the
database without writing: each refused row comes back as a :class:`Problem` with its line,
column and reason. :func:`apply_import` runs the same checks inside one write transaction and
either applies every row or, when any row is refused, nothing at all.

What makes it idempotent: a file (its SHA-256 checksum) is applied once per kind; applying it
again changes nothing and says when it was applied. Beyond the checksum each kind has a natural
key, so a re-saved or partly changed file does not duplicate anything either: suppliers and
customers by code, products by SKU (rows that differ update the product, equal rows are left
alone), stock counts by SKU and warehouse (a count sets the on-hand quantity, so the same count
twice moves nothing), purchase orders and orders by their number in the old system
(``external_ref``; one already imported is skipped).

Stock counts become ledger rows (reason ``adjust``, ``ref_type`` ``import``, the file named in the
note); gains fill waiting backorders, as a count on the Stock control page does. Orders are
placed through :func:`operations.orders.place_in_session`, so they reserve and backorder by the
Shop's rules. Every applied file is one audit row with its name and checksum, and one
``import_batches`` row. Only an administrator may import.
"""

from __future__ import annotations

import datetime as dt
import functools
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, bindparam, insert, select, update
from sqlalchemy.orm import Session

from data.db import read_connection, write_session
from data.numbering import document_number, provisional_number
from data.schema import (
    BACKORDER_PREFERENCES,
    CATEGORIES,
    IMPORT_KINDS,
    ORDER_PRIORITIES,
    SEGMENTS,
    TIERS,
    Backorder,
    Bin,
    Customer,
    ImportBatch,
    ImportMapping,
    Order,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    SalesRep,
    Stock,
    Supplier,
    Warehouse,
    utcnow,
)
from data.settings import get_setting
from models.import_files import (
    DATE_ORDER_LABELS,
    DATE_ORDERS,
    DECIMAL_MARKS,
    FIELDS,
    Field,
    FileRefused,
    Problem,
    RawTable,
    cell_text,
    detect_date_order,
    detect_decimal_mark,
    is_placeholder,
    parse_date,
    parse_flag,
    parse_number,
    read_file,
    suggest_mapping,
)
from operations import audit, notification_rules
from operations.admin import check_email, require_admin
from operations.allocation import fill_backorders
from operations.errors import InvalidState, ValidationError
from operations.limits import limits
from operations.orders import MAX_LINES_PER_ORDER, place_in_session
from operations.promises import reestimate_backorders
from operations.stock import adjust_many, default_warehouse_id, lock_stock
from operations.transactions import write_operation
from operations.validation import (
    EARLIEST_DATE,
    actor_name,
    excerpt,
    flag,
    latest_date,
    one_of,
    optional_moment,
    text,
)

CHUNK = 2_000  # rows per statement batch and between progress reports
LOOKUP_CHUNK = 5_000  # keys per IN (...) lookup
MAX_MONEY = Decimal("9999999999.99")  # Numeric(12, 2)
MAX_QUANTITY = 2**31 - 1
PROBLEMS_IN_MESSAGE = 3
IMPORT_CHANNEL = "import"  # the channel of an imported order
DEFAULT_LEAD_TIME_DAYS = 7
MAPPING_NAME_LENGTH = 60

Progress = Callable[[int, int], None]


class ImportRefused(ValidationError):
    """Some rows are refused, so nothing was imported; ``problems`` lists every one."""

    def __init__(self, message: str, problems: list[Problem]) -> None:
        super().__init__(message)
        self.problems = problems


@dataclass
class ImportPreview:
    """What applying the file would do, and every row it would refuse."""

    kind: str
    table: RawTable
    mapping: dict[str, str | None]
    suggested: dict[str, str | None]
    date_order: str | None
    date_order_settled: bool
    decimal_mark: str
    decimal_settled: bool
    problems: list[Problem] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)
    new: int = 0
    existing: int = 0
    already: ImportBatch | None = None

    @property
    def rows(self) -> int:
        return len(self.table.rows)

    @property
    def date_order_needed(self) -> bool:
        """Numeric dates that fit day/month and month/day alike, and no order chosen."""
        return self.date_order is None and not self.date_order_settled and self._numeric_dates

    _numeric_dates: bool = False

    @property
    def ready(self) -> bool:
        return not self.problems and not self.date_order_needed


@dataclass(frozen=True)
class ImportResult:
    kind: str
    filename: str
    sha256: str
    rows: int
    created: int
    updated: int
    unchanged: int
    batch_id: int | None
    already_imported: bool = False
    applied_at: dt.datetime | None = None


# --- Checking the arguments ----------------------------------------------------------------


@dataclass(frozen=True)
class _Options:
    kind: str
    filename: str
    content: bytes
    mapping: dict[str, str | None] | None
    sheet: str | None
    header: bool | None
    date_order: str | None
    decimal_mark: str | None


def _options(kind, filename, content, mapping, sheet, header, date_order, decimal_mark) -> _Options:
    kind = one_of(kind, IMPORT_KINDS, "What to import")
    filename = text(filename, "The file name", max_length=200)
    if not isinstance(content, (bytes, bytearray)):
        raise ValidationError("The file's content must be the uploaded bytes.")
    if mapping is not None:
        mapping = _checked_mapping(kind, mapping)
    if sheet is not None:
        sheet = text(sheet, "The sheet", max_length=100)
    if header is not None:
        header = flag(header, "The first row is a header")
    if date_order is not None:
        date_order = one_of(date_order, DATE_ORDERS, "The date order")
    if decimal_mark is not None:
        decimal_mark = one_of(decimal_mark, DECIMAL_MARKS, "The decimal mark")
    return _Options(
        kind, filename, bytes(content), mapping, sheet, header, date_order, decimal_mark
    )


def _checked_mapping(kind: str, mapping: Any) -> dict[str, str | None]:
    if not isinstance(mapping, dict):
        raise ValidationError(
            f"The column mapping must be field -> file column, not {excerpt(mapping)}."
        )
    names = {f.name for f in FIELDS[kind]}
    checked: dict[str, str | None] = {}
    for name, column in mapping.items():
        if name not in names:
            raise ValidationError(
                f"{excerpt(name)} is not a field of a {kind} import; the fields are: "
                f"{', '.join(sorted(names))}."
            )
        if column is not None:
            column = text(column, f"The column for {name}", max_length=200)
        checked[name] = column or None
    return checked


def _max_bytes(session: Session) -> int:
    return int(get_setting(session.connection(), "import_max_mb")) * 1_000_000


# --- Reading values ------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _fold(value: str) -> str:
    """Lower case without accents or spaces, for matching names (Café = cafe)."""
    decomposed = unicodedata.normalize("NFKD", value)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return "".join(bare.lower().split()).replace("-", "_")


def _value(spec: Field, raw: Any, date_order: str | None, decimal_mark: str) -> Any:
    """The typed value of one cell, None when empty; ValueError with the reason and fix."""
    if spec.type == "text":
        shown = cell_text(raw)
        if not shown or (spec.name in ("email", "phone") and is_placeholder(shown)):
            return None
        limit = spec.max_length or 200
        if shown.isascii() and shown.isprintable() and len(shown) <= limit:
            return shown  # the common case, without the character-by-character checks
        try:
            return text(shown, "the value", max_length=limit)
        except ValidationError as error:
            raise ValueError(error.message.replace("the value ", "", 1)) from error
    if spec.type == "date":
        day = parse_date(raw, date_order)
        if day is not None and (day < EARLIEST_DATE or day > latest_date()):
            raise ValueError(
                f"is out of range: give a date from {EARLIEST_DATE.isoformat()} to "
                f"{latest_date().isoformat()}"
            )
        return day
    if raw is None or (isinstance(raw, str) and is_placeholder(raw)):
        return None
    if spec.type == "flag":
        return parse_flag(raw)
    number = parse_number(raw, decimal_mark)
    if number < 0:
        raise ValueError("is negative: give 0 or more")
    if spec.type == "money":
        if number > MAX_MONEY:
            raise ValueError(f"is larger than {MAX_MONEY:,}: check the number")
        if number != number.quantize(Decimal("0.01")):
            raise ValueError("has more than two decimals: round it to cents")
        return number.quantize(Decimal("0.01"))
    if number != number.to_integral_value():
        raise ValueError("must be a whole number: fractions are not rounded for you")
    if number > MAX_QUANTITY:
        raise ValueError(f"is larger than {MAX_QUANTITY:,}: check the number")
    return int(number)


def _numeric_values(table: RawTable, mapping: dict, kind: str, types: tuple[str, ...]):
    indexes = [
        table.columns.index(mapping[f.name])
        for f in FIELDS[kind]
        if f.type in types and mapping.get(f.name) in table.columns
    ]
    for row in table.rows:
        for index in indexes:
            yield row[index]


def _records(
    table: RawTable, kind: str, mapping: dict, date_order: str | None, decimal_mark: str
) -> tuple[list[dict], list[Problem]]:
    """Every row as {field: typed value, "_line": line}; rows with a bad value are refused."""
    problems: list[Problem] = []
    records: list[dict] = []
    used = [
        (spec, table.columns.index(mapping[spec.name]), mapping[spec.name])
        for spec in FIELDS[kind]
        if mapping.get(spec.name)
    ]
    for row, line in zip(table.rows, table.lines, strict=True):
        if line in table.ragged:
            problems.append(
                Problem(
                    line,
                    "",
                    "",
                    f"has {table.ragged[line]} fields but the header has {len(table.columns)}: "
                    "check the separator and the quotes on this line",
                )
            )
            continue
        record: dict[str, Any] = {"_line": line}
        refused = False
        for spec, index, column in used:
            raw = row[index]
            try:
                record[spec.name] = _value(spec, raw, date_order, decimal_mark)
            except ValueError as error:
                refused = True
                problems.append(Problem(line, column, cell_text(raw)[:40], f"{error}."))
                continue
            if spec.required and record[spec.name] is None:
                refused = True
                problems.append(
                    Problem(
                        line, column, "", f"is empty: every row needs its {spec.name}; fill it in."
                    )
                )
        if not refused:
            records.append(record)
    return records, problems


# --- Looking things up ---------------------------------------------------------------------


def _chunks(values: list, size: int = LOOKUP_CHUNK):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _by_code(session: Session, model, column, codes) -> dict[str, Any]:
    """{folded code: row} for the given codes (matched without regard to case)."""
    wanted = sorted({str(code) for code in codes if code})
    variants = sorted({v for code in wanted for v in (code, code.upper(), code.lower())})
    found: dict[str, Any] = {}
    for chunk in _chunks(variants):
        for row in session.scalars(select(model).where(column.in_(chunk))):
            found[getattr(row, column.key).upper()] = row
    return found


def _refuse(problems: list[Problem], record: dict, mapping: dict, name: str, reason: str) -> None:
    value = record.get(name)
    shown = "" if value is None else str(value)[:40]
    problems.append(Problem(record["_line"], mapping.get(name) or name, shown, reason))


def _unique_keys(records, key, mapping, problems, what: str) -> list[dict]:
    """Records whose key appears once in the file; a repeat is refused, naming the first line."""
    first: dict[str, int] = {}
    kept = []
    for record in records:
        value = str(record[key]).upper()
        if value in first:
            _refuse(
                problems,
                record,
                mapping,
                key,
                f"repeats the {key} of line {first[value]}: give each {what} once "
                "(delete one of the two lines or correct the code).",
            )
            continue
        first[value] = record["_line"]
        kept.append(record)
    return kept


def _choice(value: str | None, allowed: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    folded = _fold(value)
    for option in allowed:
        if _fold(option) == folded:
            return option
    return None


# --- Checks per kind (they fill ``record`` with what apply needs) ---------------------------


def _check_suppliers(session, records, mapping, problems, preview) -> list[dict]:
    records = _unique_keys(records, "code", mapping, problems, "supplier")
    existing = _by_code(session, Supplier, Supplier.code, (r["code"] for r in records))
    kept = []
    for record in records:
        if record.get("email"):
            try:
                record["email"] = check_email(record["email"], "the e-mail address")
            except ValidationError as error:
                _refuse(problems, record, mapping, "email", error.message)
                continue
        record["_existing"] = existing.get(record["code"].upper())
        kept.append(record)
    return kept


def _check_products(session, records, mapping, problems, preview) -> list[dict]:
    records = _unique_keys(records, "sku", mapping, problems, "SKU")
    existing = _by_code(session, Product, Product.sku, (r["sku"] for r in records))
    suppliers = _by_code(session, Supplier, Supplier.code, (r["supplier_code"] for r in records))
    bins = _by_code(session, Bin, Bin.code, (r.get("bin_code") for r in records))
    kept = []
    for record in records:
        category = _choice(record["category"], CATEGORIES)
        if category is None:
            _refuse(
                problems,
                record,
                mapping,
                "category",
                f"is not a Larder category: use one of {', '.join(CATEGORIES)}.",
            )
            continue
        record["category"] = category
        supplier = suppliers.get(record["supplier_code"].upper())
        if supplier is None:
            _refuse(
                problems,
                record,
                mapping,
                "supplier_code",
                "is not a known supplier code: import the suppliers first, or correct the code.",
            )
            continue
        record["supplier_id"] = supplier.id
        if record.get("bin_code"):
            found = bins.get(record["bin_code"].upper())
            if found is None:
                _refuse(
                    problems, record, mapping, "bin_code", "is not a known bin: correct the code."
                )
                continue
            record["bin_id"] = found.id
        old = existing.get(record["sku"].upper())
        record["_existing"] = old
        for name, least in (("pack_size", 1), ("min_order_qty", 1)):
            if record.get(name) is not None and record[name] < least:
                _refuse(problems, record, mapping, name, f"must be at least {least}.")
                break
        else:
            reorder = record.get("reorder_point")
            if reorder is None:
                reorder = old.reorder_point if old else 0
            up_to = record.get("order_up_to")
            if up_to is None:
                up_to = old.order_up_to if old else reorder
                record["order_up_to"] = max(up_to, reorder)
            elif up_to < reorder:
                _refuse(
                    problems,
                    record,
                    mapping,
                    "order_up_to",
                    f"is below the reorder point {reorder}: the order-up-to level must be at "
                    "least the reorder point.",
                )
                continue
            kept.append(record)
    return kept


def _check_customers(session, records, mapping, problems, preview) -> list[dict]:
    records = _unique_keys(records, "code", mapping, problems, "customer")
    existing = _by_code(session, Customer, Customer.code, (r["code"] for r in records))
    reps = _by_code(session, SalesRep, SalesRep.code, (r.get("sales_rep_code") for r in records))
    kept = []
    for record in records:
        segment = _choice(record["segment"], SEGMENTS)
        if segment is None:
            _refuse(
                problems,
                record,
                mapping,
                "segment",
                f"is not a segment: use one of {', '.join(SEGMENTS)}.",
            )
            continue
        record["segment"] = segment
        problem = None
        if record.get("tier") is not None:
            record["tier"] = _choice(record["tier"], TIERS)
            problem = None if record["tier"] else ("tier", f"use one of {', '.join(TIERS)}.")
        if problem is None and record.get("backorder_preference") is not None:
            record["backorder_preference"] = _choice(
                record["backorder_preference"], BACKORDER_PREFERENCES
            )
            if record["backorder_preference"] is None:
                problem = (
                    "backorder_preference",
                    f"use one of {', '.join(BACKORDER_PREFERENCES)}.",
                )
        if problem is None and record.get("sales_rep_code"):
            rep = reps.get(record["sales_rep_code"].upper())
            if rep is None:
                problem = ("sales_rep_code", "is not a known sales representative code.")
            else:
                record["sales_rep_id"] = rep.id
        if problem is None and record.get("email"):
            try:
                record["email"] = check_email(record["email"], "the e-mail address")
            except ValidationError as error:
                problem = ("email", error.message)
        if problem is not None:
            _refuse(problems, record, mapping, problem[0], problem[1])
            continue
        record["_existing"] = existing.get(record["code"].upper())
        kept.append(record)
    return kept


def _warehouses(session: Session) -> dict[str, int]:
    return {
        code.upper(): wid for wid, code in session.execute(select(Warehouse.id, Warehouse.code))
    }


def _check_stock(session, records, mapping, problems, preview) -> list[dict]:
    warehouses = _warehouses(session)
    default = default_warehouse_id(session) if warehouses else None
    products = _by_code(session, Product, Product.sku, (r["sku"] for r in records))
    ceiling, _ = limits(session)
    first: dict[tuple, int] = {}
    kept = []
    for record in records:
        product = products.get(record["sku"].upper())
        if product is None:
            _refuse(
                problems,
                record,
                mapping,
                "sku",
                "is not a known SKU: import the products first, or correct the SKU.",
            )
            continue
        code = record.get("warehouse")
        wid = warehouses.get(code.upper()) if code else default
        if wid is None:
            _refuse(problems, record, mapping, "warehouse", "is not a known warehouse code.")
            continue
        key = (product.id, wid)
        if key in first:
            _refuse(
                problems,
                record,
                mapping,
                "sku",
                f"was counted on line {first[key]} already: give one total per SKU and "
                "warehouse (add the two counts up).",
            )
            continue
        first[key] = record["_line"]
        if record["on_hand"] > ceiling:
            _refuse(
                problems,
                record,
                mapping,
                "on_hand",
                f"is above {ceiling:,} units (the setting max_line_units): check the count.",
            )
            continue
        record["product_id"], record["warehouse_id"] = product.id, wid
        kept.append(record)
    reserved = _stock_levels(session, kept)
    checked = []
    for record in kept:
        _, held = reserved.get((record["product_id"], record["warehouse_id"]), (0, 0))
        if record["on_hand"] < held:
            _refuse(
                problems,
                record,
                mapping,
                "on_hand",
                f"is below the {held} units reserved for open orders: report their short picks "
                "(or cancel them) first, or check the count.",
            )
            continue
        checked.append(record)
    return checked


def _stock_levels(session: Session, records: list[dict]) -> dict[tuple, tuple[int, int]]:
    levels: dict[tuple, tuple[int, int]] = {}
    ids = sorted({r["product_id"] for r in records})
    for chunk in _chunks(ids):
        rows = session.execute(
            select(Stock.product_id, Stock.warehouse_id, Stock.on_hand, Stock.reserved).where(
                Stock.product_id.in_(chunk)
            )
        )
        for pid, wid, on_hand, reserved in rows:
            levels[(pid, wid)] = (on_hand, reserved)
    return levels


def _grouped(records, key, mapping, problems, what, same: tuple[str, ...]) -> dict[str, list]:
    """Lines grouped by document number; a line disagreeing with its document's first line on a
    field in ``same`` is refused."""
    groups: dict[str, list[dict]] = {}
    for record in records:
        number = str(record[key])
        group = groups.setdefault(number, [])
        if group:
            head = group[0]
            differs = next((n for n in same if record.get(n) != head.get(n)), None)
            if differs is not None:
                _refuse(
                    problems,
                    record,
                    mapping,
                    differs,
                    f"differs from line {head['_line']} of the same {what} {number}: every line "
                    f"of one {what} needs the same {differs}.",
                )
                continue
        group.append(record)
    return groups


def _existing_refs(session: Session, model, numbers) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(sorted(numbers)):
        found.update(
            ref
            for ref in session.scalars(
                select(model.external_ref).where(model.external_ref.in_(chunk))
            )
        )
    return found


def _check_lines(session, records, mapping, problems, *, active_only: bool) -> list[dict]:
    """SKU known (and sold, for orders) and quantity within the ceiling."""
    products = _by_code(session, Product, Product.sku, (r["sku"] for r in records))
    ceiling, _ = limits(session)
    kept = []
    for record in records:
        product = products.get(record["sku"].upper())
        if product is None:
            _refuse(
                problems,
                record,
                mapping,
                "sku",
                "is not a known SKU: import the products first, or correct the SKU.",
            )
        elif active_only and not product.active:
            _refuse(
                problems,
                record,
                mapping,
                "sku",
                "is no longer sold: mark the product active, or order its substitute.",
            )
        elif record["qty"] < 1:
            _refuse(problems, record, mapping, "qty", "must be at least 1.")
        elif record["qty"] > ceiling:
            _refuse(
                problems,
                record,
                mapping,
                "qty",
                f"is above {ceiling:,} units (the setting max_line_units): check the quantity.",
            )
        else:
            record["_product"], record["_sku"] = product, product.sku
            kept.append(record)
    return kept


def _check_purchase_orders(session, records, mapping, problems, preview) -> list[dict]:
    records = _check_lines(session, records, mapping, problems, active_only=False)
    suppliers = _by_code(session, Supplier, Supplier.code, (r["supplier_code"] for r in records))
    known = []
    for record in records:
        supplier = suppliers.get(record["supplier_code"].upper())
        if supplier is None:
            _refuse(
                problems,
                record,
                mapping,
                "supplier_code",
                "is not a known supplier code: import the suppliers first, or correct the code.",
            )
            continue
        record["_supplier"] = supplier
        known.append(record)
    same = ("supplier_code", "expected_date", "order_date")
    groups = _grouped(known, "po_number", mapping, problems, "purchase order", same)
    done = _existing_refs(session, PurchaseOrder, groups)
    preview.existing = sum(1 for number in groups if number in done)
    preview.new = len(groups) - preview.existing
    return [r for group in groups.values() for r in group]


def _check_orders(session, records, mapping, problems, preview) -> list[dict]:
    records = _check_lines(session, records, mapping, problems, active_only=True)
    customers = _by_code(session, Customer, Customer.code, (r["customer_code"] for r in records))
    today = utcnow().date()
    known = []
    for record in records:
        customer = customers.get(record["customer_code"].upper())
        if customer is None:
            _refuse(
                problems,
                record,
                mapping,
                "customer_code",
                "is not a known customer code: import the customers first, or correct the code.",
            )
            continue
        priority = record.get("priority")
        if priority is not None:
            record["priority"] = _choice(priority, ORDER_PRIORITIES)
            if record["priority"] is None:
                _refuse(
                    problems, record, mapping, "priority", "use normal or urgent (or leave empty)."
                )
                continue
        if record.get("order_date") and record["order_date"] > today:
            _refuse(
                problems,
                record,
                mapping,
                "order_date",
                "is in the future: an open order was placed today or earlier.",
            )
            continue
        record["_customer"] = customer
        known.append(record)
    same = ("customer_code", "order_date", "requested_date", "priority")
    groups = _grouped(known, "order_number", mapping, problems, "order", same)
    kept = []
    for group in groups.values():
        if len(group) > MAX_LINES_PER_ORDER:
            for record in group[MAX_LINES_PER_ORDER:]:
                _refuse(
                    problems,
                    record,
                    mapping,
                    "order_number",
                    f"has more than {MAX_LINES_PER_ORDER} lines: split the order in the file.",
                )
            continue
        kept.extend(group)
    done = _existing_refs(session, Order, groups)
    preview.existing = sum(1 for number in groups if number in done)
    preview.new = len(groups) - preview.existing
    return kept


CHECKS = {
    "suppliers": _check_suppliers,
    "products": _check_products,
    "customers": _check_customers,
    "stock": _check_stock,
    "purchase_orders": _check_purchase_orders,
    "orders": _check_orders,
}


# --- Preview -------------------------------------------------------------------------------


def _plan(session: Session, opts: _Options) -> ImportPreview:
    """Read, map, parse and check the file; nothing is written."""
    try:
        table = read_file(
            opts.filename,
            opts.content,
            max_bytes=_max_bytes(session),
            sheet=opts.sheet,
            header=opts.header,
            kind=opts.kind,
        )
    except FileRefused as refused:
        raise ValidationError(refused.message) from refused
    suggested = suggest_mapping(opts.kind, table.columns, table.has_header)
    mapping = dict(suggested)
    if opts.mapping is not None:
        mapping = {f.name: opts.mapping.get(f.name) for f in FIELDS[opts.kind]}
    for name, column in mapping.items():
        if column is not None and column not in table.columns:
            raise ValidationError(
                f"The column {excerpt(column)} chosen for {name} is not in the file; its "
                f"columns are: {', '.join(table.columns)[:200]}."
            )
    chosen = [c for c in mapping.values() if c]
    twice = sorted({c for c in chosen if chosen.count(c) > 1})
    if twice:
        raise ValidationError(
            f"The column {excerpt(twice[0])} is chosen for more than one field: give each "
            "field its own column."
        )
    missing = [f.name for f in FIELDS[opts.kind] if f.required and not mapping.get(f.name)]
    detected_order, order_settled = detect_date_order(
        _numeric_values(table, mapping, opts.kind, ("date",))
    )
    detected_mark, mark_settled = detect_decimal_mark(
        _numeric_values(table, mapping, opts.kind, ("int", "money"))
    )
    preview = ImportPreview(
        kind=opts.kind,
        table=table,
        mapping=mapping,
        suggested=suggested,
        date_order=opts.date_order or (detected_order if order_settled else None),
        date_order_settled=order_settled or opts.date_order is not None,
        decimal_mark=opts.decimal_mark or detected_mark,
        decimal_settled=mark_settled or opts.decimal_mark is not None,
    )
    preview._numeric_dates = detected_order is not None
    preview.already = session.execute(
        select(ImportBatch).where(ImportBatch.kind == opts.kind, ImportBatch.sha256 == table.sha256)
    ).scalar_one_or_none()
    if missing:
        preview.problems = [
            Problem(
                0,
                "",
                "",
                f"No column is chosen for the required field {name}: map one of the file's "
                "columns to it.",
            )
            for name in missing
        ]
        return preview
    # Ambiguous numeric dates are read day first for the preview; applying needs the choice.
    records, problems = _records(
        table, opts.kind, mapping, preview.date_order or "dmy", preview.decimal_mark
    )
    records = CHECKS[opts.kind](session, records, mapping, problems, preview)
    if opts.kind in ("suppliers", "products", "customers"):
        preview.existing = sum(1 for r in records if r.get("_existing") is not None)
        preview.new = len(records) - preview.existing
    elif opts.kind == "stock":
        preview.existing, preview.new = len(records), 0
    preview.problems = sorted(problems, key=lambda p: (p.line, p.column))
    preview.records = records
    return preview


def preview_import(
    engine: Engine,
    *,
    kind: str,
    filename: str,
    content: bytes,
    mapping: dict[str, str | None] | None = None,
    sheet: str | None = None,
    header: bool | None = None,
    date_order: str | None = None,
    decimal_mark: str | None = None,
) -> ImportPreview:
    """What applying would do: the mapping, the detected forms, every refused row (no writes).

    A file that cannot be read at all raises ValidationError with the reason.
    """
    opts = _options(kind, filename, content, mapping, sheet, header, date_order, decimal_mark)
    with read_connection(engine) as conn, Session(bind=conn) as session:
        return _plan(session, opts)


# --- Applying ------------------------------------------------------------------------------


def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def _upsert(
    session: Session,
    model,
    records: list[dict],
    mapping: dict,
    columns: dict[str, str],
    defaults: Callable[[dict], dict],
    progress: Progress | None,
) -> tuple[int, int, int]:
    """Insert new rows, update changed ones (only the mapped fields), leave equal ones alone.

    ``columns`` maps record fields to table columns; returns (created, updated, unchanged).
    """
    table = model.__table__
    mapped = [name for name in columns if mapping.get(name)]
    new_rows, changed, unchanged = [], [], 0
    for record in records:
        old = record.get("_existing")
        if old is None:
            row = defaults(record)
            row.update({columns[n]: record[n] for n in columns if record.get(n) is not None})
            new_rows.append(row)
            continue
        values = {columns[n]: record[n] for n in mapped if n in record and record[n] is not None}
        if any(getattr(old, col) != value for col, value in values.items()):
            changed.append((old.id, values))
        else:
            unchanged += 1
    total = len(records)
    done = 0
    conn = session.connection()
    for chunk in _chunks(new_rows, CHUNK):
        conn.execute(insert(table), chunk)
        done += len(chunk)
        _report(progress, done, total)
    by_shape: dict[tuple, list[dict]] = defaultdict(list)
    for row_id, values in changed:
        by_shape[tuple(sorted(values))].append({"_id": row_id, **values})
    for shape, rows in by_shape.items():
        statement = (
            update(table)
            .where(table.c.id == bindparam("_id"))
            .values({col: bindparam(col) for col in shape})
        )
        for chunk in _chunks(rows, CHUNK):
            conn.execute(statement, chunk)
            done += len(chunk)
            _report(progress, done, total)
    session.expire_all()
    return len(new_rows), len(changed), unchanged


def _apply_suppliers(session, preview, batch, actor, now, progress):
    columns = {
        "code": "code",
        "name": "name",
        "email": "email",
        "lead_time_days": "lead_time_days",
        "min_order_value": "min_order_value",
        "active": "active",
    }
    return _upsert(
        session,
        Supplier,
        preview.records,
        preview.mapping,
        columns,
        lambda r: {
            "email": None,
            "lead_time_days": DEFAULT_LEAD_TIME_DAYS,
            "min_order_value": Decimal("0"),
            "active": True,
        },
        progress,
    )


def _apply_products(session, preview, batch, actor, now, progress):
    for record in preview.records:
        if record["_existing"] is None:
            record["sku"] = record["sku"].upper()
    columns = {
        "sku": "sku",
        "name": "name",
        "category": "category",
        "use": "use",
        "unit": "unit",
        "pack_size": "pack_size",
        "cost": "cost",
        "price": "price",
        "supplier_id": "supplier_id",
        "bin_id": "bin_id",
        "reorder_point": "reorder_point",
        "safety_stock": "safety_stock",
        "order_up_to": "order_up_to",
        "min_order_qty": "min_order_qty",
        "shelf_life_days": "shelf_life_days",
        "allergens": "allergens",
        "active": "active",
    }
    mapping = dict(preview.mapping)
    # Derived from mapped columns: the supplier and bin by code, the level kept above the point.
    mapping.update(
        supplier_id=mapping.get("supplier_code"),
        bin_id=mapping.get("bin_code"),
        order_up_to=mapping.get("order_up_to") or mapping.get("reorder_point"),
    )
    for record in preview.records:
        if record.get("allergens"):
            parts = record["allergens"].replace(";", ",").split(",")
            record["allergens"] = ",".join(sorted({p.strip().lower() for p in parts if p.strip()}))
    return _upsert(
        session,
        Product,
        preview.records,
        mapping,
        columns,
        lambda r: {
            "use": r["name"][:60],
            "unit": "each",
            "pack_size": 1,
            "bin_id": None,
            "reorder_point": 0,
            "safety_stock": 0,
            "order_up_to": 0,
            "min_order_qty": 1,
            "shelf_life_days": None,
            "allergens": "",
            "active": True,
        },
        progress,
    )


def _apply_customers(session, preview, batch, actor, now, progress):
    columns = {
        "code": "code",
        "name": "name",
        "segment": "segment",
        "region": "region",
        "tier": "tier",
        "sales_rep_id": "sales_rep_id",
        "backorder_preference": "backorder_preference",
        "email": "email",
        "phone": "phone",
    }
    mapping = dict(preview.mapping)
    mapping["sales_rep_id"] = mapping.get("sales_rep_code")
    return _upsert(
        session,
        Customer,
        preview.records,
        mapping,
        columns,
        lambda r: {
            "region": "",
            "tier": "bronze",
            "sales_rep_id": None,
            "backorder_preference": "accept_backorder",
            "email": None,
            "phone": None,
            "created_at": now,
            "mail_opt_out": False,
        },
        progress,
    )


def _apply_stock(session, preview, batch, actor, now, progress):
    records = preview.records
    by_warehouse: dict[int, list[dict]] = defaultdict(list)
    for record in records:
        by_warehouse[record["warehouse_id"]].append(record)
    changed = unchanged = done = 0
    note = f"stock count imported from {batch.filename}"[:200]
    for wid, rows in by_warehouse.items():
        gains, falls = [], []
        for chunk in _chunks(sorted(rows, key=lambda r: r["product_id"]), CHUNK):
            levels = lock_stock(session, (r["product_id"] for r in chunk), wid)
            moves = []
            for record in chunk:
                pid = record["product_id"]
                on_hand, reserved = levels.get(pid, (0, 0))
                delta = record["on_hand"] - on_hand
                if delta == 0:
                    unchanged += 1
                    continue
                moves.append((pid, delta, pid in levels))
                (gains if delta > 0 else falls).append((pid, on_hand - reserved, delta))
            adjust_many(
                session,
                moves,
                warehouse_id=wid,
                actor=actor,
                ref_type="import",
                ref_id=batch.id,
                note=note,
            )
            changed += len(moves)
            done += len(chunk)
            _report(progress, done, len(records))
        products = {p.id: p for p in _products(session, [pid for pid, _, _ in falls])}
        for pid, free, delta in falls:
            notification_rules.stock_fell(session, products[pid], free, free + delta, now)
        waiting = _with_open_backorders(session, [pid for pid, _, _ in gains])
        if waiting:
            fill_backorders(
                session,
                product_ids=waiting,
                warehouse_id=wid,
                actor=actor,
                now=now,
            )
    return 0, changed, unchanged


def _with_open_backorders(session: Session, ids: list[int]) -> list[int]:
    """The products among ``ids`` that customers wait for (the only ones a gain can fill)."""
    found: set[int] = set()
    for chunk in _chunks(sorted(set(ids))):
        found.update(
            session.scalars(
                select(Backorder.product_id)
                .where(Backorder.product_id.in_(chunk), Backorder.status == "open")
                .distinct()
            )
        )
    return sorted(found)


def _products(session: Session, ids: list[int]) -> list[Product]:
    found: list[Product] = []
    for chunk in _chunks(sorted(set(ids))):
        found.extend(session.scalars(select(Product).where(Product.id.in_(chunk))))
    return found


def _moment(day: dt.date | None, now: dt.datetime) -> dt.datetime:
    return now if day is None or day == now.date() else dt.datetime.combine(day, dt.time(0))


def _groups(records: list[dict], key: str) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for record in records:
        groups.setdefault(str(record[key]), []).append(record)
    return groups


def _apply_purchase_orders(session, preview, batch, actor, now, progress):
    groups = _groups(preview.records, "po_number")
    done_refs = _existing_refs(session, PurchaseOrder, groups)
    warehouse_id = default_warehouse_id(session)
    created = unchanged = done = 0
    touched: set[int] = set()
    for number, lines in groups.items():
        done += len(lines)
        if number in done_refs:
            unchanged += 1
            continue
        head = lines[0]
        supplier = head["_supplier"]
        placed = _moment(head.get("order_date"), now)
        expected = head.get("expected_date") or (
            placed.date() + dt.timedelta(days=supplier.lead_time_days)
        )
        po = PurchaseOrder(
            number=provisional_number(),
            supplier_id=supplier.id,
            warehouse_id=warehouse_id,
            status="sent",
            created_at=placed,
            created_by=actor,
            approved_at=now,
            approved_by=actor,
            sent_at=now,
            expected_date=expected,
            original_expected_date=expected,
            external_ref=str(head["po_number"]),
        )
        session.add(po)
        session.flush()
        po.number = document_number("PO", po.id)
        merged: dict[int, list] = {}
        for record in lines:  # identical lines add up: the PO holds one line per product
            product = record["_product"]
            cost = record.get("unit_cost")
            if product.id in merged:
                merged[product.id][0] += record["qty"]
            else:
                merged[product.id] = [record["qty"], product.cost if cost is None else cost]
        session.add_all(
            PurchaseOrderLine(po_id=po.id, product_id=pid, qty_ordered=qty, unit_cost=cost)
            for pid, (qty, cost) in merged.items()
        )
        touched.update(merged)
        created += 1
        if created % 200 == 0:
            _report(progress, done, len(preview.records))
    session.flush()
    if touched:
        # More supply on the way: the waiting backorders of these products get new estimates.
        lock_stock(session, touched, warehouse_id)
        reestimate_backorders(session, touched, now.date())
    _report(progress, len(preview.records), len(preview.records))
    return created, 0, unchanged


def _apply_orders(session, preview, batch, actor, now, progress):
    groups = _groups(preview.records, "order_number")
    done_refs = _existing_refs(session, Order, groups)
    created = unchanged = done = 0
    for number, lines in groups.items():
        done += len(lines)
        if number in done_refs:
            unchanged += 1
            continue
        head = lines[0]
        customer = session.get(Customer, head["_customer"].id)
        place_in_session(
            session,
            customer=customer,
            wanted=[(r["_sku"], r["qty"], None, r.get("unit_price")) for r in lines],
            actor=actor,
            priority=head.get("priority") or "normal",
            requested_date=head.get("requested_date"),
            backorder_choice=None,
            channel=IMPORT_CHANNEL,
            now=now,
            warehouse_id=None,
            confirm_large=True,
            placed_at=_moment(head.get("order_date"), now),
            external_ref=str(head["order_number"]),
            raise_notices=False,
        )
        created += 1
        if created % 100 == 0:
            session.expunge_all()  # a long import keeps no finished orders in memory
            _report(progress, done, len(preview.records))
    _report(progress, len(preview.records), len(preview.records))
    return created, 0, unchanged


APPLY = {
    "suppliers": _apply_suppliers,
    "products": _apply_products,
    "customers": _apply_customers,
    "stock": _apply_stock,
    "purchase_orders": _apply_purchase_orders,
    "orders": _apply_orders,
}


def refusal_message(preview: ImportPreview) -> str:
    """One message for a refused file: how many rows, the first few, where the rest are."""
    problems = preview.problems
    shown = "; ".join(p.sentence().rstrip(".") for p in problems[:PROBLEMS_IN_MESSAGE])
    more = (
        f" and {len(problems) - PROBLEMS_IN_MESSAGE:,} more (download the report)"
        if len(problems) > PROBLEMS_IN_MESSAGE
        else ""
    )
    rows = len({p.line for p in problems})
    message = (
        f"Nothing was imported: {rows:,} row(s) of {preview.table.filename} are refused. "
        f"{shown}{more}. Correct the file and import it again."
    )
    if len(message) > 380:
        message = (
            f"Nothing was imported: {rows:,} row(s) of the file are refused; the first is "
            f"{problems[0].sentence()[:200]} Download the report for every row."
        )
    return message


def _require_importer(session: Session, actor: str) -> None:
    try:
        require_admin(session, actor)
    except InvalidState as refused:
        raise InvalidState(
            f"Only an administrator can import data; {excerpt(actor)} is not one. "
            "Ask an administrator."
        ) from refused


@write_operation
def apply_import(
    engine: Engine,
    *,
    kind: str,
    filename: str,
    content: bytes,
    actor: str,
    mapping: dict[str, str | None] | None = None,
    sheet: str | None = None,
    header: bool | None = None,
    date_order: str | None = None,
    decimal_mark: str | None = None,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Apply every row of the file in one transaction, or refuse it whole (nothing written).

    Refused rows raise :class:`ImportRefused` (its ``problems`` list every one); a file already
    applied for this kind returns ``already_imported`` and changes nothing. ``progress`` is
    called with (rows done, rows) while applying.
    """
    actor = actor_name(actor)
    opts = _options(kind, filename, content, mapping, sheet, header, date_order, decimal_mark)
    now = optional_moment(now, "The time of the import") or utcnow()
    if progress is not None and not callable(progress):
        raise ValidationError("The progress report must be a function of (done, total).")
    with write_session(engine) as session:
        _require_importer(session, actor)
        preview = _plan(session, opts)
        if preview.already is not None:
            batch = preview.already
            return ImportResult(
                kind=batch.kind,
                filename=opts.filename,
                sha256=batch.sha256,
                rows=batch.rows,
                created=0,
                updated=0,
                unchanged=batch.rows,
                batch_id=batch.id,
                already_imported=True,
                applied_at=batch.at,
            )
        if preview.problems:
            raise ImportRefused(refusal_message(preview), preview.problems)
        if preview.date_order_needed:
            raise ValidationError(
                "The file's dates fit both day/month and month/day (such as 03/04/2026): say "
                f"which it uses ({DATE_ORDER_LABELS['dmy']}, or month/day) and import again."
            )
        batch = ImportBatch(
            kind=opts.kind,
            filename=opts.filename,
            sha256=preview.table.sha256,
            rows=preview.rows,
            actor=actor,
            at=now,
        )
        session.add(batch)
        session.flush()
        created, updated, unchanged = APPLY[opts.kind](
            session, preview, batch, actor, now, progress
        )
        batch.created, batch.updated, batch.unchanged = created, updated, unchanged
        audit.record(
            session,
            actor=actor,
            action=f"import_{opts.kind}",
            entity="import",
            entity_id=batch.id,
            after={
                "file": opts.filename,
                "sha256": preview.table.sha256,
                "rows": preview.rows,
                "created": created,
                "updated": updated,
                "unchanged": unchanged,
                "mapping": {k: v for k, v in preview.mapping.items() if v},
            },
            note=f"{opts.filename} (SHA-256 {preview.table.sha256})",
            at=now,
        )
        return ImportResult(
            kind=opts.kind,
            filename=opts.filename,
            sha256=preview.table.sha256,
            rows=preview.rows,
            created=created,
            updated=updated,
            unchanged=unchanged,
            batch_id=batch.id,
            applied_at=now,
        )


# --- Saved mappings ------------------------------------------------------------------------


@write_operation
def save_import_mapping(
    engine: Engine,
    *,
    kind: str,
    name: str,
    columns: dict[str, str | None],
    actor: str,
    options: dict | None = None,
) -> int:
    """Save (or replace) a named column mapping for a kind of import; returns its id.

    ``options`` may hold ``header`` (true/false), ``date_order`` (dmy/mdy), ``decimal_mark``
    (. or ,) and ``sheet``: what the file needed last time.
    """
    actor = actor_name(actor)
    kind = one_of(kind, IMPORT_KINDS, "What to import")
    name = text(name, "The mapping's name", max_length=MAPPING_NAME_LENGTH)
    columns = {k: v for k, v in _checked_mapping(kind, columns).items() if v}
    if not columns:
        raise ValidationError("A mapping needs at least one field with its column.")
    checked: dict[str, Any] = {}
    if options is not None:
        if not isinstance(options, dict):
            raise ValidationError(f"The mapping's options must be a dict, not {excerpt(options)}.")
        for key, value in options.items():
            if value is None:
                continue
            if key == "header":
                checked[key] = flag(value, "The first row is a header")
            elif key == "date_order":
                checked[key] = one_of(value, DATE_ORDERS, "The date order")
            elif key == "decimal_mark":
                checked[key] = one_of(value, DECIMAL_MARKS, "The decimal mark")
            elif key == "sheet":
                checked[key] = text(value, "The sheet", max_length=100)
            else:
                raise ValidationError(
                    f"{excerpt(key)} is not a mapping option (header, date_order, "
                    "decimal_mark, sheet)."
                )
    with write_session(engine) as session:
        _require_importer(session, actor)
        saved = session.execute(
            select(ImportMapping).where(ImportMapping.kind == kind, ImportMapping.name == name)
        ).scalar_one_or_none()
        before = None
        if saved is None:
            saved = ImportMapping(kind=kind, name=name, updated_by=actor)
            session.add(saved)
        else:
            before = {"columns": saved.columns, "options": saved.options}
        saved.columns, saved.options = columns, checked
        saved.updated_at, saved.updated_by = utcnow(), actor
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="save_import_mapping",
            entity="import_mapping",
            entity_id=saved.id,
            before=before,
            after={"kind": kind, "name": name, "columns": columns, "options": checked},
        )
        return saved.id
