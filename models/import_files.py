"""Reading the files a wholesaler brings from its old system: CSV or Excel, as they come.

Nothing here touches the database. :func:`read_file` turns uploaded bytes into a
:class:`RawTable` (the header, and every data row with its line number in the file) and refuses a
file that cannot be one with :class:`FileRefused`. The value parsers (:func:`parse_number`,
:func:`parse_date`) read the forms real exports use: decimal commas, thousands separators, ISO,
d/m/Y, m/d/y and d-Mon-yy dates, and placeholder text such as "N/A" or "Date Not Captured" in a
date column. The fields of each kind of import (what Larder expects, with the column names it
also recognises) are declared in :data:`FIELDS`; the write side (``operations.imports``) checks
the rows against the database and applies them.

Identical rows are kept: two identical order lines are two purchases. Only wholly blank rows are
skipped. CSV is read as a stream of records and Excel with openpyxl's read-only mode, so the
rows are held once, as tuples, and never as a second copy of the workbook.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

CSV_SUFFIXES = (".csv", ".txt", ".tsv")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
SEPARATORS = (",", ";", "\t", "|")
SNIFF_LINES = 50  # lines looked at to choose the separator
# Text that means "no value" in a column (compared lower-cased, spaces squeezed).
PLACEHOLDERS = frozenset(
    {
        "",
        "-",
        "--",
        "n/a",
        "na",
        "#n/a",
        "none",
        "null",
        "nil",
        "unknown",
        "tbc",
        "tba",
        "not captured",
        "date not captured",
        "not known",
        "no date",
    }
)
MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
DATE_ORDERS = ("dmy", "mdy")  # how a numeric date like 03/04/2026 is read
DATE_ORDER_LABELS = {"dmy": "day/month/year (03/04/2026 = 3 April)", "mdy": "month/day/year"}
DECIMAL_MARKS = (".", ",")

_ISO = re.compile(
    r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_NUMERIC_DATE = re.compile(
    r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})(?: \d{1,2}:\d{2}(?::\d{2})?)?$"
)
_NAMED_MONTH = re.compile(r"^(\d{1,2})[- ]([A-Za-z]{3,9})\.?[- ,]+(\d{4}|\d{2})$")
_SPACES = re.compile(r"[\s\u00a0\u202f']")
_CURRENCY = re.compile(r"[$€£¥]")
_DOT_NUMBER = re.compile(r"^[-+]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")
_COMMA_NUMBER = re.compile(r"^[-+]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$")


class FileRefused(Exception):
    """The file cannot be imported at all; ``message`` says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class RawTable:
    """A file's rows as read: text (CSV) or cell values (Excel), each with its line number."""

    filename: str
    sha256: str
    file_type: str  # "csv" or "excel"
    columns: list[str]
    rows: list[tuple]  # one tuple per data row, as long as ``columns``
    lines: list[int]  # the line (CSV record or sheet row) of each data row
    has_header: bool
    separator: str | None = None
    sheet: str | None = None
    sheets: list[str] = field(default_factory=list)
    ragged: dict[int, int] = field(default_factory=dict)  # line -> fields, where not the header's


# --- The fields of each kind ---------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One Larder field of an import: its type, whether required, and the names it goes by."""

    name: str
    type: str  # text, int, money, date, flag
    required: bool = False
    synonyms: tuple[str, ...] = ()
    help: str = ""
    max_length: int = 0


def _f(name, type_="text", required=False, synonyms=(), help_="", max_length=0) -> Field:
    return Field(name, type_, required, tuple(synonyms), help_, max_length)


