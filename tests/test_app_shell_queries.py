"""The app shell's reads (users, audit log, settings, inbox, data version) on both databases."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert

from data.db import read_connection
from data.schema import AuditLog, Customer, Notification, SalesRep, User, UserRole
from operations.admin import create_user, set_setting, set_user_active
from queries.audit import audit_actors, audit_entities, audit_entries
from queries.data_version import data_version
from queries.notifications import inbox_messages, unread_count
from queries.settings import setting_rows
from queries.users import active_credentials, user_by_username, users_table
from tests.operations_world import add_admin

FAST_HASH_ROUNDS = 4


@pytest.fixture
def people(engine):
    """Two reps, two customers, and users: a buyer, a customer (linked), a disabled clerk."""
    with engine.begin() as conn:
        conn.execute(
            insert(SalesRep),
            [
                {"id": 1, "code": "R1", "name": "Rep One", "region": "North"},
                {"id": 2, "code": "R2", "name": "Rep Two", "region": "South"},
            ],
        )
        conn.execute(
            insert(Customer),
            [
                {"id": 1, "code": "C1", "name": "Cafe One", "segment": "Café",
                 "region": "North", "tier": "gold", "sales_rep_id": 1},
                {"id": 2, "code": "C2", "name": "Hotel Two", "segment": "Hotel",
                 "region": "South", "tier": "bronze", "sales_rep_id": 2},
            ],
        )  # fmt: skip
    ids = {"admin": add_admin(engine)}
    for username, roles, customer_id in [
        ("buyer", ["purchasing_manager"], None),
        ("cafe", ["customer"], 1),
        ("clerk", ["customer_service", "finance_manager"], None),
    ]:
        ids[username] = create_user(
            engine,
            username=username,
            name=username.title(),
            email=f"{username}@example.com",
            password="password-ok",
            roles=roles,
            actor="admin",
            customer_id=customer_id,
            bcrypt_rounds=FAST_HASH_ROUNDS,
        )
    set_user_active(engine, user_id=ids["clerk"], active=False, actor="admin")
    return ids


def test_user_by_username_is_case_insensitive_with_roles_and_links(engine, people):
    with read_connection(engine) as conn:
        user = user_by_username(conn, "  CAFE ")
    assert (user.user_id, user.username, user.roles, user.customer_id, user.active) == (
        people["cafe"],
        "cafe",
        frozenset({"customer"}),
        1,
        True,
    )


def test_user_by_username_reports_disabled_and_unknown(engine, people):
    with read_connection(engine) as conn:
        assert user_by_username(conn, "clerk").active is False
        assert user_by_username(conn, "nobody") is None


def test_active_credentials_leave_out_disabled_users(engine, people):
    with read_connection(engine) as conn:
        credentials = active_credentials(conn)
    assert [(c.username, c.roles) for c in credentials] == [
        ("admin", ("admin",)),
        ("buyer", ("purchasing_manager",)),
        ("cafe", ("customer",)),
    ]
    assert all(c.password_hash.startswith("$2") for c in credentials)


def test_users_table_lists_everyone_with_roles_and_whole_number_links(engine, people):
    with read_connection(engine) as conn:
        table = users_table(conn)
    assert list(table["username"]) == ["admin", "buyer", "cafe", "clerk"]
    assert list(table["roles"]) == [
        "admin",
        "purchasing_manager",
        "customer",
        "customer_service, finance_manager",
    ]
    assert list(table["active"]) == [True, True, True, False]
    assert table["customer_id"].dtype == "Int64"
    assert table.loc[table["username"] == "cafe", "customer"].item() == "Cafe One"


def test_audit_entries_filter_by_actor_entity_and_inclusive_dates(engine, people):
    day = dt.datetime(2026, 3, 10, 12, 0)
    with engine.begin() as conn:
        conn.execute(
            insert(AuditLog),
            [
                {"at": day - dt.timedelta(days=1), "actor": "ann", "action": "a", "entity": "product"},
                {"at": day, "actor": "ann", "action": "b", "entity": "setting"},
                {"at": day + dt.timedelta(hours=11), "actor": "bob", "action": "c", "entity": "product"},
                {"at": day + dt.timedelta(days=1), "actor": "bob", "action": "d", "entity": "product"},
            ],
        )  # fmt: skip
    with read_connection(engine) as conn:
        that_day = audit_entries(conn, since=day.date(), until=day.date())
        ann = audit_entries(conn, actor="ann")
        products = audit_entries(conn, entity="product", since=day.date())
        actors = audit_actors(conn)
        entities = audit_entities(conn)
    assert list(that_day["action"]) == ["c", "b"]  # newest first, the whole day included
    assert list(ann["action"]) == ["b", "a"]
    assert list(products["action"]) == ["d", "c"]
    assert actors == ["admin", "ann", "bob"]
    assert entities == ["product", "setting", "user"]


def test_audit_entries_stop_at_the_limit(engine, people):
    with read_connection(engine) as conn:
        assert len(audit_entries(conn, limit=2)) == 2


def test_setting_rows_show_stored_values_over_defaults(engine):
    add_admin(engine)
    set_setting(engine, key="refresh_seconds", value=9, actor="admin")
    with read_connection(engine) as conn:
        rows = {row.key: row for row in setting_rows(conn)}
    assert (rows["refresh_seconds"].value, rows["refresh_seconds"].updated_by) == (9, "admin")
    assert rows["refresh_seconds"].is_default is False
    assert (rows["pick_days"].value, rows["pick_days"].is_default) == (1, True)
    assert rows["pick_days"].updated_at is None


def test_data_version_grows_with_each_change(engine, people):
    with read_connection(engine) as conn:
        before = data_version(conn)
    set_setting(engine, key="pick_days", value=2, actor="admin")
    with read_connection(engine) as conn:
        assert data_version(conn) == before + 1


def test_inbox_reads_own_role_and_customer_messages_only(engine, people):
    keys = ("user_id", "role", "customer_id", "read_at")
    with engine.begin() as conn:
        conn.execute(
            insert(Notification),
            [{key: None for key in keys} | row for row in [
                {"id": 1, "kind": "k", "subject": "to buyer", "user_id": people["buyer"]},
                {"id": 2, "kind": "k", "subject": "to buyers", "role": "purchasing_manager"},
                {"id": 3, "kind": "k", "subject": "to managers", "role": "warehouse_manager"},
                {"id": 4, "kind": "k", "subject": "to cafe", "role": "customer", "customer_id": 1},
                {"id": 5, "kind": "k", "subject": "to hotel", "role": "customer", "customer_id": 2},
                {"id": 6, "kind": "k", "subject": "read", "user_id": people["buyer"],
                 "read_at": dt.datetime(2026, 1, 1)},
            ]],
        )  # fmt: skip
    with read_connection(engine) as conn:
        buyer = inbox_messages(conn, people["buyer"], {"purchasing_manager"})
        buyer_unread = unread_count(conn, people["buyer"], {"purchasing_manager"})
        cafe = inbox_messages(conn, people["cafe"], {"customer"}, 1, unread_only=True)
    assert sorted(m.subject for m in buyer) == ["read", "to buyer", "to buyers"]
    assert buyer_unread == 2
    assert [m.subject for m in cafe] == ["to cafe"]


def test_users_table_is_empty_but_well_formed_without_users(engine):
    with read_connection(engine) as conn:
        table = users_table(conn)
    assert table.empty and "roles" in table.columns
    with read_connection(engine) as conn:
        assert conn.execute(User.__table__.select()).first() is None
        assert conn.execute(UserRole.__table__.select()).first() is None


def test_customer_choices_search_code_or_name_in_any_case_and_keep_the_included(engine, people):
    from queries.users import customer_choices, customers_matching

    with engine.begin() as conn:
        conn.execute(
            insert(Customer),
            {"id": 3, "code": "C3", "name": "100% Bistro_Bar", "segment": "Café",
             "region": "North", "tier": "gold", "sales_rep_id": 1},
        )  # fmt: skip
    with read_connection(engine) as conn:
        assert customer_choices(conn) == [
            (1, "C1 · Cafe One"), (2, "C2 · Hotel Two"), (3, "C3 · 100% Bistro_Bar")
        ]  # fmt: skip
        assert customer_choices(conn, search=" hotel ") == [(2, "C2 · Hotel Two")]
        assert customer_choices(conn, search="c2") == [(2, "C2 · Hotel Two")]
        assert customer_choices(conn, limit=2) == [(1, "C1 · Cafe One"), (2, "C2 · Hotel Two")]
        # % and _ are characters to find, not wildcards.
        assert customer_choices(conn, search="0% b") == [(3, "C3 · 100% Bistro_Bar")]
        assert customer_choices(conn, search="o_b") == [(3, "C3 · 100% Bistro_Bar")]
        assert customer_choices(conn, search="e_o") == []
        # An included customer comes first, matching or not, and only once.
        assert customer_choices(conn, search="hotel", include=[3, 2]) == [
            (2, "C2 · Hotel Two"), (3, "C3 · 100% Bistro_Bar")
        ]  # fmt: skip
        assert customer_choices(conn, search="cafe", limit=1, include=[2]) == [
            (2, "C2 · Hotel Two"), (1, "C1 · Cafe One")
        ]  # fmt: skip
        assert [customers_matching(conn, s) for s in ("", "C", "bistro", "%", "zzz")] == [
            3, 3, 1, 1, 0
        ]  # fmt: skip
