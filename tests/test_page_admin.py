"""The Admin page through AppTest: users, passwords, settings and the audit log."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from data.db import make_engine
from data.schema import AuditLog, ModelRun, Setting, User, UserRole
from tests import apptest_support
from tests.apptest_support import app_test, assert_home_of

# Fixtures shared by the AppTest modules (assigned, not imported, so they are found by name).
fresh_caches = apptest_support.fresh_caches
fresh_db_url = apptest_support.fresh_db_url


@pytest.fixture
def db(fresh_db_url):
    engine = make_engine(fresh_db_url)
    yield engine
    engine.dispose()


def admin_page(tab: str | None = None):
    """The Admin page as the administrator sees it; ``tab`` opens that tab (only it is drawn)."""
    at = app_test("pages/admin.py", "admin")
    if tab is not None:
        at.session_state["admin_tab"] = tab
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def click(at, label: str):
    next(b for b in at.button if b.label == label).click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def fill_new_user(at, *, username="newcook", password="good-password", roles=("finance_manager",)):
    at.text_input(key="admin_new_username").input(username)
    at.text_input(key="admin_new_name").input("New Cook")
    at.text_input(key="admin_new_email").input(f"{username}@example.com")
    at.text_input(key="admin_new_password").input(password)
    at.multiselect(key="admin_new_roles").set_value(list(roles))


def user_count(db) -> int:
    with db.connect() as conn:
        return conn.execute(select(func.count()).select_from(User)).scalar_one()


def audit_actions(db, action: str) -> list[tuple[str, str]]:
    with db.connect() as conn:
        return conn.execute(
            select(AuditLog.actor, AuditLog.entity_id).where(AuditLog.action == action)
        ).all()


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("7-bytes", "The password is too short: use at least 8 characters."),
        ("x" * 73, "The password is too long: at most 72 bytes in UTF-8"),
        ("é" * 37, "The password is too long: at most 72 bytes in UTF-8"),  # 37 letters, 74 bytes
    ],
    ids=["7_bytes", "73_bytes", "74_bytes_in_37_letters"],
)
def test_create_user_with_bad_password_shows_message_and_creates_nothing(db, password, message):
    before = user_count(db)
    at = admin_page()
    fill_new_user(at, password=password)
    click(at, "Create user")
    assert len(at.error) == 1 and at.error[0].value.startswith(message)
    assert user_count(db) == before
    assert audit_actions(db, "create_user") == []
    # the form keeps what was typed, so the administrator can fix only the password
    assert at.text_input(key="admin_new_username").value == "newcook"


def test_create_user_with_valid_input_creates_and_audits(db):
    at = admin_page()
    fill_new_user(at, username="NewCook", password="é" * 36)  # 72 bytes: the most allowed
    click(at, "Create user")
    assert [s.value for s in at.success] == ["User newcook created."]
    assert list(at.error) == []
    with db.connect() as conn:
        user = conn.execute(select(User).where(User.username == "newcook")).one()
        roles = conn.scalars(select(UserRole.role).where(UserRole.user_id == user.id)).all()
    assert roles == ["finance_manager"]
    assert audit_actions(db, "create_user") == [("admin", str(user.id))]
    # The form comes back empty (new widgets, so the browser cannot send the old values back),
    # password included, with "no linked customer" chosen rather than an empty choice.
    form = create_form_values(at)
    assert form == {
        "Username": "",
        "Full name": "",
        "Email": "",
        "Password": "",
        "Roles": [],
        "Linked customer (for the customer role)": "— none —",
        "Linked sales representative (for the sales rep role)": "— none —",
    }
    assert at.session_state["admin_tab"] == "Users"


def create_form_values(at) -> dict:
    """The create-user form's widgets by label (whatever their keys), as shown."""
    values = {}
    for box in at.text_input:
        if box.key and box.key.startswith("admin_new_"):
            values[box.label] = box.value
    for box in at.multiselect:
        if box.key and box.key.startswith("admin_new_"):
            values[box.label] = box.value
    for box in at.selectbox:
        if box.key and box.key.startswith("admin_new_"):
            values[box.label] = box.format_func(box.value)
    return values


def test_created_user_can_log_in(db):
    at = admin_page()
    fill_new_user(at, username="newcook", password="good-password")
    click(at, "Create user")
    login = app_test("app.py")
    login.run()
    login.text_input[0].input("newcook")
    login.text_input[1].input("good-password")
    next(b for b in login.button if b.label == "Login").click()
    login.run()
    assert_home_of(login, "newcook")


def test_customer_role_without_linked_customer_is_refused(db):
    before = user_count(db)
    at = admin_page()
    fill_new_user(at, roles=("customer",))
    click(at, "Create user")
    assert [e.value for e in at.error] == [
        "A user with the customer role must be linked to a customer."
    ]
    assert user_count(db) == before


def choose_user(at, db, username: str) -> int:
    with db.connect() as conn:
        user_id = conn.execute(select(User.id).where(User.username == username)).scalar_one()
    at.selectbox(key="admin_pick_user").set_value(user_id)
    at.run()
    return user_id


