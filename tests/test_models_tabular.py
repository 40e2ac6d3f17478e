"""Reading tables nobody here wrote: dates, numbers, encodings, missing columns."""

import pandas as pd
import pytest

from models.tabular import (
    InputError,
    clean_demand,
    column,
    parse_dates,
    parse_numbers,
    read_table,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2010-02-05", "2010-02-05"),
        ("2010-02-05T00:00:00Z", "2010-02-05"),
        ("2010-02-05T23:30:00+02:00", "2010-02-05"),  # 21:30 UTC
        ("20100205", "2010-02-05"),
    ],
)
def test_single_dates_in_common_formats(text, expected):
    dates, _ = parse_dates(pd.Series([text]))
    assert dates.iloc[0].date().isoformat() == expected


def test_slashed_dates_are_read_day_first_unless_the_column_says_otherwise():
    day_first, formats = parse_dates(pd.Series(["05/02/2010", "12/02/2010", "19/02/2010"]))
    assert [d.date().isoformat() for d in day_first] == ["2010-02-05", "2010-02-12", "2010-02-19"]
    assert "%d/%m/%Y" in formats
    month_first, _ = parse_dates(pd.Series(["02/05/2010", "02/12/2010", "02/19/2010"]))
    assert month_first.iloc[2].date().isoformat() == "2010-02-19"


def test_unparseable_dates_become_missing():
    dates, _ = parse_dates(pd.Series(["soon", None, "2024-13-45"]))
    assert dates.isna().all()


def test_numbers_with_currency_thousands_and_decimal_commas():
    values = parse_numbers(pd.Series(["$1,234.50", "12,5", " 7 ", "n/a", "inf", None]))
    assert values.iloc[:3].tolist() == [1234.5, 12.5, 7.0]
    assert values.iloc[3:].isna().all()


def test_a_byte_order_mark_and_semicolons_are_handled(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffItem;Qty\nA;1\n".encode())
    frame = read_table(path)
    assert list(frame.columns) == ["Item", "Qty"]
    assert column(frame, " item ") == "Item"


def test_a_latin1_file_is_read(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("item,qty\nCr\xe8me,2\n".encode("latin-1"))
    assert read_table(path)["item"].iloc[0] == "Crème"


def test_a_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_table(tmp_path / "nope.csv")


def test_when_nothing_is_usable_the_error_says_why():
    frame = pd.DataFrame({"i": ["a", "b"], "d": ["x", "y"], "q": ["1", "2"]})
    with pytest.raises(InputError, match="dropped 2 rows with unparseable dates in 'd'"):
        clean_demand(frame, "i", "d", "q")


def test_malformed_lines_are_skipped_and_counted(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("item,date,qty\na,2024-01-01,1\nb,2024-01-01,2,extra,fields\nc,2024-01-02,3\n")
    frame = read_table(path)
    assert frame["item"].tolist() == ["a", "c"]
    _, notes = clean_demand(frame, "item", "date", "qty")
    assert "skipped 1 malformed lines (wrong number of fields)" in notes.lines