FIELDS: dict[str, tuple[Field, ...]] = {
    "suppliers": (
        _f(
            "code",
            required=True,
            synonyms=(
                "supplier_code",
                "supplier",
                "vendor",
                "vendor_code",
                "supplier_id",
                "vendor_id",
            ),
            max_length=16,
        ),
        _f(
            "name",
            required=True,
            synonyms=("supplier_name", "vendor_name", "company"),
            max_length=100,
        ),
        _f("email", synonyms=("e_mail", "mail", "email_address"), max_length=200),
        _f("lead_time_days", "int", synonyms=("lead_time", "leadtime", "lead_days", "lt_days")),
        _f("min_order_value", "money", synonyms=("minimum_order", "min_order", "mov")),
        _f("active", "flag", synonyms=("enabled", "status")),
    ),
    "products": (
        _f(
            "sku",
            required=True,
            synonyms=(
                "item",
                "item_code",
                "product_code",
                "code",
                "article",
                "part_number",
                "item_no",
                "product_id",
            ),
            max_length=20,
        ),
        _f(
            "name",
            required=True,
            synonyms=("description", "product", "product_name", "item_name", "title"),
            max_length=160,
        ),
        _f(
            "category",
            required=True,
            synonyms=("group", "product_group", "family", "department"),
            max_length=40,
        ),
        _f(
            "supplier_code",
            required=True,
            synonyms=("supplier", "vendor", "vendor_code", "supplier_id"),
            max_length=16,
        ),
        _f(
            "cost",
            "money",
            required=True,
            synonyms=("unit_cost", "cost_price", "purchase_price", "buy_price"),
        ),
        _f(
            "price",
            "money",
            required=True,
            synonyms=("unit_price", "sell_price", "sales_price", "list_price", "selling_price"),
        ),
        _f("unit", synonyms=("uom", "unit_of_measure", "units"), max_length=20),
        _f("pack_size", "int", synonyms=("pack", "case_size", "pack_qty", "inner")),
        _f("use", synonyms=("usage", "purpose"), max_length=60),
        _f("bin_code", synonyms=("bin", "location", "bin_location"), max_length=20),
        _f("reorder_point", "int", synonyms=("rop", "reorder_level", "min_stock")),
        _f("safety_stock", "int", synonyms=("safety", "buffer_stock")),
        _f("order_up_to", "int", synonyms=("max_stock", "order_up_to_level", "max_level")),
        _f("min_order_qty", "int", synonyms=("moq", "minimum_order_quantity", "min_qty")),
        _f("shelf_life_days", "int", synonyms=("shelf_life",)),
        _f("allergens", synonyms=("allergen",), max_length=200),
        _f("active", "flag", synonyms=("enabled", "status")),
    ),
    "customers": (
        _f(
            "code",
            required=True,
            synonyms=(
                "customer_code",
                "customer",
                "account",
                "account_no",
                "customer_id",
                "account_number",
            ),
            max_length=16,
        ),
        _f(
            "name",
            required=True,
            synonyms=("customer_name", "company", "account_name"),
            max_length=120,
        ),
        _f(
            "segment",
            required=True,
            synonyms=("type", "customer_type", "business_type", "channel"),
            max_length=30,
        ),
        _f("region", synonyms=("area", "territory", "zone"), max_length=40),
        _f("tier", synonyms=("grade", "class", "level"), max_length=10),
        _f(
            "sales_rep_code",
            synonyms=("sales_rep", "rep", "salesperson", "rep_code", "account_manager"),
            max_length=16,
        ),
        _f("backorder_preference", synonyms=("backorders", "backorder_policy"), max_length=20),
        _f("email", synonyms=("e_mail", "mail", "email_address"), max_length=200),
        _f("phone", synonyms=("telephone", "tel", "phone_number"), max_length=40),
    ),
    "stock": (
        _f(
            "sku",
            required=True,
            synonyms=("item", "item_code", "product_code", "code", "article", "product"),
            max_length=20,
        ),
        _f(
            "on_hand",
            "int",
            required=True,
            synonyms=("counted", "count", "qty", "quantity", "stock", "qty_on_hand", "counted_qty"),
        ),
        _f("warehouse", synonyms=("warehouse_code", "site", "depot", "location"), max_length=16),
    ),
    "purchase_orders": (
        _f(
            "po_number",
            required=True,
            synonyms=("po", "purchase_order", "po_no", "order_number", "number", "external_ref"),
            max_length=40,
        ),
        _f(
            "supplier_code",
            required=True,
            synonyms=("supplier", "vendor", "vendor_code"),
            max_length=16,
        ),
        _f(
            "sku",
            required=True,
            synonyms=("item", "item_code", "product_code", "product"),
            max_length=20,
        ),
        _f("qty", "int", required=True, synonyms=("quantity", "qty_ordered", "ordered", "units")),
        _f("unit_cost", "money", synonyms=("cost", "price", "unit_price")),
        _f("expected_date", "date", synonyms=("due_date", "eta", "delivery_date", "expected")),
        _f("order_date", "date", synonyms=("created_at", "po_date", "date", "created")),
    ),
    "orders": (
        _f(
            "order_number",
            required=True,
            synonyms=("order", "order_no", "so_number", "number", "external_ref", "sales_order"),
            max_length=40,
        ),
        _f(
            "customer_code",
            required=True,
            synonyms=("customer", "account", "account_no", "customer_id"),
            max_length=16,
        ),
        _f(
            "sku",
            required=True,
            synonyms=("item", "item_code", "product_code", "product"),
            max_length=20,
        ),
        _f("qty", "int", required=True, synonyms=("quantity", "qty_ordered", "ordered", "units")),
        _f("unit_price", "money", synonyms=("price", "sell_price")),
        _f("order_date", "date", synonyms=("placed_at", "date", "ordered_on", "created")),
        _f(
            "requested_date",
            "date",
            synonyms=("delivery_date", "due_date", "required_date", "wanted"),
        ),
        _f("priority", synonyms=("urgency",), max_length=10),
    ),
}
KEY_FIELDS = {
    "suppliers": "code",
    "products": "sku",
    "customers": "code",
    "stock": "sku",
    "purchase_orders": "po_number",
    "orders": "order_number",
}
KIND_LABELS = {
    "suppliers": "Suppliers",
    "products": "Products",
    "customers": "Customers",
    "stock": "Stock counts",
    "purchase_orders": "Open purchase orders",
    "orders": "Open orders",
}