def test_disabling_a_user_refuses_their_next_page_view(db):
    before_view = app_test("pages/home.py", "manager")
    before_view.run()
    assert_home_of(before_view, "manager")

    at = admin_page()
    user_id = choose_user(at, db, "manager")
    click(at, "Disable this user")
    assert [s.value for s in at.success] == ["manager is disabled and can no longer open any page."]
    assert audit_actions(db, "set_user_active") == [("admin", str(user_id))]

    before_view.run()  # the same session, next page view
    assert [w.value for w in before_view.warning][0].startswith("Please log in")
    assert list(before_view.title) == []


def test_admin_cannot_disable_themself(db):
    at = admin_page()
    choose_user(at, db, "admin")
    button = next(b for b in at.button if b.label == "Disable this user")
    assert button.disabled


def test_reset_password_too_short_changes_nothing(db):
    with db.connect() as conn:
        old_hash = conn.execute(
            select(User.password_hash).where(User.username == "buyer")
        ).scalar_one()
    at = admin_page()
    user_id = choose_user(at, db, "buyer")
    at.text_input(key=f"admin_reset_password_{user_id}").input("short")
    click(at, "Reset password")
    assert [e.value for e in at.error] == ["The password is too short: use at least 8 characters."]
    with db.connect() as conn:
        assert (
            conn.execute(select(User.password_hash).where(User.id == user_id)).scalar_one()
            == old_hash
        )
    assert audit_actions(db, "reset_password") == []


def test_change_roles_is_saved_and_audited(db):
    at = admin_page()
    user_id = choose_user(at, db, "buyer")
    at.multiselect(key=f"admin_roles_{user_id}").set_value(
        ["purchasing_manager", "finance_manager"]
    )
    click(at, "Save roles")
    with db.connect() as conn:
        roles = conn.scalars(
            select(UserRole.role).where(UserRole.user_id == user_id).order_by(UserRole.role)
        ).all()
    assert roles == ["finance_manager", "purchasing_manager"]
    assert audit_actions(db, "set_user_roles") == [("admin", str(user_id))]


def open_tab(at, tab: str):
    at.session_state["admin_tab"] = tab
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def choose_setting(at, key: str):
    at.selectbox(key="admin_setting_key").set_value(key)
    at.run()
    return at


def stored_setting(db, key: str):
    with db.connect() as conn:
        return conn.execute(select(Setting.value).where(Setting.key == key)).scalar_one_or_none()


def test_setting_out_of_bounds_is_refused_and_nothing_changes(db):
    at = choose_setting(admin_page("Settings"), "refresh_seconds")
    at.number_input(key="admin_setting_value_refresh_seconds").set_value(1)
    click(at, "Save setting")
    assert [e.value for e in at.error] == ["refresh_seconds must be at least 2, not 1."]
    assert stored_setting(db, "refresh_seconds") is None
    assert audit_actions(db, "set_setting") == []


def test_setting_change_is_saved_and_audited(db):
    at = choose_setting(admin_page("Settings"), "refresh_seconds")
    at.number_input(key="admin_setting_value_refresh_seconds").set_value(10)
    click(at, "Save setting")
    assert [s.value for s in at.success] == ["Live page refresh (seconds) is now 10."]
    assert stored_setting(db, "refresh_seconds") == {"v": 10}
    assert audit_actions(db, "set_setting") == [("admin", "refresh_seconds")]
    assert at.metric[2].value == "1"  # settings that differ from their default


def test_audit_log_shows_a_change_and_filters_by_who_and_what(db):
    at = choose_setting(admin_page("Settings"), "pick_days")
    at.number_input(key="admin_setting_value_pick_days").set_value(2)
    click(at, "Save setting")
    open_tab(at, "Audit log")
    assert "Ada Quinn (admin)" in at.selectbox(key="admin_audit_actor").options
    at.selectbox(key="admin_audit_actor").set_value("admin")
    at.selectbox(key="admin_audit_entity").set_value("setting")
    at.run()
    audit_table = next(df.value for df in at.dataframe if "action" in df.value.columns)
    assert list(audit_table["action"]) == ["set_setting"]
    # Names and readable changes, not ids and JSON.
    assert list(audit_table["actor"]) == ["Ada Quinn (admin)"]
    assert list(audit_table["entity_id"]) == ["Days from stock to dispatch"]
    assert list(audit_table["change"]) == ["Value: 1 -> 2"]


def test_audit_log_explains_an_empty_period(db):
    at = admin_page("Audit log")
    at.date_input(key="admin_audit_period").set_value((dt.date(2001, 1, 1), dt.date(2001, 1, 2)))
    at.run()
    assert "No audit entries match these filters." in [i.value.split("\n")[0] for i in at.info]


