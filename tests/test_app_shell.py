"""The app shell's parts: cookie key, credentials, formatters, data version, inbox, account."""

from __future__ import annotations

import io

import altair as alt
import bcrypt
import pandas as pd
import pytest
from sqlalchemy import delete, insert, select, update

from data.db import make_engine, read_connection
from data.schema import AuditLog, Notification, Setting, User
from queries.data_version import data_version
from queries.notifications import inbox_messages, unread_count
from tests import apptest_support
from tests.apptest_support import (
    DEMO_USERS,
    app_test,
    assert_home_of,
    data_elements,
    run_through_app,
)

# Fixtures shared by the AppTest modules (assigned, not imported, so they are found by name).
fresh_caches = apptest_support.fresh_caches
fresh_db_url = apptest_support.fresh_db_url


@pytest.fixture
def db(fresh_db_url):
    engine = make_engine(fresh_db_url)
    yield engine
    engine.dispose()


def user_id(db, username: str) -> int:
    with db.connect() as conn:
        return conn.execute(select(User.id).where(User.username == username)).scalar_one()


# --- cookie key ----------------------------------------------------------------------------


@pytest.fixture
def no_cookie_key_cache(monkeypatch):
    from ui import cookie_key as module

    monkeypatch.delenv("LARDER_COOKIE_KEY", raising=False)
    monkeypatch.setattr(module, "_from_database_cache", {})
    return module


def test_cookie_key_is_generated_once_into_the_database_and_shared(
    engine, tmp_path, no_cookie_key_cache
):
    from data.shared_key import COOKIE_KEY_ROW, stored_cookie_key

    assert stored_cookie_key(engine) is None
    first = no_cookie_key_cache.cookie_key(tmp_path / "absent", engine=engine)
    assert len(first) == 64 and int(first, 16) >= 0
    assert stored_cookie_key(engine) == first
    assert not (tmp_path / "absent").exists()  # nothing written to this server's disk
    # Another server (its own process memory, another machine's files) reads the same key.
    no_cookie_key_cache._from_database_cache.clear()
    other_disk = tmp_path / "other"
    other_disk.mkdir()
    assert no_cookie_key_cache.cookie_key(other_disk / "absent", engine=engine) == first
    with read_connection(engine) as conn:
        rows = conn.execute(select(Setting.key).where(Setting.key == COOKIE_KEY_ROW)).all()
    assert len(rows) == 1


def test_cookie_key_of_an_older_install_moves_into_the_database(
    engine, tmp_path, no_cookie_key_cache
):
    from data.shared_key import stored_cookie_key

    key_file = tmp_path / ".larder_cookie_key"
    key_file.write_text("f" * 64 + "\n")
    assert no_cookie_key_cache.cookie_key(key_file, engine=engine) == "f" * 64
    assert stored_cookie_key(engine) == "f" * 64


def test_concurrent_first_starts_agree_on_one_cookie_key(engine):
    from concurrent.futures import ThreadPoolExecutor

    from data.shared_key import shared_cookie_key, stored_cookie_key

    proposals = [f"{n:02d}" * 32 for n in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        keys = list(pool.map(lambda p: shared_cookie_key(engine, p), proposals))
    assert len(set(keys)) == 1 and keys[0] in proposals
    assert stored_cookie_key(engine) == keys[0]


def test_cookie_key_row_is_not_a_setting_on_the_admin_page(engine, no_cookie_key_cache):
    from data.settings import all_settings
    from queries.settings import setting_rows

    no_cookie_key_cache.cookie_key(engine=engine)
    with read_connection(engine) as conn:
        assert "cookie_key" not in all_settings(conn)
        assert "cookie_key" not in {row.key for row in setting_rows(conn)}


def test_cookie_key_from_the_environment_wins_over_the_database(tmp_path, monkeypatch):
    from ui.cookie_key import cookie_key

    monkeypatch.setenv("LARDER_COOKIE_KEY", "e" * 40)
    assert cookie_key(tmp_path / "unused") == "e" * 40
    assert not (tmp_path / "unused").exists()


def test_short_cookie_key_is_refused(tmp_path, monkeypatch):
    from ui.cookie_key import cookie_key

    monkeypatch.setenv("LARDER_COOKIE_KEY", "too-short")
    with pytest.raises(RuntimeError, match="at least 32 characters"):
        cookie_key(tmp_path / "unused")


# --- credentials ---------------------------------------------------------------------------


def test_credentials_hold_active_users_with_hashes_and_database_roles(db):
    from ui.login import credentials

    with db.begin() as conn:
        conn.execute(update(User).where(User.username == "finance").values(active=False))
    users = credentials()["usernames"]
    assert "finance" not in users
    assert sorted(users) == sorted(set(DEMO_USERS) - {"finance"})
    manager = users["manager"]
    assert manager["roles"] == ["warehouse_manager"]
    assert manager["password"].startswith("$2")
    assert bcrypt.checkpw(b"manager-demo", manager["password"].encode())


# --- formatters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [(1234.5, "€1,234.50"), (-3, "-€3.00"), (0, "€0.00"), (None, "—"), (float("nan"), "—")],
)
def test_money(value, shown):
    from ui.components import money

    assert money(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"), [(12345, "12,345"), (12.0, "12"), (2.25, "2.2"), (None, "—")]
)
def test_qty(value, shown):
    from ui.components import qty

    assert qty(value) == shown


