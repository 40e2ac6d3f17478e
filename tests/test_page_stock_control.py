"""AppTest of the stock control page on the tiny seeded database."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

import operations
from data.db import make_engine
from data.schema import AuditLog, Backorder, DemandDaily, Product, utcnow
from queries.stock import stock_overview
from tests import apptest_support
from tests.apptest_support import app_test
from ui.components import pct

# Fixtures shared by the AppTest modules (assigned, not imported, so they are found by name).
fresh_caches = apptest_support.fresh_caches
fresh_db_url = apptest_support.fresh_db_url
seeded_template = apptest_support.seeded_template

PAGE = "pages/stock_control.py"
PAGE_ROWS = 50  # rows per page of the live stock table


@pytest.fixture
def db(fresh_db_url):
    engine = make_engine(fresh_db_url)
    yield engine
    engine.dispose()


def _run(username: str = "manager", tab: str | None = None):
    """Run the page; ``tab`` opens that tab first (only the open tab is drawn)."""
    at = app_test(PAGE, username)
    if tab is not None:
        at.session_state["stock_tab"] = tab
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _metric(at, label: str) -> str:
    (found,) = [m for m in at.metric if m.label == label]
    return found.value


STOCK_TABLE, REPORT_TABLE = "days_of_cover", "late_case_date"  # a column only each one has


def _table(at, column: str):
    (found,) = [d.value for d in at.dataframe if column in d.value.columns]
    return found


def _button(at, label: str):
    (found,) = [b for b in at.button if b.label == label]
    return found


def _make_backorder(engine, *, exclude_category: str | None = None) -> tuple[str, str]:
    """Order 3 more than is available of some product; returns (order number, category)."""
    overview = stock_overview(engine)
    candidates = overview[overview["category"] != exclude_category]
    product = candidates.sort_values("sku").iloc[0]
    placed = operations.place_order(
        engine,
        customer_id=_customer_id(engine, "customer1"),
        lines=[(product["sku"], max(int(product["available"]), 0) + 3)],
        actor="test",
        backorder_choice="accept_backorder",
    )
    assert placed.lines[0].qty_backordered == 3
    return placed.number, product["category"]


def _customer_id(engine, username: str) -> int:
    from data.schema import User

    with engine.connect() as conn:
        return conn.execute(select(User.customer_id).where(User.username == username)).scalar_one()


def test_manager_sees_kpis_that_match_the_database(db):
    _make_backorder(db)
    at = _run()
    today = utcnow().date()
    with db.connect() as conn:
        lines, short, units, units_short = conn.execute(
            select(
                func.sum(DemandDaily.lines),
                func.sum(DemandDaily.lines_short),
                func.sum(DemandDaily.qty_ordered),
                func.sum(DemandDaily.qty_short),
            ).where(DemandDaily.day > today - dt.timedelta(days=28), DemandDaily.day <= today)
        ).one()
        open_count = conn.execute(
            select(func.count()).select_from(Backorder).where(Backorder.status == "open")
        ).scalar_one()
    assert lines and short  # the order above made at least one short line
    assert _metric(at, "Backorder rate") == pct(short / lines)
    assert _metric(at, "Fill rate") == pct(1 - units_short / units)
    assert _metric(at, "Open backorders") == f"{open_count:,}"
    assert _metric(at, "Inventory turnover").endswith("x")


def test_kpi_tiles_carry_their_definition(db):
    at = _run()
    helps = {m.label: m.proto.help for m in at.metric}
    assert "lines short / lines ordered" in helps["Backorder rate"]
    assert "Approximation" in helps["Inventory turnover"]


def test_stock_table_pages_through_every_active_product(db):
    at = _run()
    with db.connect() as conn:
        active = set(
            conn.execute(select(Product.sku).where(Product.active.is_(True))).scalars().all()
        )
    assert len(active) > PAGE_ROWS  # the tiny demo needs two pages
    first = _table(at, STOCK_TABLE)
    assert len(first) == PAGE_ROWS
    assert {"available", "on_order", "days_of_cover", "status"} <= set(first.columns)
    assert f"Rows 1–{PAGE_ROWS} of {len(active)}" in [c.value for c in at.caption]
    at.number_input(key="stock_table_page").set_value(2).run()
    second = _table(at, STOCK_TABLE)
    assert len(second) == len(active) - PAGE_ROWS
    assert set(first["sku"]) | set(second["sku"]) == active
    assert not set(first["sku"]) & set(second["sku"])


def test_stock_table_sorts_in_the_database_by_the_chosen_column(db):
    at = _run()
    at.selectbox(key="stock_table_sort").set_value("available").run()
    ascending = _table(at, STOCK_TABLE)
    assert list(ascending["available"]) == sorted(ascending["available"])
    at.toggle(key="stock_table_descending").set_value(True).run()
    descending = _table(at, STOCK_TABLE)
    overview = stock_overview(db)
    assert descending["available"].iloc[0] == overview["available"].max()
    assert list(descending["available"]) == sorted(descending["available"], reverse=True)


def test_stock_search_finds_a_product_beyond_the_first_page(db):
    at = _run()
    shown = set(_table(at, STOCK_TABLE)["sku"])
    hidden = sorted(set(stock_overview(db)["sku"]) - shown)[0]
    at.text_input(key="stock_search").set_value(hidden).run()
    assert list(_table(at, STOCK_TABLE)["sku"]) == [hidden]


def test_stock_table_follows_the_sidebar_filter(db):
    at = _run()
    category = _table(at, STOCK_TABLE)["category"].iloc[0]
    at.selectbox(key="stock_category").set_value(category).run()
    assert set(_table(at, STOCK_TABLE)["category"]) == {category}


def _thresholds(engine, product_id: int) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(
                select(Product.reorder_point, Product.safety_stock, Product.order_up_to).where(
                    Product.id == product_id
                )
            ).one()
        )


def _audit_rows(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "set_thresholds")
        ).scalar_one()


def _edit_thresholds(at, product_id: int, rp, ss, out):
    at.selectbox(key="threshold_product").set_value(product_id).run()
    at.number_input(key=f"threshold_rp_{product_id}").set_value(rp)
    at.number_input(key=f"threshold_ss_{product_id}").set_value(ss)
    at.number_input(key=f"threshold_out_{product_id}").set_value(out)
    _button(at, "Save thresholds").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_threshold_edit_persists_and_is_audited(db):
    product_id = int(stock_overview(db)["product_id"].min())
    at = _edit_thresholds(_run(tab="Thresholds"), product_id, 33, 7, 90)
    assert _thresholds(db, product_id) == (33, 7, 90)
    with db.connect() as conn:
        audit = conn.execute(
            select(AuditLog).where(
                AuditLog.action == "set_thresholds", AuditLog.entity_id == str(product_id)
            )
        ).one()
    assert audit.actor == "manager"
    assert audit.after == {"reorder_point": 33, "safety_stock": 7, "order_up_to": 90}
    assert any("Saved thresholds" in s.value for s in at.success)


@pytest.mark.parametrize(
    ("rp", "ss", "out", "message"),
    [
        (50, 5, 40, "must be at least the reorder point"),
        (-1, 0, 10, "must be at least 0"),
        (10, -2, 20, "must be at least 0"),
    ],
)
def test_bad_thresholds_show_the_message_and_change_nothing(db, rp, ss, out, message):
    product_id = int(stock_overview(db)["product_id"].min())
    before, audited = _thresholds(db, product_id), _audit_rows(db)
    at = _edit_thresholds(_run(tab="Thresholds"), product_id, rp, ss, out)
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert _thresholds(db, product_id) == before
    assert _audit_rows(db) == audited


def test_backorder_report_filters_by_category(db):
    number, category = _make_backorder(db)
    other_number, other_category = _make_backorder(db, exclude_category=category)
    at = _run(tab="Backorder report")
    report = _table(at, REPORT_TABLE)
    assert {number, other_number} <= set(report["order_number"])
    at.selectbox(key="report_category").set_value(category).run()
    filtered = _table(at, REPORT_TABLE)
    assert set(filtered["category"]) == {category}
    assert number in set(filtered["order_number"])
    assert other_number not in set(filtered["order_number"])


def test_wrong_role_sees_no_stock(db):
    at = _run("customer1")
    assert at.error and "This page is for" in at.error[0].value
    assert not at.dataframe and not at.metric


def test_a_change_in_the_database_shows_on_the_next_run(db):
    """Cached reads are keyed by the data version: a new backorder is not hidden by the cache."""
    at = _run(tab="Backorder report")
    before = int(_metric(at, "Open backorders").replace(",", ""))
    number, _ = _make_backorder(db)
    at.run()
    assert not at.exception
    assert int(_metric(at, "Open backorders").replace(",", "")) == before + 1
    assert number in set(_table(at, REPORT_TABLE)["order_number"])


def test_a_fractional_safety_stock_is_refused_not_rounded(db):
    product_id = int(stock_overview(db)["product_id"].min())
    before, audited = _thresholds(db, product_id), _audit_rows(db)
    at = _edit_thresholds(_run(tab="Thresholds"), product_id, 10, 1.5, 20)
    assert any("whole number, not 1.5" in e.value for e in at.error), [e.value for e in at.error]
    assert _thresholds(db, product_id) == before
    assert _audit_rows(db) == audited


def test_unusually_large_thresholds_are_saved_only_after_confirming(db):
    product_id = int(stock_overview(db)["product_id"].min())
    before, audited = _thresholds(db, product_id), _audit_rows(db)
    at = _edit_thresholds(_run(tab="Thresholds"), product_id, 10, 5, 90_000)
    assert any("confirm the large quantity" in w.value for w in at.warning), at.warning
    assert _thresholds(db, product_id) == before
    at.checkbox(key=f"threshold_confirm_{product_id}").check()
    _button(at, "Save thresholds").click().run()
    assert not at.exception
    assert _thresholds(db, product_id) == (10, 5, 90_000)
    assert _audit_rows(db) == audited + 1


def test_thresholds_above_the_ceiling_are_refused(db):
    product_id = int(stock_overview(db)["product_id"].min())
    before = _thresholds(db, product_id)
    at = _edit_thresholds(_run(tab="Thresholds"), product_id, 10, 5, 1_000_000_000)
    assert any("at most 100,000" in e.value for e in at.error), [e.value for e in at.error]
    assert _thresholds(db, product_id) == before


def _columns_of(at, column: str) -> list[dict]:
    """The column settings a table sends to the browser, in the order shown."""
    import json

    (grid,) = [d for d in at.dataframe if column in d.value.columns]
    config = json.loads(grid.proto.columns)
    order = list(grid.proto.column_order) or list(grid.value.columns)
    return [{"name": name, **config.get(f"name:{name}", config.get(name, {}))} for name in order]


def test_stock_table_puts_what_the_manager_needs_first_and_pins_the_sku(db):
    columns = _columns_of(_run(), STOCK_TABLE)
    assert [c["label"] for c in columns[:9]] == [
        "SKU", "Product", "Available", "Backordered", "Days of cover", "Status",
        "Reorder point", "Safety stock", "Order-up-to",
    ]  # fmt: skip
    assert columns[0].get("pinned") is True
    assert columns[2]["type_config"]["format"] == "localized"  # 3,999,999,992, not 3999999992


def test_backorder_report_shows_dates_reason_and_value_early(db):
    _make_backorder(db)
    columns = _columns_of(_run(tab="Backorder report"), REPORT_TABLE)
    assert [c["label"] for c in columns[:8]] == [
        "Order", "SKU", "Product", "Open qty", "Expected", "Late case", "Waits on", "Value at risk",
    ]  # fmt: skip
    assert [c.get("pinned") for c in columns[:2]] == [True, True]
    assert columns[4]["type_config"]["format"] == "D MMM YYYY"
    assert columns[7]["type_config"]["format"] == "euro"


def test_a_threshold_save_stays_on_the_thresholds_tab(db):
    product_id = int(stock_overview(db)["product_id"].min())
    at = app_test(PAGE, "manager")
    at.session_state["stock_tab"] = "Thresholds"
    at.run()
    _edit_thresholds(at, product_id, 33, 7, 90)
    assert any("Saved thresholds" in s.value for s in at.success)
    assert at.session_state["stock_tab"] == "Thresholds"
    (tabs,) = [b for b in _walk(at.main) if getattr(b, "type", "") == "tab_container"]
    assert tabs.proto.tab_container.default_tab_index == 1


def _walk(node):
    for child in getattr(node, "children", {}).values():
        yield child
        yield from _walk(child)


def test_alert_text_from_the_database_is_shown_as_text(db):
    product_id = int(stock_overview(db)["product_id"].min())
    with db.begin() as conn:
        conn.execute(
            Product.__table__.update()
            .where(Product.id == product_id)
            .values(name="[click](http://e.vil) <img src=x>")
        )
    at = _run(tab="Thresholds")
    at.selectbox(key="threshold_product").set_value(product_id).run()
    shown = [m.value for m in at.markdown if "click" in m.value]
    assert shown and all("\\[click\\](http\\://e.vil) \\<img src=x\\>" in m for m in shown)


def test_the_trend_heatmap_labels_every_week(db):
    import json

    at = _run(tab="Trends")
    charts = [json.loads(c.proto.spec) for c in _walk(at.main) if c.type == "vega_lite_chart"]
    (heatmap,) = [c for c in charts if c.get("mark", {}).get("type") == "rect"]
    x = heatmap["encoding"]["x"]
    assert x["axis"]["labelOverlap"] is False  # Vega-Lite would otherwise drop crowded labels
    assert x["axis"]["labelAngle"] != 0
    assert len(x["sort"]) == len(set(x["sort"])) and len(x["sort"]) >= 2


def test_only_the_open_tab_is_drawn(db):
    """The closed tabs' reads and live fragments do not run until the manager opens them."""
    _make_backorder(db)
    at = _run()
    assert _table(at, STOCK_TABLE) is not None
    assert not [d for d in at.dataframe if REPORT_TABLE in d.value.columns]
    assert "threshold_product" not in [s.key for s in at.selectbox]
    at.session_state["stock_tab"] = "Backorder report"
    at.run()
    assert not at.exception
    assert not _table(at, REPORT_TABLE).empty
    assert not [d for d in at.dataframe if STOCK_TABLE in d.value.columns]
