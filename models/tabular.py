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
    # Day-month-name and month labels as spreadsheets export them: 2-Jun-06, Jan-98, Mar 2017.
    "%d-%b-%y",
    "%d-%b-%Y",
    "%d %b %y",
    "%b-%y",
    "%b-%Y",
    "%b %y",
    "%b %Y",
    "%B %Y",
    "%B-%y",
    "%Y-%m",
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


def read_table(path: str | Path, *, header: bool = True, sep: str | None = None) -> pd.DataFrame:
    """A CSV (any common delimiter, with or without BOM) read as text columns.

    ``header=False`` reads a file without a header line; its columns are then called by their
    positions ("0", "1", ...). ``sep`` fixes the delimiter instead of guessing it.
    """
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
    delimiter = sep or _guess_delimiter(sample)
    quoting = csv.QUOTE_MINIMAL
    if delimiter == "\t" and not _QUOTED_TAB_FIELD.search(sample):
        # Tab-separated sentences carry stray quote marks ("it's "ok"); they are text, not quoting.
        quoting = csv.QUOTE_NONE
    malformed: list[list[str]] = []
    try:
        frame = pd.read_csv(
            path,
            sep=delimiter,
            encoding=encoding,
            dtype=str,
            header=0 if header else None,
            keep_default_na=True,
            skipinitialspace=True,
            quoting=quoting,
            engine="python",  # the only engine that hands malformed lines to a callback
            on_bad_lines=lambda line: malformed.append(line),
        )
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{path} has no header or rows") from exc
    frame.attrs["malformed_lines"] = len(malformed)
    frame.attrs["header_lines"] = 1 if header else 0
    frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
    if frame.empty:
        raise InputError(f"{path} has a header but no rows")
    return frame


_QUOTED_TAB_FIELD = re.compile(r'(^|\t)"[^\t\n]*"(\t|$)', re.MULTILINE)


def _guess_delimiter(sample: str) -> str:
    """The delimiter of a CSV sample: tab when every line has the same number of tabs."""
    lines = [line for line in sample.splitlines()[:200] if line.strip()]
    if len(lines) > 1:
        lines = lines[:-1]  # the sample may end inside a line
    tabs = {line.count("\t") for line in lines}
    if len(tabs) == 1 and tabs != {0}:
        return "\t"
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def column(frame: pd.DataFrame, name: str) -> str:
    """The frame's column called ``name`` (exactly, else ignoring case and spaces)."""
    if name in frame.columns:
        return name
    wanted = name.strip().lower()
    for col in frame.columns:
        if col.strip().lower() == wanted:
            return col
    raise InputError(f"column {name!r} not found; the columns are: {', '.join(frame.columns)}")


def parse_dates(values: pd.Series, date_format: str | None = None) -> tuple[pd.Series, str]:
    """Dates from text in whatever single or mixed formats the column uses (NaT where none fit).

    Returns the dates (naive, UTC where a zone was given) and a description of the formats used.
    With ``date_format`` (a strftime pattern such as ``%d-%b-%y``) only that format is tried.
    """
    text = values.astype("string").str.strip()
    if date_format:
        try:
            parsed = pd.to_datetime(text, format=date_format, errors="coerce")
        except (ValueError, TypeError) as exc:
            raise InputError(f"--date-format {date_format!r} is not a date pattern: {exc}") from exc
        return parsed.astype("datetime64[ns]"), f"{date_format} ({int(parsed.notna().sum())})"
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


def row_place(frame: pd.DataFrame, label) -> str:
    """Where row ``label`` of a frame from :func:`read_table` is: its row and file line number."""
    if not isinstance(label, int | np.integer):
        return f"row {label}"
    header = frame.attrs.get("header_lines", 1)
    return f"row {int(label) + 1} (line {int(label) + 1 + header})"


def first_bad_value(frame: pd.DataFrame, col: str, bad: pd.Series) -> str:
    """' (first: '2-Jun-06' in row 1 (line 2))' for the first row flagged ``bad``, else ''."""
    if not bad.any():
        return ""
    label = bad[bad].index[0]
    return f" (first: {frame.at[label, col]!r} in {row_place(frame, label)})"


def sort_key(values: pd.Series) -> pd.Series:
    """What to sort a column by: its dates or numbers when every value reads as one, else text."""
    numbers = parse_numbers(values)
    if numbers.notna().all():
        return numbers
    dates, _ = parse_dates(values)
    if dates.notna().all():
        return dates
    return values.astype("string").str.strip()


