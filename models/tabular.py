"""Reading history tables nobody here wrote: odd encodings, dates, numbers and gaps.

Every function returns what it could use and a list of notes with counts ("dropped 12 rows with
unparseable dates in 'Date'"), so a command can say what it did instead of crashing or guessing
silently. Problems that leave nothing to work with raise :class:`InputError`.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

# Day-first before month-first: when every day is <= 12 either reading fits, and most of the
# world (and the Walmart set's original form) writes the day first.
DATE_FORMATS = (
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d/%m/%y",
    "%m/%d/%y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%Y/%m/%d",
    "%Y%m%d",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%d %b %Y",
    "%b %d, %Y",
)
_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$")
_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+$")
_CURRENCY = re.compile(r"[$€£¥\s]")


class InputError(Exception):
    """The input cannot be used at all (missing file or column, nothing left to work with)."""


@dataclass
class Notes:
    """What was done to the input, in sentences with counts."""

    lines: list[str] = field(default_factory=list)

    def add(self, count: int, message: str) -> None:
        if count:
            self.lines.append(message.format(n=count))


def read_table(path: str | Path) -> pd.DataFrame:
    """A CSV (any common delimiter, with or without BOM) read as text columns."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"file not found: {path}")
    raw = path.read_bytes()
    if not raw.strip():
        raise InputError(f"{path} is empty")
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    sample = text[:65536]
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    malformed: list[list[str]] = []
    try:
        frame = pd.read_csv(
            path,
            sep=delimiter,
            encoding=encoding,
            dtype=str,
            keep_default_na=True,
            skipinitialspace=True,
            engine="python",  # the only engine that hands malformed lines to a callback
            on_bad_lines=lambda line: malformed.append(line),
        )
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{path} has no header or rows") from exc
    frame.attrs["malformed_lines"] = len(malformed)
    frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
    if frame.empty:
        raise InputError(f"{path} has a header but no rows")
    return frame


def column(frame: pd.DataFrame, name: str) -> str:
    """The frame's column called ``name`` (exactly, else ignoring case and spaces)."""
    if name in frame.columns:
        return name
    wanted = name.strip().lower()
    for col in frame.columns:
        if col.strip().lower() == wanted:
            return col
    raise InputError(f"column {name!r} not found; the columns are: {', '.join(frame.columns)}")


def parse_dates(values: pd.Series) -> tuple[pd.Series, str]:
    """Dates from text in whatever single or mixed formats the column uses (NaT where none fit).

    Returns the dates (naive, UTC where a zone was given) and a description of the formats used.
    """
    text = values.astype("string").str.strip()
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    used = []
    # ISO 8601 first (2010-02-05, 2010-02-05T00:00:00Z, with or without zone).
    iso = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    if iso.notna().any():
        result = result.fillna(iso.dt.tz_convert(None).astype("datetime64[ns]"))
        used.append(f"ISO 8601 ({int(iso.notna().sum())})")
    remaining = result.isna() & text.notna()
    while remaining.any():
        best, best_parsed = None, None
        for fmt in DATE_FORMATS:
            parsed = pd.to_datetime(text[remaining], format=fmt, errors="coerce")
            if parsed.notna().sum() > (0 if best_parsed is None else best_parsed.notna().sum()):
                best, best_parsed = fmt, parsed
        if best is None:
            break
        result.loc[best_parsed.index] = result.loc[best_parsed.index].fillna(
            best_parsed.astype("datetime64[ns]")
        )
        used.append(f"{best} ({int(best_parsed.notna().sum())})")
        remaining = result.isna() & text.notna()
    return result, ", ".join(used) or "none"


def parse_numbers(values: pd.Series) -> pd.Series:
    """Numbers from text with currency signs, thousands separators or a decimal comma."""
    text = values.astype("string").str.replace(_CURRENCY, "", regex=True)
    thousands = text.str.fullmatch(_THOUSANDS).fillna(False)
    text = text.where(~thousands, text.str.replace(",", "", regex=False))
    decimal_comma = text.str.fullmatch(_DECIMAL_COMMA).fillna(False)
    text = text.where(~decimal_comma, text.str.replace(",", ".", regex=False))
    numbers = pd.to_numeric(text, errors="coerce").astype(float)
    return numbers.where(np.isfinite(numbers))


def drop_duplicates(frame: pd.DataFrame, notes: Notes) -> pd.DataFrame:
    """The frame without exact duplicate rows, noting how many went (and malformed lines)."""
    notes.add(
        frame.attrs.get("malformed_lines", 0),
        "skipped {n} malformed lines (wrong number of fields)",
    )
    before = len(frame)
    frame = frame.drop_duplicates()
    notes.add(before - len(frame), "dropped {n} duplicate rows")
    return frame


