"""AppTest of the Backorder cost page on the tiny seeded database."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

import operations
from data.db import make_engine, read_connection
from data.schema import Customer, utcnow
from queries import finance as fin
from queries import overview as ov
from queries.stock import stock_overview
from tests import apptest_support
from tests.apptest_support import app_test
from ui import cost_parts as parts
from ui.components import money, pct, qty

fresh_caches = apptest_support.fresh_caches
fresh_db_url = apptest_support.fresh_db_url
seeded_db_url = apptest_support.seeded_db_url
seeded_template = apptest_support.seeded_template

PAGE = "pages/backorder_cost.py"


@pytest.fixture
def db(seeded_db_url):
    engine = make_engine(seeded_db_url)
    yield engine
    engine.dispose()


def _filters() -> ov.Filters:
    today = utcnow().date()
    return ov.Filters(today - dt.timedelta(weeks=52), today)


def _run(at=None):
    at = at or app_test(PAGE, "finance")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _metric(at, label: str) -> str:
    (found,) = [m for m in at.metric if m.label == label]
    return found.value


def test_the_finance_manager_sees_cost_sales_and_lost_sales(db):
    at = _run()
    summary = fin.cost_summary(db, _filters(), period="month")
    cost, sales = summary["backorder_cost"].sum(), summary["sales"].sum()
    assert cost > 0 and sales > 0
    assert _metric(at, "Backorder cost") == money(cost)
    assert _metric(at, "Cost as % of sales") == pct(cost / sales)
    assert _metric(at, "Lost sales") == money(summary["lost_sales"].sum())
    assert _metric(at, "Gross margin") == pct(summary["gross_margin"].sum() / sales)
    assert _metric(at, "Margin after backorder cost") == pct(
        summary["margin_after_cost"].sum() / sales
    )
    cash = fin.cash_tied(db)
    assert _metric(at, "In open purchase orders") == money(cash["open_purchase_orders"])
    assert _metric(at, "Waiting in open backorders") == money(cash["open_backorders"])


def _help(at, label: str) -> str:
    (found,) = [m for m in at.metric if m.label == label]
    return found.help


@pytest.fixture
def own_db(fresh_db_url):
    engine = make_engine(fresh_db_url)
    yield engine
    engine.dispose()


def test_an_order_placed_now_counts_in_the_sales_on_the_next_run(own_db):
    at = _run(app_test(PAGE, "finance"))
    before = fin.cost_summary(own_db, _filters(), period="month")["sales"].sum()
    assert _help(at, "Sales").endswith(f"Exactly: {money(before)}.")
    product = stock_overview(own_db).query("available > 1").sort_values("sku").iloc[0]
    with read_connection(own_db) as conn:
        customer_id = conn.execute(select(Customer.id).order_by(Customer.id)).scalars().first()
    operations.place_order(
        own_db, customer_id=customer_id, lines=[(product["sku"], 2)], actor="test"
    )
    at = _run(at)
    summary = fin.cost_summary(own_db, _filters(), period="month")
    after = summary["sales"].sum()
    assert after > before
    assert _help(at, "Sales").endswith(f"Exactly: {money(after)}.")
    assert _metric(at, "Backorder cost") == money(summary["backorder_cost"].sum())


def _ledger(at):
    (ledger,) = [d.value for d in at.dataframe if "order_number" in d.value.columns]
    return ledger


def _rows_caption(at) -> str:
    (caption,) = [c.value for c in at.caption if c.value.startswith("Rows ")]
    return caption


def test_the_ledger_shows_one_page_of_entries_and_exports_every_one(db):
    at = _run()
    ledger = _ledger(at)
    expected = fin.cost_ledger(db, _filters())
    assert len(expected) > fin.LEDGER_ROWS, "the tiny demo has more than one page of entries"
    assert ledger.reset_index(drop=True).equals(expected.head(fin.LEDGER_ROWS))
    assert list(ledger.columns[:6]) == [
        "date", "kind", "amount", "order_number", "customer", "category"
    ]  # fmt: skip
    assert _rows_caption(at) == f"Rows 1–{fin.LEDGER_ROWS} of {qty(len(expected))}"
    labels = [b.label for b in at.get("download_button")]
    assert labels.count("CSV") >= 2 and labels.count("Excel") >= 2
    # The second page holds the next entries.
    at.number_input(key="cost_ledger_page").set_value(2)
    at = _run(at)
    second = _ledger(at).reset_index(drop=True)
    assert second.equals(
        expected.iloc[fin.LEDGER_ROWS : 2 * fin.LEDGER_ROWS].reset_index(drop=True)
    )


def test_a_category_filter_narrows_the_ledger(db):
    at = _run()
    at.multiselect(key="cost_categories").set_value(["Dairy"])
    at = _run(at)
    ledger = _ledger(at)
    assert set(ledger["category"]) <= {"Dairy"}
    expected = fin.cost_ledger(db, ov.Filters(_filters().start, _filters().end, ("Dairy",)))
    assert len(expected) > 0
    assert ledger.reset_index(drop=True).equals(expected.head(fin.LEDGER_ROWS))
    assert _rows_caption(at).endswith(f"of {qty(len(expected))}")


@pytest.mark.parametrize("username", ["owner", "admin"])
def test_owner_and_admin_may_look(username):
    at = _run(app_test(PAGE, username))
    assert _metric(at, "Backorder cost")


@pytest.mark.parametrize("username", ["marketing", "manager", "customer1"])
def test_other_roles_are_refused(username):
    at = app_test(PAGE, username)
    at.run()
    assert [e.value for e in at.error if e.value.startswith("This page is for")]
    assert not at.metric


def test_the_cost_by_kind_sums_each_period_s_categories(db):
    table = fin.cost_summary(db, _filters(), period="month")
    by_kind = parts.cost_by_kind(table)
    kinds = list(fin.COST_KIND_LABELS)
    expected = table.groupby("period")[kinds].sum()
    assert list(by_kind["period"]) == list(expected.index) * len(kinds)
    assert list(by_kind["kind"]) == [
        fin.COST_KIND_LABELS[kind] for kind in kinds for _ in expected.index
    ]
    assert by_kind["amount"].to_numpy() == pytest.approx(
        [expected.loc[period, kind] for kind in kinds for period in expected.index], abs=1e-9
    )
    assert by_kind["amount"].sum() == pytest.approx(table["backorder_cost"].sum(), abs=1e-6)