@pytest.mark.parametrize(("value", "shown"), [(0.153, "15.3 %"), (1, "100.0 %"), (None, "—")])
def test_pct(value, shown):
    from ui.components import pct

    assert pct(value) == shown


def test_excel_export_round_trips():
    from ui.components import excel_bytes

    frame = pd.DataFrame({"sku": ["A1", "B2"], "on_hand": [3, 0]})
    back = pd.read_excel(io.BytesIO(excel_bytes(frame)), engine="openpyxl")
    assert back.to_dict("list") == {"sku": ["A1", "B2"], "on_hand": [3, 0]}


def test_chart_theme_is_enabled():
    import ui.theme

    assert alt.theme.active == ui.theme.THEME_NAME


def test_standard_table_shows_rows_and_both_downloads():
    from streamlit.testing.v1 import AppTest

    def page():
        import pandas as pd

        from ui.components import kpi_tile, standard_table

        kpi_tile(
            "Fill rate", 0.9, "Share of ordered units shipped from stock.", fmt="{:.0%}".format
        )
        standard_table(pd.DataFrame({"sku": ["A", "B"]}), key="t", file_name="stock")

    at = AppTest.from_function(page, default_timeout=30).run()
    assert not at.exception
    assert list(at.dataframe[0].value["sku"]) == ["A", "B"]
    assert at.metric[0].value == "90%" and at.metric[0].help.startswith("Share of ordered")
    labels = [e.proto.label for e in at.get("download_button")]
    assert labels == ["CSV", "Excel"]


def test_standard_table_explains_an_empty_result():
    from streamlit.testing.v1 import AppTest

    def page():
        import pandas as pd

        from ui.components import standard_table

        standard_table(pd.DataFrame(), key="t", empty_message="No backorders.", empty_hint="Good.")

    at = AppTest.from_function(page, default_timeout=30).run()
    assert [i.value for i in at.info] == ["No backorders.\n\nGood."]
    assert list(at.dataframe) == []


# --- data version --------------------------------------------------------------------------


def test_data_version_grows_when_something_is_recorded(db):
    with read_connection(db) as conn:
        before = data_version(conn)
    with db.begin() as conn:
        conn.execute(insert(AuditLog).values(actor="t", action="x", entity="y"))
    with read_connection(db) as conn:
        assert data_version(conn) == before + 1


# --- inbox ---------------------------------------------------------------------------------


@pytest.fixture
def no_demo_notices(db):
    """The seeded database without the demo's notices, so a test counts only its own."""
    with db.begin() as conn:
        conn.execute(delete(Notification))


def add_notification(db, **values) -> int:
    with db.begin() as conn:
        return conn.execute(
            insert(Notification).values(kind="test", subject=values.pop("subject", "s"), **values)
        ).inserted_primary_key[0]


@pytest.mark.usefixtures("no_demo_notices")
def test_inbox_holds_own_and_role_messages_but_not_others(db):
    manager = user_id(db, "manager")
    mine = add_notification(db, user_id=manager, subject="for you")
    role = add_notification(db, role="warehouse_manager", subject="for managers")
    add_notification(db, user_id=user_id(db, "buyer"), subject="for the buyer")
    add_notification(db, role="purchasing_manager", subject="for buyers")
    with read_connection(db) as conn:
        messages = inbox_messages(conn, manager, {"warehouse_manager"})
        count = unread_count(conn, manager, {"warehouse_manager"})
    assert sorted(m.notification_id for m in messages) == sorted([mine, role])
    assert count == 2


@pytest.mark.usefixtures("no_demo_notices")
def test_customer_role_message_about_one_customer_reaches_only_that_customer(db):
    c1, c2 = user_id(db, "customer1"), user_id(db, "customer2")
    with db.connect() as conn:
        customer_of = dict(conn.execute(select(User.id, User.customer_id)).all())
    add_notification(db, role="customer", customer_id=customer_of[c1], subject="your order slips")
    with read_connection(db) as conn:
        assert unread_count(conn, c1, {"customer"}, customer_of[c1]) == 1
        assert unread_count(conn, c2, {"customer"}, customer_of[c2]) == 0


