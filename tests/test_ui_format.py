"""The shared formatting, escaping and export helpers (ui/format.py, ui/components.py)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import insert, select

from data.db import make_engine
from data.schema import Notification, User
from tests import apptest_support
from tests.apptest_support import app_test
from ui.components import csv_bytes, excel_bytes
from ui.format import as_dates, day, moment, money, number, plain, points, qty, tile_money
from ui.labels import describe_change, metric_label, setting_label

fresh_caches = apptest_support.fresh_caches
fresh_db_url = apptest_support.fresh_db_url


# --- numbers, money, dates -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [(3999999992, "3,999,999,992"), (1234.5, "1,234.5"), (None, "—")],
)
def test_quantities_carry_thousands_separators(value, shown):
    assert qty(value) == shown


def test_number_with_decimals():
    assert number(1234567.891, 2) == "1,234,567.89"


def test_money_is_euros_with_cents():
    assert money(1234.5) == "€1,234.50"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (99_999.5, "€99,999.50"),  # to the cent below 100,000
        (788_851.73, "€788,852"),  # whole euros below a million
        (-250_000.4, "-€250,000"),
        (3_384_000, "€3.38 M"),
        (None, "—"),
    ],
)
def test_tile_money_fits_a_narrow_tile(value, shown):
    assert tile_money(value) == shown
    assert len(shown) <= 10


@pytest.mark.parametrize(
    "value",
    [
        dt.date(2026, 12, 13),
        dt.datetime(2026, 12, 13, 22, 17),
        pd.Timestamp("2026-12-13"),
        "2026-12-13",
    ],
)
def test_one_date_style(value):
    assert day(value) == "13 Dec 2026"


def test_a_change_of_a_rate_is_in_signed_points():
    assert points(0.052 - 0.046) == "+0.6 pts"
    assert points(-0.2274) == "-22.7 pts"
    assert points(0.0) == "+0.0 pts"
    assert points(None) == "—"


def test_one_date_time_style():
    assert moment(dt.datetime(2026, 12, 1, 22, 17)) == "1 Dec 2026, 22:17"
    assert day(None) == "—" and moment(None) == "—"


# --- text shown as text --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "escaped"),
    [
        ("<img src=x onerror=alert(1)>", "\\<img src=x onerror=alert(1)\\>"),
        ("[link](http://e.vil)", "\\[link\\](http\\://e.vil)"),
        ("![pic](http://e.vil/x.png)", "!\\[pic\\](http\\://e.vil/x.png)"),
        ("**bold** _it_", "\\*\\*bold\\*\\* \\_it\\_"),
        ("# heading", "\\# heading"),
        ("1. list", "1\\. list"),
        ("- item", "\\- item"),
        (":red[alarm] :material/home:", "\\:red\\[alarm\\] \\:material/home:"),
        ("$x^2$", "\\$x^2\\$"),
        ("two\nlines\x00", "two lines"),
        # ordinary text stays as it was
        (
            "refresh_seconds must be at least 2, not 1.",
            "refresh_seconds must be at least 2, not 1.",
        ),
        ("Flour, 25 kg: 3 short - expected soon", "Flour, 25 kg: 3 short - expected soon"),
    ],
)
def test_plain_escapes_markdown_and_html(typed, escaped):
    assert plain(typed) == escaped


def add_message(url: str, **values) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        manager = conn.execute(select(User.id).where(User.username == "manager")).scalar_one()
        conn.execute(insert(Notification).values(kind="test", user_id=manager, **values))
    engine.dispose()


def test_a_typed_reason_in_the_inbox_is_shown_as_text(fresh_db_url):
    reason = "Count fixed <img src=x onerror=alert(1)> see [here](http://e.vil)"
    add_message(fresh_db_url, subject="Stock counted: [FLOUR](http://e.vil)", body=reason)
    at = app_test("app.py", "manager")
    at.run()
    shown = [m.value for m in at.sidebar.markdown]
    assert "**●** **Stock counted: \\[FLOUR\\](http\\://e.vil)**" in shown
    assert "Count fixed \\<img src=x onerror=alert(1)\\> see \\[here\\](http\\://e.vil)" in shown
    assert not [m for m in shown if "](http" in m.replace("\\](", "")]


# --- exports never run formulas -------------------------------------------------------------

HOSTILE = pd.DataFrame(
    {
        "username": [
            '=HYPERLINK("http://e.vil","x")',
            "+1+1",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "ok",
        ],
        "balance": [-12, -1, 0, 3, 4, 5, 6],
        "ratio": [-0.5, 1.5, 0.0, 2.0, 3.0, 4.0, 5.0],
    }
)


def test_csv_export_quotes_formula_text_and_keeps_numbers():
    rows = list(csv.DictReader(io.StringIO(csv_bytes(HOSTILE).decode("utf-8"), newline="")))
    assert [r["username"] for r in rows] == [
        "'=HYPERLINK(\"http://e.vil\",\"x\")", "'+1+1", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx", "ok",
    ]  # fmt: skip
    assert [r["balance"] for r in rows] == ["-12", "-1", "0", "3", "4", "5", "6"]
    assert rows[0]["ratio"] == "-0.5"


def test_excel_export_has_no_formula_and_keeps_negative_numbers():
    book = openpyxl.load_workbook(io.BytesIO(excel_bytes(HOSTILE)))
    cells = [cell for row in book.active.iter_rows() for cell in row]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    assert not [c for c in cells if isinstance(c.value, str) and c.value.startswith("=")]
    values = [[c.value for c in row] for row in book.active.iter_rows(min_row=2)]
    assert values[0][0] == '\'=HYPERLINK("http://e.vil","x")'
    assert [row[1] for row in values] == [-12, -1, 0, 3, 4, 5, 6]
    assert values[0][2] == -0.5


def test_a_formula_in_a_column_title_is_quoted_too():
    frame = pd.DataFrame({"=cmd": ["a"]})
    assert csv_bytes(frame).decode().splitlines()[0] == "'=cmd"


# --- labels ------------------------------------------------------------------------------------


def test_setting_and_metric_labels():
    assert setting_label("weight_tier") == "Priority weight: gold tier"
    assert metric_label("rmsse") == "Scaled squared error (RMSSE)"
    assert metric_label("pinball_p90") == "Quantile loss, P90"


@pytest.mark.parametrize(
    ("before", "after", "shown"),
    [
        ('{"value": 1}', '{"value": 2}', "Value: 1 -> 2"),
        (None, '{"username": "newcook", "roles": ["finance_manager"]}',
         "Username: newcook; Roles: finance_manager"),
        ({"active": True, "name": "A"}, {"active": False, "name": "A"}, "Active: yes -> no"),
        ('{"reorder_point": 10}', None, "Reorder point: 10 -> —"),
        (None, None, ""),
    ],
)  # fmt: skip
def test_audit_changes_read_as_field_before_after(before, after, shown):
    assert describe_change(before, after) == shown


def _success_after_a_change():
    import streamlit as st

    from ui.components import show_success

    st.session_state.setdefault(
        "flash", "Recorded the call: **Where** [is](http://e.vil) <b>it</b>?"
    )
    show_success("flash")


def test_a_success_message_shows_typed_text_as_text_and_is_used_up():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_success_after_a_change, default_timeout=30).run()
    (shown,) = [s.value for s in at.success]
    assert shown == (
        "Recorded the call: \\*\\*Where\\*\\* \\[is\\](http\\://e.vil) \\<b\\>it\\</b\\>?"
    )
    assert "flash" not in at.session_state


def test_as_dates_turns_the_named_columns_into_datetimes_and_missing_ones_into_nat():
    frame = pd.DataFrame(
        {"promised": [dt.date(2026, 12, 3), None], "sku": ["A-1", "B-2"]}, dtype=object
    )
    shown = as_dates(frame, ["promised"])
    assert str(shown["promised"].dtype).startswith("datetime64")
    assert shown["promised"].iloc[0] == pd.Timestamp("2026-12-03")
    assert pd.isna(shown["promised"].iloc[1])
    assert list(shown["sku"]) == ["A-1", "B-2"]
    assert frame["promised"].iloc[0] == dt.date(2026, 12, 3)  # the frame read is not changed