def clean_demand(
    frame: pd.DataFrame, item_col: str, date_col: str, qty_col: str
) -> tuple[pd.DataFrame, Notes]:
    """A long (item, date, qty) frame from a raw table, with notes on every row left out."""
    item_col, date_col, qty_col = (column(frame, c) for c in (item_col, date_col, qty_col))
    notes = Notes()
    frame = drop_duplicates(frame, notes)
    item = frame[item_col].astype("string").str.strip()
    dates, formats = parse_dates(frame[date_col])
    qty = parse_numbers(frame[qty_col])
    no_item = item.isna() | (item == "")
    bad_date = dates.isna() & ~no_item
    bad_qty = qty.isna() & ~no_item & ~bad_date
    negative = (qty < 0) & ~no_item & ~bad_date
    notes.add(int(no_item.sum()), f"dropped {{n}} rows with no item in {item_col!r}")
    notes.add(int(bad_date.sum()), f"dropped {{n}} rows with unparseable dates in {date_col!r}")
    notes.add(int(bad_qty.sum()), f"dropped {{n}} rows with a missing or non-numeric {qty_col!r}")
    notes.add(
        int(negative.sum()), "left out {n} rows with negative quantity (returns are not demand)"
    )
    keep = ~(no_item | bad_date | bad_qty | negative)
    out = pd.DataFrame({"item": item[keep], "date": dates[keep], "qty": qty[keep].astype(float)})
    if out.empty:
        raise InputError("no usable rows left: " + "; ".join(notes.lines or ["input has no rows"]))
    notes.lines.append(f"read dates as {formats}")
    return out.reset_index(drop=True), notes


def clean_durations(
    frame: pd.DataFrame,
    group_col: str,
    start_col: str,
    end_col: str,
    promised_col: str | None = None,
    feature_cols: list[str] | None = None,
) -> tuple[pd.DataFrame, Notes]:
    """A frame of (group, start, end, days[, promised][, features]) with notes on rows left out.

    ``feature_cols`` are copied as they are (text), under their own names.
    """
    group_col, start_col, end_col = (column(frame, c) for c in (group_col, start_col, end_col))
    features = [column(frame, c) for c in feature_cols or []]
    reserved = {"group", "start", "end", "days", "promised", "quoted_days"}
    clash = [c for c in features if c in reserved]
    if clash:
        raise InputError(f"feature column names {clash} are used internally; rename them")
    promised_col = column(frame, promised_col) if promised_col else None
    notes = Notes()
    frame = drop_duplicates(frame, notes)
    group = frame[group_col].astype("string").str.strip()
    missing_group = group.isna() | (group == "")
    notes.add(int(missing_group.sum()), f"grouped {{n}} rows with no {group_col!r} as '(unknown)'")
    group = group.where(~missing_group, "(unknown)")
    start, start_formats = parse_dates(frame[start_col])
    end, end_formats = parse_dates(frame[end_col])
    bad_start, bad_end = start.isna(), end.isna() & start.notna()
    notes.add(int(bad_start.sum()), f"dropped {{n}} rows with unparseable dates in {start_col!r}")
    notes.add(int(bad_end.sum()), f"dropped {{n}} rows with no usable {end_col!r} (still open?)")
    days = (end - start).dt.total_seconds() / 86400
    negative = days < 0
    notes.add(int(negative.sum()), f"dropped {{n}} rows where {end_col!r} is before {start_col!r}")
    keep = ~(bad_start | bad_end | negative)
    out = pd.DataFrame({"group": group, "start": start, "end": end, "days": days})[keep]
    for col in features:
        out[col] = frame.loc[keep, col]
    if promised_col:
        promised, _ = parse_dates(frame[promised_col])
        out["promised"] = promised[keep]
        notes.add(
            int(out["promised"].isna().sum()),
            f"{{n}} rows have no usable {promised_col!r} (left out of the on-time rate)",
        )
    if out.empty:
        raise InputError("no usable rows left: " + "; ".join(notes.lines or ["input has no rows"]))
    notes.lines.append(f"read dates as {start_formats} / {end_formats}")
    return out.reset_index(drop=True), notes


def clean_labelled_text(
    frame: pd.DataFrame, text_col: str, label_col: str
) -> tuple[pd.DataFrame, Notes]:
    """A frame of (text, label) with notes on missing labels and empty texts."""
    text_col, label_col = column(frame, text_col), column(frame, label_col)
    notes = Notes()
    frame = drop_duplicates(frame, notes)
    label = frame[label_col].astype("string").str.strip()
    no_label = label.isna() | (label == "")
    notes.add(int(no_label.sum()), f"dropped {{n}} rows with no {label_col!r}")
    text = frame[text_col].astype("string").fillna("")
    notes.add(
        int(((text.str.strip() == "") & ~no_label).sum()), "{n} rows have empty text (score 0)"
    )
    out = pd.DataFrame({"text": text[~no_label], "label": label[~no_label]})
    if out.empty:
        raise InputError("no usable rows left: " + "; ".join(notes.lines or ["input has no rows"]))
    return out.reset_index(drop=True), notes