def parse_numbers(values: pd.Series) -> pd.Series:
    """Numbers from text with currency signs, thousands separators or a decimal comma."""
    text = values.astype("string").str.replace(_CURRENCY, "", regex=True)
    thousands = text.str.fullmatch(_THOUSANDS).fillna(False)
    text = text.where(~thousands, text.str.replace(",", "", regex=False))
    decimal_comma = text.str.fullmatch(_DECIMAL_COMMA).fillna(False)
    text = text.where(~decimal_comma, text.str.replace(",", ".", regex=False))
    numbers = pd.to_numeric(text, errors="coerce").astype(float)
    return numbers.where(np.isfinite(numbers))


def note_malformed(frame: pd.DataFrame, notes: Notes) -> None:
    """Note the lines :func:`read_table` skipped for a wrong number of fields."""
    notes.add(
        frame.attrs.get("malformed_lines", 0),
        "skipped {n} malformed lines (wrong number of fields)",
    )


def drop_duplicates(frame: pd.DataFrame, notes: Notes) -> pd.DataFrame:
    """The frame without exact duplicate rows, noting how many went (and malformed lines).

    Only for when duplicates are known to be errors: in receipts or order lines two identical
    rows are two units sold, so the cleaning functions keep them unless told otherwise.
    """
    note_malformed(frame, notes)
    before = len(frame)
    frame = frame.drop_duplicates()
    notes.add(before - len(frame), "dropped {n} duplicate rows (asked to)")
    return frame


def _start(frame: pd.DataFrame, notes: Notes, drop_duplicate_rows: bool) -> pd.DataFrame:
    if drop_duplicate_rows:
        return drop_duplicates(frame, notes)
    note_malformed(frame, notes)
    duplicates = int(frame.duplicated().sum())
    notes.add(duplicates, "kept {n} rows identical to an earlier one (each counts)")
    return frame