@pytest.mark.usefixtures("no_demo_notices")
def test_inbox_in_the_sidebar_counts_unread_and_marks_read(db):
    manager = user_id(db, "manager")
    add_notification(db, user_id=manager, subject="Flour below reorder point")
    at = app_test("app.py", "manager")
    at.run()
    assert [e.label for e in at.sidebar.expander][0] == "Inbox · 1 unread"
    assert "**●** **Flour below reorder point**" in [m.value for m in at.sidebar.markdown]
    next(b for b in at.sidebar.button if b.label == "Mark read").click()
    run_through_app(at)
    with read_connection(db) as conn:
        assert unread_count(conn, manager, {"warehouse_manager"}) == 0


# --- account and logout --------------------------------------------------------------------


def change_password(at, current: str, new: str, repeat: str | None = None):
    at.text_input(key="my_password_current").input(current)
    at.text_input(key="my_password_new").input(new)
    at.text_input(key="my_password_repeat").input(new if repeat is None else repeat)
    next(b for b in at.sidebar.button if b.label == "Change password").click()
    return run_through_app(at)


@pytest.mark.parametrize(
    ("current", "new", "repeat", "message"),
    [
        ("wrong-one", "brand-new-pw", None, "Your current password is not right"),
        ("y" * 80, "brand-new-pw", None, "Your current password is not right"),
        ("buyer-demo", "brand-new-pw", "brand-new-px", "The new password and its repeat differ"),
        ("buyer-demo", "short", None, "The password is too short"),
        ("buyer-demo", "x" * 73, None, "The password is too long"),
        ("buyer-demo", " spaced-pw ", None, "A password cannot start or end with a space."),
    ],
    ids=["wrong_current", "overlong_current", "repeat_differs", "too_short", "too_long", "spaces"],
)
def test_bad_password_change_shows_message_and_keeps_the_old_one(db, current, new, repeat, message):
    with db.connect() as conn:
        old = conn.execute(select(User.password_hash).where(User.username == "buyer")).scalar_one()
    at = app_test("app.py", "buyer")
    at.run()
    change_password(at, current, new, repeat)
    assert [e.value for e in at.sidebar.error][0].startswith(message)
    with db.connect() as conn:
        assert (
            conn.execute(select(User.password_hash).where(User.username == "buyer")).scalar_one()
            == old
        )


def test_password_change_works_for_the_next_login(db):
    at = app_test("app.py", "buyer")
    at.run()
    change_password(at, "buyer-demo", "brand-new-pw")
    assert [s.value for s in at.sidebar.success] == [
        "Your password is changed. Use it next time you log in."
    ]
    with db.connect() as conn:
        new_hash = conn.execute(
            select(User.password_hash).where(User.username == "buyer")
        ).scalar_one()
    assert bcrypt.checkpw(b"brand-new-pw", new_hash.encode())


def test_logout_returns_to_the_login_form(db):
    at = app_test("app.py", "owner")
    at.run()
    assert_home_of(at, "owner")
    next(b for b in at.sidebar.button if b.label == "Log out").click()
    run_through_app(at)
    assert at.session_state["authentication_status"] is None
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert data_elements(at) == []


def test_user_without_roles_sees_an_explanation_and_no_page(db):
    from data.schema import UserRole

    marketing = user_id(db, "marketing")
    with db.begin() as conn:
        conn.execute(delete(UserRole).where(UserRole.user_id == marketing))
    at = app_test("app.py", "marketing")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [i.value for i in at.info] == [
        "Your account has no role yet, so there is no page for you. Ask an administrator."
    ]
    assert data_elements(at) == []


def test_a_customer_sees_the_backorder_notice_of_their_order_in_the_inbox(db):
    from data.schema import Product, Stock
    from operations import place_order

    with db.connect() as conn:
        sku, free = conn.execute(
            select(Product.sku, Stock.on_hand - Stock.reserved)
            .join(Stock, Stock.product_id == Product.id)
            .order_by(Product.sku)
            .limit(1)
        ).one()
    placed = place_order(
        db,
        customer_id=1,
        lines=[(sku, free + 4)],
        actor="customer1",
        backorder_choice="accept_backorder",
    )
    at = app_test("app.py", "customer1")
    at.run()
    shown = [m.value for m in at.sidebar.markdown]
    assert any(
        value.startswith(f"**●** **{placed.number}: 4 units on backorder, expected by ")
        for value in shown
    ), shown
    at = app_test("app.py", "customer2")
    at.run()
    assert not any(placed.number in m.value for m in at.sidebar.markdown)
