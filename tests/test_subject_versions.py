"""Versions per subject: a write moves the versions of what it touched and nothing else, and a
page re-reads after a write only the cached reads of the subjects that moved."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import select, update

import operations
from data import changes
from data.changes import (
    COUNTER_TABLE,
    PAST_WEEKS,
    SUBJECTS,
    TABLE_SUBJECTS,
    WEEK_COLUMNS,
    FixedColumnWritten,
)
from data.db import make_engine, read_connection, write_session
from data.schema import AuditLog, Base, Order, OrderLine, Setting, Shipment, User, utcnow
from data.summaries import rebuild
from operations.errors import ValidationError
from queries.data_version import subject_versions
from queries.stock import stock_overview
from tests import apptest_support, operations_world
from tests.apptest_support import app_test, user_for_role
from tests.operations_world import ensure_admin
from tests.read_tracking import StatementLog
from ui.db import LIVE_READS, live_read

fresh_caches = apptest_support.fresh_caches
fresh_db_url = apptest_support.fresh_db_url
world = operations_world.world


def _versions(engine) -> dict[str, int]:
    with read_connection(engine) as conn:
        return subject_versions(conn)


def _moved(before: dict[str, int], after: dict[str, int]) -> set[str]:
    return {s for s in SUBJECTS if after[s] != before[s]}


def test_every_table_has_one_subject():
    tables = set(Base.metadata.tables) - {COUNTER_TABLE}
    assert set(TABLE_SUBJECTS) == tables
    assert set(TABLE_SUBJECTS.values()) == set(SUBJECTS) - {PAST_WEEKS}
    assert set(WEEK_COLUMNS) <= tables


# --- The past weeks -------------------------------------------------------------------------


def _short_order(engine, world, *, now=None):
    return operations.place_order(
        engine,
        customer_id=world.customers["gold"],
        lines=[("FLOUR-25", 12)],  # 10 on hand: 2 go on backorder
        actor="test",
        backorder_choice="accept_backorder",
        now=now,
    )


def test_an_order_placed_now_leaves_the_past_weeks_alone(engine, world):
    before = _versions(engine)
    _short_order(engine, world)
    moved = _moved(before, _versions(engine))
    assert "orders" in moved
    assert PAST_WEEKS not in moved


def test_an_order_dated_in_an_earlier_week_moves_the_past_weeks(engine, world):
    before = _versions(engine)
    _short_order(engine, world, now=utcnow() - dt.timedelta(days=15))
    assert {"orders", PAST_WEEKS} <= _moved(before, _versions(engine))


def test_cancelling_an_old_order_moves_the_past_weeks(engine, world):
    placed = _short_order(engine, world, now=utcnow() - dt.timedelta(days=15))
    before = _versions(engine)
    operations.cancel_order(
        engine, order_id=placed.order_id, actor="test", reason="no longer needed"
    )
    assert PAST_WEEKS in _moved(before, _versions(engine))


def test_an_order_in_the_last_minutes_of_a_week_counts_as_past(engine, world, monkeypatch):
    # A reader whose clock runs a little ahead may already count this week as past.
    monkeypatch.setattr(changes, "PAST_WEEKS_MARGIN", dt.timedelta(days=7))
    before = _versions(engine)
    _short_order(engine, world)
    assert PAST_WEEKS in _moved(before, _versions(engine))


def test_rebuilding_the_summaries_moves_the_past_weeks(engine, world):
    before = _versions(engine)
    with engine.begin() as conn:
        rebuild(conn)
    assert PAST_WEEKS in _moved(before, _versions(engine))


# --- The counters, on each backend ----------------------------------------------------------


def test_an_order_moves_stock_orders_and_backorders_not_purchasing_or_settings(engine, world):
    before = _versions(engine)
    placed = operations.place_order(
        engine,
        customer_id=world.customers["gold"],
        lines=[("FLOUR-25", 12)],  # 10 on hand: 2 go on backorder
        actor="test",
        backorder_choice="accept_backorder",
    )
    assert placed.lines[0].qty_backordered == 2
    moved = _moved(before, _versions(engine))
    assert {"stock", "orders", "backorders"} <= moved
    assert not moved & {"purchasing", "shipments", "settings", "users", "catalogue", "models"}
    assert all(_versions(engine)[s] == before[s] + 1 for s in ("stock", "orders"))


def test_updates_in_place_move_their_subject(engine, world):
    ensure_admin(engine)
    before = _versions(engine)
    operations.set_setting(engine, key="low_stock_ratio", value=1.5, actor="admin")
    after_setting = _versions(engine)
    assert "settings" in _moved(before, after_setting)
    assert not _moved(before, after_setting) & {"stock", "orders", "backorders", "catalogue"}

    operations.set_thresholds(
        engine,
        product_id=world.products["OIL-5L"],
        reorder_point=12,
        safety_stock=2,
        order_up_to=44,
        actor="test",
    )
    after_thresholds = _versions(engine)
    assert "catalogue" in _moved(after_setting, after_thresholds)  # an UPDATE of products
    assert not _moved(after_setting, after_thresholds) & {"stock", "orders", "settings"}


def test_a_refused_or_rolled_back_write_moves_nothing(engine, world):
    before = _versions(engine)
    with pytest.raises(ValidationError):
        operations.set_thresholds(
            engine,
            product_id=world.products["OIL-5L"],
            reorder_point=-1,
            safety_stock=0,
            order_up_to=5,
            actor="test",
        )
    with pytest.raises(RuntimeError), write_session(engine) as session:
        session.add(AuditLog(actor="test", action="x", entity="product", entity_id="1"))
        session.flush()
        raise RuntimeError("changed my mind")
    assert _versions(engine) == before


# --- Facts fixed at insert -------------------------------------------------------------------


def _line_facts(engine, line_id: int) -> tuple:
    with read_connection(engine) as conn:
        return conn.execute(
            select(OrderLine.qty_ordered, OrderLine.unit_price, OrderLine.qty_shipped).where(
                OrderLine.id == line_id
            )
        ).one()


@pytest.mark.parametrize(
    "change",
    [
        {"unit_price": Decimal("0.01")},
        {"qty_ordered": OrderLine.qty_ordered + 1},  # an expression, not a bound value
        {"qty_shipped": 1, "product_id": 1},  # a fixed column beside a free one
    ],
    ids=["price", "quantity-expression", "with-a-free-column"],
)
def test_an_update_of_a_fixed_column_is_refused_and_changes_nothing(engine, world, change):
    placed = _short_order(engine, world)
    line_id = placed.lines[0].line_id
    before, versions = _line_facts(engine, line_id), _versions(engine)
    with pytest.raises(FixedColumnWritten, match="order_lines"), write_session(engine) as s:
        s.execute(update(OrderLine).where(OrderLine.id == line_id).values(change))
    assert _line_facts(engine, line_id) == before
    assert _versions(engine) == versions


def test_an_orm_change_of_an_order_s_time_is_refused(engine, world):
    placed = _short_order(engine, world)
    with pytest.raises(FixedColumnWritten, match="placed_at"), write_session(engine) as s:
        s.get(Order, placed.order_id).placed_at = utcnow() - dt.timedelta(days=30)
        s.flush()


def test_the_columns_that_follow_an_order_s_progress_can_change(engine, world):
    placed = _short_order(engine, world)
    with write_session(engine) as s:
        s.get(Order, placed.order_id).status = "picking"
        s.execute(
            update(OrderLine)
            .where(OrderLine.id == placed.lines[0].line_id)
            .values(qty_shipped=OrderLine.qty_shipped + 1)
        )
    assert _line_facts(engine, placed.lines[0].line_id)[2] == 1


def test_concurrent_writers_lose_no_count(engine):
    """Eight writers at once: every commit counts once, on whichever counter rows they use."""
    before = _versions(engine)["audit"]
    writers, commits_each = 8, 15
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(commits_each):
                with write_session(engine) as session:
                    session.add(AuditLog(actor=f"w{n}", action="t", entity="x", entity_id=str(i)))
        except BaseException as error:  # noqa: BLE001  reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert _versions(engine)["audit"] == before + writers * commits_each


# --- Pages: what a run re-reads after a write (AppTest, counting statements) ------------------


@pytest.fixture
def db(fresh_db_url):
    engine = make_engine(fresh_db_url)
    yield engine
    engine.dispose()


def _run(page: str, role: str):
    at = app_test(f"pages/{page}.py", user_for_role(role))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _rerun(at) -> StatementLog:
    with StatementLog() as log:
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return log


def _place_order(engine, *, short: int = 0):
    """customer1's order of the first product in stock: one unit, or ``short`` units more than
    are available (those go on backorder)."""
    overview = stock_overview(engine)
    product = overview[overview["available"] > 0].sort_values("sku").iloc[0]
    with read_connection(engine) as conn:
        customer_id = conn.execute(
            select(User.customer_id).where(User.username == "customer1")
        ).scalar_one()
    return operations.place_order(
        engine,
        customer_id=customer_id,
        lines=[(product["sku"], int(product["available"]) + short if short else 1)],
        actor="test",
        backorder_choice="accept_backorder" if short else None,
    )


def test_an_idle_refresh_reads_no_data(db):
    at = _run("stock_control", "warehouse_manager")
    log = _rerun(at)
    assert log.reads_run() == set()
    assert all(s.tables == {COUNTER_TABLE} for s in log.statements if s.reads)


def test_a_shipment_event_re_reads_nothing_on_stock_control(db):
    at = _run("stock_control", "warehouse_manager")
    with read_connection(db) as conn:
        shipment_id = conn.execute(
            select(Shipment.id).where(Shipment.status.in_(("planned", "in_transit"))).limit(1)
        ).scalar_one()
    before = _versions(db)
    operations.record_tracking_event(db, shipment_id=shipment_id, kind="in_transit", actor="test")
    assert "shipments" in _moved(before, _versions(db))
    log = _rerun(at)
    assert log.reads_run() == set(), "stock control re-read after a shipment event"


def test_an_order_re_reads_stock_but_not_the_purchase_order_reads(db):
    at = _run("replenishment", "purchasing_manager")
    _place_order(db)
    ran = _rerun(at).reads_run()
    assert "replenishment._inbox" in ran  # low stock depends on what was ordered
    assert "replenishment._drafts" in ran
    untouched = {
        "replenishment._forecast",  # moves with a new demand model run only
        "replenishment._record",
        "replenishment._scorecard",
        "replenishment._lead_kpi",
        "replenishment._suppliers",
    }
    assert not ran & untouched
    assert untouched <= set(LIVE_READS)  # the names are real reads


def test_an_order_re_reads_no_shipment_reads_in_transit(db):
    at = _run("in_transit", "logistics_manager")
    _place_order(db)
    ran = _rerun(at).reads_run()
    assert not ran & {"in_transit._on_time", "in_transit._transit", "in_transit._carriers"}


def test_an_order_re_reads_my_customers_backorders_but_the_90_day_figures_settle(db):
    at = _run("my_customers", "sales_rep")
    _place_order(db)
    ran = _rerun(at).reads_run()
    assert "my_customers._backorders" in ran  # the open backorder figures follow every order
    assert "my_customers._window_kpis" not in ran  # re-read at most once a minute


def test_a_settings_change_re_reads_nothing_on_the_overview_page(db):
    at = _run("overview", "owner")
    ensure_admin(db, "admin")
    operations.set_setting(db, key="notice_repeat_hours", value=12, actor="admin")
    assert _rerun(at).reads_run() == set()


def test_an_order_re_reads_this_week_on_the_overview_but_no_finished_week(db):
    at = _run("overview", "owner")
    _place_order(db)
    log = _rerun(at)
    ran = log.reads_run()
    assert "overview_parts._rows_since" in ran  # this week's rollup rows
    assert "overview_parts._current_demand" in ran  # this month's days of this week
    # The order went through in full: no backorder moved, so neither the value at risk, nor the
    # chances of cancellation, nor the backorder lines behind the charts are read again.
    assert LIVE_READS["at_risk.chances"] == ("backorders",)
    assert not ran & {"at_risk.at_risk", "at_risk.chances", "overview_parts._lines_page"}
    past = {name for name, subjects in LIVE_READS.items() if PAST_WEEKS in subjects}
    past_only = {name for name in past if "orders" not in LIVE_READS[name]}
    assert {"overview_parts._past_sums", "overview_parts._past_demand"} <= past_only
    assert not ran & past_only, ran & past_only
    # Only this week's rows of the rollup were read again, not the year of weeks.
    assert not any(
        "backorder_rollup" in s.tables and "overview_parts._past_sums" in s.reads
        for s in log.statements
    )


def test_a_short_order_re_reads_the_backorder_lines_and_shows_its_line_first(db):
    at = _run("overview", "owner")
    placed = _place_order(db, short=3)
    assert placed.lines[0].qty_backordered == 3
    ran = _rerun(at).reads_run()
    assert {"at_risk.at_risk", "overview_parts._lines_page"} <= ran
    (lines,) = [d.value for d in at.dataframe if "qty_short" in d.value.columns]
    assert (lines.iloc[0]["order_number"], lines.iloc[0]["qty_short"]) == (placed.number, 3)


def test_an_order_re_reads_this_week_on_backorder_cost_but_no_finished_week(db):
    at = _run("backorder_cost", "finance_manager")
    _place_order(db)
    log = _rerun(at)
    ran = log.reads_run()
    assert "cost_parts._this_week" in ran  # this week's sales and costs
    assert LIVE_READS["cost_parts._past_weeks"] == (PAST_WEEKS,)
    assert "cost_parts._past_weeks" not in ran
    # The cash tiles: the backorders' side follows the order, the purchase orders' side stays.
    assert "cost_parts._cash_in_backorders" in ran
    assert LIVE_READS["cost_parts._cash_in_purchase_orders"] == ("purchasing",)
    assert "cost_parts._cash_in_purchase_orders" not in ran
    # Only this week's rows of the rollup and of the weekly costs were read again.
    for s in log.statements:
        if "backorder_rollup" in s.tables:
            assert "cost_parts._this_week" in s.reads, s.reads
        if "backorder_cost_weekly" in s.tables:
            assert {"cost_parts._this_week", "cost_parts.ledger_page"} & set(s.reads), s.reads


def test_a_threshold_edit_is_seen_on_the_next_run(db):
    at = _run("stock_control", "warehouse_manager")
    product = stock_overview(db).sort_values("sku").iloc[-1]
    operations.set_thresholds(
        db,
        product_id=int(product["product_id"]),
        reorder_point=int(product["reorder_point"]) + 7,
        safety_stock=int(product["safety_stock"]),
        order_up_to=int(product["order_up_to"]) + 7,
        actor="test",
    )
    at.text_input(key="stock_search").set_value(product["sku"])
    log = _rerun(at)
    assert "stock_control._page" in log.reads_run()
    (table,) = [d.value for d in at.dataframe if "days_of_cover" in d.value.columns]
    assert list(table["reorder_point"]) == [int(product["reorder_point"]) + 7]


def test_a_low_stock_ratio_change_is_seen_in_the_status_counts(db):
    at = _run("stock_control", "warehouse_manager")
    low_before = int((stock_overview(db)["status"] == "low").sum())
    ensure_admin(db, "admin")
    operations.set_setting(db, key="low_stock_ratio", value=10.0, actor="admin")
    low_after = int((stock_overview(db)["status"] == "low").sum())
    assert low_after > low_before
    _rerun(at)
    alerts = [e.label for e in at.expander if e.label.startswith("Low-stock alerts")]
    assert alerts and f"{low_after} low" in alerts[0].replace(",", "")


PAGES = {
    "stock_control": "warehouse_manager",
    "replenishment": "purchasing_manager",
    "in_transit": "logistics_manager",
    "customer_desk": "customer_service",
    "my_customers": "sales_rep",
    "pick_queue": "warehouse_operator",
    "shop": "customer",
    "backorder_cost": "finance_manager",
    "overview": "owner",
}


@pytest.mark.parametrize("page", sorted(PAGES))
def test_each_cached_read_declares_every_subject_it_reads(db, page):
    at = app_test(f"pages/{page}.py", user_for_role(PAGES[page]))
    with StatementLog() as log:
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    read = log.subjects_read()
    assert read, f"{page} made no cached read"
    for name, subjects in read.items():
        assert subjects <= set(LIVE_READS[name]), (name, subjects - set(LIVE_READS[name]))


# Tabs drawn only when open: their reads are checked with the tab open.
CLOSED_TABS = [
    ("stock_control", "stock_tab", "Thresholds"),
    ("stock_control", "stock_tab", "Backorder report"),
    ("stock_control", "stock_risk", True),  # the backorder-risk section, opened
    ("stock_control", "stock_tab", "Trends"),
    ("replenishment", "replen_tab", "Drafted POs"),
    ("replenishment", "replen_tab", "Late & at risk"),
    ("replenishment", "replen_tab", "Suppliers"),
    ("in_transit", "transit_tab", "Outbound"),
    ("in_transit", "transit_tab", "Carriers"),
]


@pytest.mark.parametrize(("page", "key", "tab"), CLOSED_TABS)
def test_the_reads_of_each_tab_declare_every_subject_they_read(db, page, key, tab):
    at = app_test(f"pages/{page}.py", user_for_role(PAGES[page]))
    at.session_state[key] = tab
    with StatementLog() as log:
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    for name, subjects in log.subjects_read().items():
        assert subjects <= set(LIVE_READS[name]), (name, subjects - set(LIVE_READS[name]))


# --- The cached-read helper itself ------------------------------------------------------------


def _write_setting(engine, key: str) -> None:
    with write_session(engine) as session:
        session.add(Setting(key=key, value={"v": 1}))


def test_a_live_read_re_reads_only_when_its_subjects_move(sqlite_engine):
    calls: list[str] = []

    @live_read("settings")
    def read_settings(engine, label: str) -> int:
        calls.append(label)
        return len(calls)

    assert read_settings(sqlite_engine, "a") == 1
    assert read_settings(sqlite_engine, "a") == 1  # nothing moved: the cache answers
    with write_session(sqlite_engine) as session:
        session.add(AuditLog(actor="t", action="x", entity="y", entity_id="1"))
    assert read_settings(sqlite_engine, "a") == 1  # the audit log is not a subject it reads
    _write_setting(sqlite_engine, "one")
    assert read_settings(sqlite_engine, "a") == 2
    assert read_settings(sqlite_engine, "b") == 3  # other arguments, another entry


def test_a_read_defined_again_as_on_every_page_run_keeps_its_cache(sqlite_engine):
    """A page script runs its ``@live_read`` definitions on every run: the same body (even one
    compiled again, with nested functions) is served by the cache built the first time."""
    import ui.db

    source = """