def test_models_tab_explains_an_untrained_database_and_shows_a_trained_one(db):
    at = admin_page("Models")
    assert any("never trained" in str(df.value.to_dict()) for df in at.dataframe)
    assert any("has not been trained" in info.value for info in at.info)
    with db.begin() as conn:
        conn.execute(
            ModelRun.__table__.insert().values(
                kind="demand",
                version="20261124",
                started_at=dt.datetime(2026, 11, 24, 9),
                finished_at=dt.datetime(2026, 11, 24, 9, 5),
                status="ok",
                params={},
                metrics={
                    "methods": {"model": {"rmsse": 0.57}, "seasonal_naive": {"rmsse": 0.78}},
                    "improvement_vs_seasonal_naive": {"rmsse": 0.268},
                },
            )
        )
    at.run()
    methods = [set(df.value.get("method", [])) for df in at.dataframe]
    assert {"Larder's demand model", "Seasonal naive (same week last season)"} in methods
    backtest = next(df for df in at.dataframe if "rmsse" in df.value.columns)
    assert '"label": "Scaled squared error (RMSSE)"' in backtest.proto.columns


def tab_shown(at) -> int:
    """Index of the tab the Admin page tells the browser to show."""
    containers = [node for node in walk(at.main) if getattr(node, "type", "") == "tab_container"]
    assert len(containers) == 1
    return containers[0].proto.tab_container.default_tab_index


def walk(node):
    for child in getattr(node, "children", {}).values():
        yield child
        yield from walk(child)


def test_a_save_keeps_the_admin_on_the_settings_tab(db):
    at = app_test("pages/admin.py", "admin")
    at.session_state["admin_tab"] = "Settings"  # the administrator opened the Settings tab
    at.run()
    choose_setting(at, "pick_days")
    at.number_input(key="admin_setting_value_pick_days").set_value(2)
    click(at, "Save setting")  # saves, then reruns the page
    assert [s.value for s in at.success] == ["Days from stock to dispatch is now 2."]
    assert at.session_state["admin_tab"] == "Settings"
    assert tab_shown(at) == 1


def test_settings_show_labels_not_keys(db):
    at = admin_page("Settings")
    table = next(df.value for df in at.dataframe if "setting" in df.value.columns)
    assert "Priority weight: gold tier" in list(table["setting"])
    assert "weight_tier" not in list(table["setting"])
    box = at.selectbox(key="admin_setting_key")
    assert box.format_func("weight_tier") == "Priority weight: gold tier"


def test_the_owner_sees_admin_read_only(db):
    at = app_test("pages/admin.py", "owner")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.info[0].value.startswith("Read-only for the business owner")
    assert at.dataframe, "the owner still sees the users"
    open_tab(at, "Settings")
    assert at.dataframe, "the owner still sees the settings"
    open_tab(at, "Audit log")
    assert "admin_audit_actor" in [b.key for b in at.selectbox], "and the audit log"
    labels = [b.label for b in at.button]
    assert "Create user" not in labels and "Save setting" not in labels
    assert [t for t in at.text_input if t.label in ("Username", "Password")] == []


def test_only_the_open_tab_is_drawn(db):
    """Closed tabs read nothing: the audit log's filters appear only once its tab is open."""
    at = admin_page()
    assert "admin_audit_actor" not in [b.key for b in at.selectbox]
    assert "admin_setting_key" not in [b.key for b in at.selectbox]
    open_tab(at, "Audit log")
    assert "admin_audit_actor" in [b.key for b in at.selectbox]
    assert "admin_new_customer" not in [b.key for b in at.selectbox]


def _link_options(db, **kwargs) -> list[str]:
    from data.db import read_connection
    from queries.users import customer_choices

    with read_connection(db) as conn:
        return ["— none —", *(label for _, label in customer_choices(conn, **kwargs))]


def test_the_customer_lists_offer_the_first_matches_of_a_search(db):
    from data.db import read_connection
    from queries.users import customers_matching, sales_rep_choices

    at = admin_page()
    assert at.selectbox(key="admin_new_customer").options == _link_options(db, limit=50)
    with read_connection(db) as conn:
        reps = sales_rep_choices(conn)
        bistros = customers_matching(conn, "BISTRO")
    assert at.selectbox(key="admin_new_rep").options == ["— none —", *(r for _, r in reps)]
    assert bistros > 0
    at.text_input(key="admin_customer_search").set_value("BISTRO").run()
    offered = at.selectbox(key="admin_new_customer").options
    assert offered == _link_options(db, search="bistro", limit=50)
    assert len(offered) == 1 + min(bistros, 50)
    assert all("bistro" in label.lower() for label in offered[1:])
    # A search that matches nothing says so; "%" is a character here, not a wildcard.
    at.text_input(key="admin_customer_search").set_value("%").run()
    assert at.selectbox(key="admin_new_customer").options == ["— none —"]
    assert any("No customer's code or name contains" in c.value for c in at.caption)


def test_a_linked_customer_stays_offered_whatever_the_search(db):
    from data.db import read_connection

    with read_connection(db) as conn:
        linked = conn.execute(
            select(User.id, User.customer_id).where(User.username == "customer1")
        ).one()
    at = admin_page()
    at.text_input(key="admin_customer_search").set_value("no such customer").run()
    at.selectbox(key="admin_pick_user").set_value(linked.id).run()
    chosen = at.selectbox(key=f"admin_link_customer_{linked.id}")
    assert chosen.value == linked.customer_id
    (label,) = _link_options(db, search="no such customer", include=[linked.customer_id])[1:]
    assert chosen.options == ["— none —", label]