def normalise_name(name: object) -> str:
    """A column name reduced to lower-case letters and digits joined by ``_``."""
    text = str(name or "").strip().lstrip("\ufeff").lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def known_names(kind: str) -> set[str]:
    return {normalise_name(n) for f in FIELDS[kind] for n in (f.name, *f.synonyms)}


def suggest_mapping(
    kind: str, columns: list[str], has_header: bool = True
) -> dict[str, str | None]:
    """The file column for each field: by its own name first, then by a synonym, else None.

    A headerless file is mapped by position, in the order of :data:`FIELDS` (the order the
    expected columns are documented and exported in).
    """
    fields = FIELDS[kind]
    if not has_header:
        return {f.name: (columns[i] if i < len(columns) else None) for i, f in enumerate(fields)}
    by_name = {normalise_name(c): c for c in reversed(columns)}  # first column wins a tie
    mapping: dict[str, str | None] = {}
    taken: set[str] = set()
    for f in fields:  # exact names first, so a synonym never steals another field's column
        column = by_name.get(normalise_name(f.name))
        mapping[f.name] = column
        if column:
            taken.add(column)
    for f in fields:
        if mapping[f.name]:
            continue
        for synonym in f.synonyms:
            column = by_name.get(normalise_name(synonym))
            if column and column not in taken:
                mapping[f.name] = column
                taken.add(column)
                break
    return mapping


# --- Reading the file ----------------------------------------------------------------------


def sha256_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def file_type(filename: str, content: bytes, max_bytes: int) -> str:
    """``"csv"`` or ``"excel"``; anything else, an empty file or one too large is refused."""
    name = (filename or "").strip() or "the file"
    lower = name.lower()
    if len(content) > max_bytes:
        raise FileRefused(
            f"{name} is {len(content) / 1_000_000:,.1f} MB; the limit is "
            f"{max_bytes / 1_000_000:,.0f} MB (setting import_max_mb). Split it into smaller "
            "files, or ask an administrator to raise the limit."
        )
    if not content.strip():
        raise FileRefused(f"{name} is empty: export the data again and upload the saved file.")
    if content[:4] == b"PK\x03\x04":
        if not lower.endswith(EXCEL_SUFFIXES):
            raise FileRefused(
                f"{name} is a ZIP archive, not a CSV or Excel file: unpack it and upload the "
                "CSV or .xlsx file inside."
            )
        return "excel"
    if content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise FileRefused(
            f"{name} is an old Excel (.xls) workbook: open it and save it as .xlsx or CSV."
        )
    if lower.endswith(EXCEL_SUFFIXES):
        raise FileRefused(f"{name} is named like an Excel file but is not one: save it again.")
    if not lower.endswith(CSV_SUFFIXES):
        raise FileRefused(
            f"{name} is not a CSV or Excel file: Larder imports .csv, .tsv, .txt and .xlsx."
        )
    if b"\x00" in content[:65536]:
        raise FileRefused(
            f"{name} is not a text file (it holds binary data): export it as CSV (UTF-8)."
        )
    return "csv"