def read_names(engine, suffix):
    calls.append(suffix)
    return sorted(name + suffix for name in ("b", "a"))
"""
    calls: list[str] = []
    answers = []
    for _ in range(3):  # each time a new code object and function, as a page run makes
        namespace = {"calls": calls}
        exec(compile(source, "/pages/fake_page.py", "exec"), namespace)
        read = live_read("settings")(namespace["read_names"])
        answers.append(read(sqlite_engine, "!"))
    assert answers == [["a!", "b!"]] * 3
    assert calls == ["!"]  # read once, then served from the cache
    assert sum(1 for key in ui.db._cached_bodies if key[0] == "fake_page.read_names") == 1


def test_arguments_equal_to_python_but_of_another_type_are_other_entries(sqlite_engine):
    """Calls are numbered by their exact arguments: 1, 1.0 and True, or a list and a tuple of
    the same items, compare equal in Python but are separate entries, as Streamlit keeps them."""
    calls: list[object] = []

    @live_read("settings")
    def echo(engine, value, *, twice: bool = False) -> str:
        calls.append(value)
        return f"{type(value).__name__}:{value!r}:{twice}"

    assert [echo(sqlite_engine, v) for v in (1, 1.0, True, 1)] == [
        "int:1:False",
        "float:1.0:False",
        "bool:True:False",
        "int:1:False",
    ]
    assert echo(sqlite_engine, [1, 2]) == "list:[1, 2]:False"
    assert echo(sqlite_engine, (1, 2)) == "tuple:(1, 2):False"
    assert echo(sqlite_engine, (1, 2), twice=True) == "tuple:(1, 2):True"
    assert echo(sqlite_engine, (1, 2)) == "tuple:(1, 2):False"
    assert calls == [1, 1.0, True, [1, 2], (1, 2), (1, 2)]
    assert (
        echo(sqlite_engine, float("nan")) == echo(sqlite_engine, float("nan")) == "float:nan:False"
    )
    assert len(calls) == 7  # one NaN is the same call as another


def test_a_read_of_a_frame_is_keyed_by_the_frame_s_contents(sqlite_engine):
    calls: list[int] = []

    @live_read("settings")
    def total(engine, frame: pd.DataFrame) -> int:
        calls.append(1)
        return int(frame["n"].sum())

    assert total(sqlite_engine, pd.DataFrame({"n": [1, 2]})) == 3
    assert total(sqlite_engine, pd.DataFrame({"n": [1, 2]})) == 3
    assert total(sqlite_engine, pd.DataFrame({"n": [5, 2]})) == 7
    assert len(calls) == 2


def test_forgotten_call_numbers_are_given_anew_and_answers_stay_right(sqlite_engine, monkeypatch):
    import ui.db

    monkeypatch.setattr(ui.db, "MAX_TOKENS", 8)
    calls: list[int] = []

    @live_read("settings")
    def square(engine, n: int) -> int:
        calls.append(n)
        return n * n

    assert [square(sqlite_engine, n) for n in range(20)] == [n * n for n in range(20)]
    assert len(ui.db._tokens) <= 8
    assert [square(sqlite_engine, n) for n in range(20)] == [n * n for n in range(20)]
    assert calls[:20] == list(range(20))  # numbered anew, the early ones are read again


def test_a_settling_read_waits_out_its_settle_time(sqlite_engine, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("ui.db.time.monotonic", lambda: clock[0])
    calls: list[int] = []

    @live_read("settings", settle_s=60)
    def slow_figure(engine) -> int:
        calls.append(1)
        return len(calls)

    assert slow_figure(sqlite_engine) == 1
    _write_setting(sqlite_engine, "one")
    clock[0] += 30
    assert slow_figure(sqlite_engine) == 1  # moved, but within the settle time
    clock[0] += 31
    assert slow_figure(sqlite_engine) == 2  # settled: the change is read
    assert slow_figure(sqlite_engine) == 2