def _condition(text: str, option: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise InputError(f"{option} needs COLUMN=VALUE, got {text!r}")
    return name.strip(), value.strip()


def filter_rows(
    frame: pd.DataFrame,
    where: list[str] | tuple[str, ...] = (),
    exclude: list[str] | tuple[str, ...] = (),
    notes: Notes | None = None,
) -> pd.DataFrame:
    """Rows matching every ``COL=VALUE`` in ``where`` and none in ``exclude`` (case-insensitive).

    Several ``where`` conditions on one column keep a row matching any of them.
    """
    notes = notes if notes is not None else Notes()
    keep = pd.Series(True, index=frame.index)
    wanted: dict[str, list[str]] = {}
    for text in where:
        name, value = _condition(text, "--where")
        wanted.setdefault(column(frame, name), []).append(value)
    for col, values in wanted.items():
        cell = frame[col].astype("string").str.strip().str.lower()
        match = cell.isin([v.lower() for v in values]).fillna(False)
        notes.add(
            int((keep & ~match).sum()),
            f"left out {{n}} rows where {col!r} is not {' or '.join(map(repr, values))}",
        )
        keep &= match
    for text in exclude:
        name, value = _condition(text, "--exclude")
        col = column(frame, name)
        match = frame[col].astype("string").str.strip().str.lower().eq(value.lower()).fillna(False)
        notes.add(int((keep & match).sum()), f"left out {{n}} rows where {col!r} is {value!r}")
        keep &= ~match
    out = frame[keep]
    if out.empty:
        raise InputError("no rows left after --where/--exclude: " + "; ".join(notes.lines))
    return out


def melt_wide(
    frame: pd.DataFrame,
    id_cols: list[str],
    notes: Notes | None = None,
    date_format: str | None = None,
) -> pd.DataFrame:
    """A wide table (one column per period: ``Part, Jan-98, Feb-98, ...``) as long rows.

    The columns named in ``id_cols`` stay; every other column whose header reads as a date
    becomes rows of (``date``, ``qty``) with the header as text in ``date``; columns whose
    header is no date are left out and named in the notes.
    """
    notes = notes if notes is not None else Notes()
    ids = [column(frame, c) for c in id_cols]
    others = [c for c in frame.columns if c not in ids]
    headers = pd.Series(others, index=others, dtype="string")
    dates, _ = parse_dates(headers, date_format)
    date_cols = [c for c in others if pd.notna(dates[c])]
    skipped = [c for c in others if pd.isna(dates[c])]
    if not date_cols:
        raise InputError(
            "--wide: no column header reads as a date; the columns are: " + ", ".join(others)
        )
    if skipped:
        notes.lines.append(
            f"--wide: left out {len(skipped)} columns whose header is no date: "
            + ", ".join(skipped[:10])
            + (" ..." if len(skipped) > 10 else "")
        )
    long = frame.melt(id_vars=ids, value_vars=date_cols, var_name="date", value_name="qty")
    notes.lines.append(
        f"--wide: {len(date_cols)} period columns ({date_cols[0]} .. {date_cols[-1]}) "
        f"x {len(frame)} rows read as {len(long)} long rows"
    )
    long.attrs = dict(frame.attrs)
    long.attrs["wide"] = True
    return long


def join_table(
    frame: pd.DataFrame, other: pd.DataFrame, on: str, notes: Notes | None = None
) -> pd.DataFrame:
    """``frame`` with the columns of ``other`` looked up by the key column ``on`` (left join).

    ``other`` must hold each key once; rows whose key it lacks keep empty values and are noted.
    """
    notes = notes if notes is not None else Notes()
    left, right = column(frame, on), column(other, on)
    keys = other[right].astype("string").str.strip()
    repeated = keys.duplicated(keep="first") & keys.notna()
    if repeated.any():
        raise InputError(
            f"--join: the key {right!r} repeats in the joined file "
            f"(first: {keys[repeated].iloc[0]!r}); it must name each key once"
        )
    extra = [c for c in other.columns if c != right and c not in frame.columns]
    lookup = other.assign(**{right: keys}).set_index(right)[extra]
    found = frame[left].astype("string").str.strip()
    joined = lookup.reindex(found.to_numpy())
    joined.index = frame.index
    out = pd.concat([frame, joined], axis=1)
    out.attrs = dict(frame.attrs)
    unmatched = ~found.isin(keys.dropna()).fillna(False)
    notes.add(int(unmatched.sum()), f"--join: {{n}} rows whose {left!r} is not in the joined file")
    notes.lines.append(f"--join: added {', '.join(extra) or 'no new columns'} by {left!r}")
    return out


def unparsed_dates(frame: pd.DataFrame, col: str, dates: pd.Series) -> pd.Series:
    """Rows with text in ``col`` that did not read as a date (empty cells are not counted)."""
    text = frame[col].astype("string").str.strip()
    return (dates.isna() & text.notna() & (text != "")).fillna(False).astype(bool)


def _note_unparsed(notes, frame, col, bad, date_format, among=None) -> None:
    """'dropped 3 rows with unparseable dates in 'Date' (first: '2-Jun-06' in row 1 (line 2))'."""
    among = bad.index if among is None else among
    every = bool(bad.any() and bad[among].all())
    hint = "; every value failed, give --date-format" if every and not date_format else ""
    if every and date_format:
        hint = f"; none matches --date-format {date_format!r}"
    notes.add(
        int(bad.sum()),
        f"dropped {{n}} rows with unparseable dates in {col!r}"
        + first_bad_value(frame, col, bad)
        + hint,
    )


def clean_demand(
    frame: pd.DataFrame,
    item_col: str,
    date_col: str,
    qty_col: str | None,
    *,
    date_format: str | None = None,
    count_rows: bool = False,
    drop_duplicate_rows: bool = False,
    keep_cols: list[str] | tuple[str, ...] = (),
) -> tuple[pd.DataFrame, Notes]:
    """A long (item, date, qty) frame from a raw table, with notes on every row left out.

    ``count_rows`` reads each row as one unit (receipt lines without a quantity column);
    identical rows then count once each, as they do otherwise unless ``drop_duplicate_rows``.
    ``keep_cols`` are carried into the result under their own names (group columns).
    """
    if not count_rows and not qty_col:
        raise InputError("give the quantity column, or count each row as one unit")
    item_col, date_col = column(frame, item_col), column(frame, date_col)
    qty_col = None if count_rows else column(frame, qty_col)
    kept = [column(frame, c) for c in keep_cols]
    notes = Notes()
    frame = _start(frame, notes, drop_duplicate_rows)
    item = frame[item_col].astype("string").str.strip()
    dates, formats = parse_dates(frame[date_col], date_format)
    qty = pd.Series(1.0, index=frame.index) if count_rows else parse_numbers(frame[qty_col])
    no_item = item.isna() | (item == "")
    no_date = dates.isna() & ~no_item
    bad_date = unparsed_dates(frame, date_col, dates) & ~no_item
    empty_date = no_date & ~bad_date
    bad_qty = qty.isna() & ~no_item & ~no_date
    negative = (qty < 0) & ~no_item & ~no_date
    notes.add(int(no_item.sum()), f"dropped {{n}} rows with no item in {item_col!r}")
    _note_unparsed(notes, frame, date_col, bad_date, date_format, among=~no_item)
    notes.add(int(empty_date.sum()), f"dropped {{n}} rows with no date in {date_col!r}")
    if qty_col:
        notes.add(
            int(bad_qty.sum()), f"dropped {{n}} rows with a missing or non-numeric {qty_col!r}"
        )
    else:
        notes.lines.append(f"counted each of the {len(frame)} rows as one unit")
    notes.add(
        int(negative.sum()), "left out {n} rows with negative quantity (returns are not demand)"
    )
    keep = ~(no_item | no_date | bad_qty | negative)
    out = pd.DataFrame({"item": item[keep], "date": dates[keep], "qty": qty[keep].astype(float)})
    for col in kept:
        out[col] = frame.loc[keep, col].astype("string").str.strip().fillna("(none)")
    if out.empty:
        raise InputError("no usable rows left: " + "; ".join(notes.lines or ["input has no rows"]))
    notes.lines.append(f"read dates as {formats}")
    return out.reset_index(drop=True), notes


def clean_durations(
    frame: pd.DataFrame,
    group_col: str | list[str],
    start_col: str,
    end_col: str,
    promised_col: str | None = None,
    *,
    date_format: str | None = None,
    drop_duplicate_rows: bool = False,
    keep_cols: list[str] | tuple[str, ...] = (),
    feature_cols: list[str] | None = None,
) -> tuple[pd.DataFrame, Notes]:
    """A frame of (group, start, end, days[, promised][, features]) with notes on rows left out.

    ``group_col`` may be several columns, coarsest first (vendor, then product group): the
    frame then has ``group`` ("vendor / product group") and ``level_0``, ``level_1``, ... for a
    nested model. ``feature_cols`` are copied as they are (text), under their own names.
    """
    group_cols = [group_col] if isinstance(group_col, str) else list(group_col)
    group_cols = [column(frame, c) for c in group_cols]
    start_col, end_col = column(frame, start_col), column(frame, end_col)
    features = [column(frame, c) for c in feature_cols or []]
    reserved = {"group", "start", "end", "days", "promised", "quoted_days"}
    clash = [c for c in features if c in reserved]
    if clash:
        raise InputError(f"feature column names {clash} are used internally; rename them")
    promised_col = column(frame, promised_col) if promised_col else None
    notes = Notes()
    frame = _start(frame, notes, drop_duplicate_rows)
    levels = {}
    for i, col in enumerate(group_cols):
        value = frame[col].astype("string").str.strip()
        missing = value.isna() | (value == "")
        notes.add(int(missing.sum()), f"grouped {{n}} rows with no {col!r} as '(unknown)'")
        levels[f"level_{i}"] = value.where(~missing, "(unknown)")
    group = levels["level_0"]
    for i in range(1, len(group_cols)):
        group = group + " / " + levels[f"level_{i}"]
    start, start_formats = parse_dates(frame[start_col], date_format)
    end, end_formats = parse_dates(frame[end_col], date_format)
    bad_start = start.isna()
    unparsed_start = unparsed_dates(frame, start_col, start)
    _note_unparsed(notes, frame, start_col, unparsed_start, date_format)
    notes.add(int((bad_start & ~unparsed_start).sum()), f"dropped {{n}} rows with no {start_col!r}")
    bad_end = unparsed_dates(frame, end_col, end) & start.notna()
    open_end = end.isna() & start.notna() & ~bad_end
    _note_unparsed(notes, frame, end_col, bad_end, date_format, among=start.notna())
    notes.add(int(open_end.sum()), f"dropped {{n}} rows with no {end_col!r} yet (still open)")
    days = (end - start).dt.total_seconds() / 86400
    negative = days < 0
    notes.add(int(negative.sum()), f"dropped {{n}} rows where {end_col!r} is before {start_col!r}")
    keep = ~(bad_start | open_end | bad_end | negative)
    out = pd.DataFrame({"group": group, "start": start, "end": end, "days": days})
    if len(group_cols) > 1:
        for name, value in levels.items():
            out[name] = value
    for col in (column(frame, c) for c in keep_cols):
        out[col] = frame[col]
    for col in features:
        out[col] = frame[col]
    out = out[keep]
    if promised_col:
        promised, _ = parse_dates(frame[promised_col], date_format)
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
    frame: pd.DataFrame,
    text_col: str,
    label_col: str,
    *,
    drop_duplicate_rows: bool = False,
    keep_cols: list[str] | tuple[str, ...] = (),
) -> tuple[pd.DataFrame, Notes]:
    """A frame of (text, label) with notes on missing labels and empty texts.

    ``keep_cols`` are carried into the result under their own names (an order or split column).
    """
    text_col, label_col = column(frame, text_col), column(frame, label_col)
    kept = [column(frame, c) for c in keep_cols]
    notes = Notes()
    frame = _start(frame, notes, drop_duplicate_rows)
    label = frame[label_col].astype("string").str.strip()
    no_label = label.isna() | (label == "")
    notes.add(int(no_label.sum()), f"dropped {{n}} rows with no {label_col!r}")
    text = frame[text_col].astype("string").fillna("")
    notes.add(
        int(((text.str.strip() == "") & ~no_label).sum()), "{n} rows have empty text (score 0)"
    )
    out = pd.DataFrame({"text": text[~no_label], "label": label[~no_label]})
    for col in kept:
        out[col] = frame.loc[~no_label, col]
    if out.empty:
        raise InputError("no usable rows left: " + "; ".join(notes.lines or ["input has no rows"]))
    return out.reset_index(drop=True), notes