DECODE_CHUNK = 1 << 20  # bytes decoded at a time when checking an encoding


def encoding_of(content: bytes) -> str:
    """UTF-8 (with or without byte-order mark) when every byte decodes so, else Windows-1252.

    Checked a megabyte at a time, so a large file is never held as a second, decoded copy.
    """
    for encoding in ("utf-8-sig", "cp1252"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            for start in range(0, len(content), DECODE_CHUNK):
                decoder.decode(content[start : start + DECODE_CHUNK])
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    return "latin-1"  # decodes any bytes


def decode(content: bytes) -> str:
    """Text of a CSV file (see :func:`encoding_of`)."""
    return content.decode(encoding_of(content))


def choose_separator(text: str) -> str:
    """The separator that splits the first lines into the most, equally many, fields."""
    head = "\n".join(text[:65536].splitlines()[:SNIFF_LINES])
    best, best_score = ",", (0, 0)
    for separator in SEPARATORS:
        counts = [len(row) for row in csv.reader(io.StringIO(head), delimiter=separator) if row]
        if not counts or counts[0] < 2:
            continue
        steady = sum(1 for c in counts if c == counts[0])
        score = (steady, counts[0])
        if score > best_score:
            best, best_score = separator, score
    return best


def sheet_names(content: bytes) -> list[str]:
    """The worksheets of an .xlsx file, in workbook order."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise FileRefused(
            "The Excel file cannot be opened (it may be damaged or password-protected): "
            "save it again as .xlsx or CSV."
        ) from error
    try:
        return list(workbook.sheetnames)
    finally:
        workbook.close()


def _blank(cell: object) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _csv_records(content: bytes, encoding: str, separator: str):
    """(line, fields) per CSV record; ``line`` is where the record starts in the file.

    The bytes are decoded as the reader goes (no decoded copy of the whole file).
    """
    stream = io.TextIOWrapper(io.BytesIO(content), encoding=encoding, newline="")
    reader = csv.reader(stream, delimiter=separator)
    last = 0
    for record in reader:
        yield last + 1, record
        last = reader.line_num


def _excel_records(content: bytes, sheet: str | None):
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise FileRefused(
            "The Excel file cannot be opened (it may be damaged or password-protected): "
            "save it again as .xlsx or CSV."
        ) from error
    try:
        names = list(workbook.sheetnames)
        if sheet is None:
            sheet = names[0]
        elif sheet not in names:
            raise FileRefused(
                f"The workbook has no sheet {sheet!r}; its sheets are: {', '.join(names)}."
            )
        worksheet = workbook[sheet]
        for line, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
            yield names, sheet, line, list(values)
    finally:
        workbook.close()


def read_file(
    filename: str,
    content: bytes,
    *,
    max_bytes: int,
    sheet: str | None = None,
    header: bool | None = None,
    kind: str | None = None,
) -> RawTable:
    """The file's header and rows. ``header=None`` decides from the first row (and ``kind``).

    A first row counts as a header when one of its cells names a field of ``kind`` (or, without
    a kind, when no cell of it is a number or a date).
    """
    kind_of_file = file_type(filename, content, max_bytes)
    checksum = sha256_of(content)
    separator = None
    sheets: list[str] = []
    records: list[tuple[int, list]] = []
    if kind_of_file == "csv":
        encoding = encoding_of(content)
        head = content[:65536].decode(encoding, errors="ignore")
        separator = choose_separator(head)
        records = [(line, fields) for line, fields in _csv_records(content, encoding, separator)]
    else:
        for names, chosen, line, values in _excel_records(content, sheet):
            sheets, sheet = names, chosen
            records.append((line, values))
    records = [(line, fields) for line, fields in records if not all(map(_blank, fields))]
    where = f"sheet {sheet!r} of {filename}" if kind_of_file == "excel" else filename
    if not records:
        raise FileRefused(
            f"{where} has no rows: check that you exported the data, not a blank page."
        )
    first = [("" if c is None else str(c)).strip().lstrip("\ufeff") for c in records[0][1]]
    while first and not first[-1]:
        first.pop()
    if header is None:
        if kind is not None:
            names = known_names(kind)
            header = any(normalise_name(c) in names for c in first)
        else:
            header = all(not c or not re.search(r"\d", c) for c in first)
    width = max(len(fields) for _, fields in records)
    if header:
        columns = [c or f"Column {i}" for i, c in enumerate(first, start=1)]
        seen: dict[str, int] = {}
        for i, name in enumerate(columns):  # two columns of one name: the second gets a number
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                columns[i] = f"{name} ({seen[name]})"
        data = records[1:]
    else:
        columns = [f"Column {i}" for i in range(1, width + 1)]
        data = records
    if not data:
        raise FileRefused(f"{where} has a header but no rows below it.")
    size = len(columns)
    ragged: dict[int, int] = {}
    rows: list[tuple] = []
    lines: list[int] = []
    for line, fields in data:
        filled = len(fields)
        while filled and _blank(fields[filled - 1]):
            filled -= 1
        if filled > size:
            ragged[line] = filled
        rows.append(tuple(fields[:size]) + (None,) * (size - len(fields)))
        lines.append(line)
    return RawTable(
        filename=filename,
        sha256=checksum,
        file_type=kind_of_file,
        columns=columns,
        rows=rows,
        lines=lines,
        has_header=bool(header),
        separator=separator,
        sheet=sheet,
        sheets=sheets,
        ragged=ragged,
    )


# --- Reading values ------------------------------------------------------------------------


def is_placeholder(value: object) -> bool:
    """Empty, or text that only says there is no value ("N/A", "Date Not Captured"…)."""
    if value is None:
        return True
    if isinstance(value, str):
        return " ".join(value.lower().split()) in PLACEHOLDERS
    return False


def parse_number(value: object, decimal_mark: str = ".") -> Decimal:
    """A number from a cell: Excel numbers as they are; text with the file's decimal mark,
    thousands separators, spaces and currency signs. Raises ValueError with the reason."""
    if isinstance(value, bool):
        raise ValueError("is true/false, not a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("is not a number")
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value
    text = _SPACES.sub("", _CURRENCY.sub("", str(value)))
    if decimal_mark == ",":
        if not _COMMA_NUMBER.match(text):
            raise ValueError("is not a number: with a decimal comma, write it like 1.234,50")
        text = text.replace(".", "").replace(",", ".")
    else:
        if not _DOT_NUMBER.match(text):
            raise ValueError("is not a number: write it like 1,234.50")
        text = text.replace(",", "")
    try:
        return Decimal(text)
    except InvalidOperation as error:  # pragma: no cover - the patterns above admit only numbers
        raise ValueError("is not a number") from error


def detect_decimal_mark(values) -> tuple[str, bool]:
    """The decimal mark the text numbers use, and whether the values settle it.

    "12,5", "1.234,50" speak for a comma; "12.5", "1,234.50" for a point; "1,234" alone could be
    either (a point is assumed).
    """
    comma = point = 0
    for value in values:
        if not isinstance(value, str):
            continue
        text = _SPACES.sub("", _CURRENCY.sub("", value))
        if re.fullmatch(
            r"[-+]?\d+(\.\d{3})+,\d+|[-+]?\d+,(\d{1,2}|\d{4,})|[-+]?\d{1,3}(\.\d{3}){2,}", text
        ):
            comma += 1
        elif re.fullmatch(
            r"[-+]?\d+(,\d{3})+\.\d+|[-+]?\d+\.(\d{1,2}|\d{4,})|[-+]?\d{1,3}(,\d{3}){2,}", text
        ):
            point += 1
    if comma and not point:
        return ",", True
    return ".", bool(point and not comma)


def _year(text: str) -> int:
    year = int(text)
    return 2000 + year if len(text) == 2 else year


def parse_date(value: object, date_order: str | None = "dmy") -> dt.date | None:
    """A date from a cell; None for a placeholder. Raises ValueError with the reason.

    ISO (2026-03-04), d-Mon-yy (04-Mar-26, 4 March 2026) and Excel dates need no order; a
    numeric date (04/03/2026, 03/04/26) is read in ``date_order`` ("dmy" or "mdy").
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if is_placeholder(value):
        return None
    if isinstance(value, (int, float)):
        raise ValueError("is a number, not a date")
    text = str(value).strip()
    try:
        if match := _ISO.match(text):
            return dt.date(int(match[1]), int(match[2]), int(match[3]))
        if match := _NAMED_MONTH.match(text):
            month = MONTHS.get(match[2].lower())
            if month is None:
                raise ValueError(f"has an unknown month name {match[2]!r}")
            return dt.date(_year(match[3]), month, int(match[1]))
        if match := _NUMERIC_DATE.match(text):
            first, second = int(match[1]), int(match[2])
            if date_order is None:
                raise ValueError("could be day/month or month/day: choose the date order")
            day, month = (first, second) if date_order == "dmy" else (second, first)
            return dt.date(_year(match[3]), month, day)
    except ValueError as error:
        if "choose" in str(error) or "month name" in str(error):
            raise
        raise ValueError("is not a real calendar date") from error
    raise ValueError("is not a date (use 2026-03-31, 31/03/2026 or 31-Mar-26)")


def detect_date_order(values) -> tuple[str | None, bool]:
    """(order, settled) for the numeric dates among ``values``.

    A first part above 12 (25/03/2026) settles day first, a second part above 12 (03/25/2026)
    month first. ``(None, False)`` means no numeric dates at all (nothing to choose);
    ``("dmy", False)`` means every numeric date fits both readings and the person must say.
    """
    day_first = month_first = numeric = 0
    for value in values:
        if not isinstance(value, str):
            continue
        match = _NUMERIC_DATE.match(value.strip())
        if not match:
            continue
        numeric += 1
        first, second = int(match[1]), int(match[2])
        if first > 12 >= second:
            day_first += 1
        elif second > 12 >= first:
            month_first += 1
    if not numeric:
        return None, False
    if day_first and not month_first:
        return "dmy", True
    if month_first and not day_first:
        return "mdy", True
    return "dmy", False


def parse_flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("1", "yes", "y", "true", "t", "active", "x", "on"):
        return True
    if text in ("0", "no", "n", "false", "f", "inactive", "off", "discontinued"):
        return False
    raise ValueError("is not yes/no (use yes, no, true, false, 1 or 0)")


def cell_text(value: object) -> str:
    """A cell as text (Excel numbers without a trailing .0)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    return str(value).strip()


def expected_columns(kind: str) -> list[tuple[str, str, bool, str]]:
    """(column, type, required, other names) per field, for the documentation and the page."""
    return [(f.name, f.type, f.required, ", ".join(f.synonyms)) for f in FIELDS[kind]]


# --- The validation report -----------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One refused row: where (line and column), what was there, and why with the fix."""

    line: int
    column: str
    value: str
    reason: str

    def sentence(self) -> str:
        where = f"Line {self.line}" if self.line else "The file"
        where += f", column {self.column!r}" if self.column else ""
        shown = f" {self.value!r}" if self.value else ""
        return f"{where}:{shown} {self.reason}".replace(":  ", ": ")


REPORT_COLUMNS = ("line", "column", "value", "reason")


def report_csv(problems: list[Problem]) -> bytes:
    """The refused rows as a CSV file (UTF-8 with a byte-order mark, so Excel reads it)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(REPORT_COLUMNS)
    for problem in problems:
        value = problem.value
        if value.startswith(("=", "+", "-", "@", "\t", "\r")):
            value = "'" + value  # a spreadsheet opening the report must not run the file's text
        writer.writerow([problem.line, problem.column, value, problem.reason])
    return buffer.getvalue().encode("utf-8-sig")
