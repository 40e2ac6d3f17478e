"""Users, roles, passwords and settings: the administrator's operations and their refusals."""

from __future__ import annotations

import bcrypt
import pytest
from sqlalchemy import select

from data.db import read_connection
from data.schema import AuditLog, User, UserRole
from data.settings import get_setting
from operations import (
    InvalidState,
    NotFound,
    ValidationError,
    create_user,
    hash_password,
    link_user,
    reset_password,
    set_setting,
    set_user_active,
    set_user_roles,
)
from tests import operations_world
from tests.operations_world import add_admin, assert_refused, fetch_rows

NOT_ADMIN = User.username != "admin"


@pytest.fixture
def world(engine):
    """The small world with an administrator called admin, who acts in these tests."""
    built = operations_world.build_world(engine)
    add_admin(engine)
    return built


@pytest.fixture
def sworld(sqlite_engine):
    built = operations_world.build_world(sqlite_engine)
    add_admin(sqlite_engine)
    return built


FAST = 4  # bcrypt cost for tests: the rules are the same, the hashing is quicker


def _user(engine, **changes):
    arguments = {
        "username": "Pam.Buyer",
        "name": "Pam Buyer",
        "email": "pam@example.com",
        "password": "correct horse",
        "roles": ["purchasing_manager"],
        "actor": "admin",
        "bcrypt_rounds": FAST,
    } | changes
    return create_user(engine, **arguments)


def test_create_user_stores_a_lowercase_name_a_bcrypt_hash_and_roles(engine, world):
    user_id = _user(engine, roles=["purchasing_manager", "owner"])
    username, password_hash, active = fetch_rows(
        engine, select(User.username, User.password_hash, User.active).where(NOT_ADMIN)
    )[0]
    assert (username, active) == ("pam.buyer", True)
    assert bcrypt.checkpw(b"correct horse", password_hash.encode())
    assert fetch_rows(
        engine, select(UserRole.role).where(UserRole.user_id == user_id).order_by(UserRole.role)
    ) == [("owner",), ("purchasing_manager",)]
    audit = fetch_rows(engine, select(AuditLog.action, AuditLog.entity_id, AuditLog.after))[0]
    assert audit[:2] == ("create_user", str(user_id))
    assert "correct horse" not in str(audit[2])


def test_a_customer_user_is_linked_to_the_customer(sqlite_engine, sworld):
    _user(sqlite_engine, username="gold", roles=["customer"], customer_id=sworld.customers["gold"])
    assert fetch_rows(sqlite_engine, select(User.customer_id).where(NOT_ADMIN)) == [
        (sworld.customers["gold"],)
    ]


def test_a_password_of_exactly_72_bytes_is_accepted():
    password = "é" * 36  # 72 bytes in UTF-8
    assert bcrypt.checkpw(password.encode(), hash_password(password, rounds=FAST).encode())


@pytest.mark.parametrize(
    ("changes", "error", "fragment"),
    [
        ({"password": "short1"}, ValidationError, "The password is too short: use at least 8"),
        ({"password": "é" * 37}, ValidationError, "at most 72 bytes in UTF-8 (this one has 74"),
        ({"password": None}, ValidationError, "The password must be text."),
        (
            {"roles": ["chef"]},
            ValidationError,
            "Unknown role 'chef': choose from warehouse_manager",
        ),
        ({"roles": []}, ValidationError, "Give the user at least one role."),
        ({"roles": ["customer"]}, ValidationError, "customer role must be linked to a customer"),
        ({"roles": ["sales_rep"]}, ValidationError, "must be linked to a sales representative"),
        ({"username": "Pam Buyer"}, ValidationError, "The username 'Pam Buyer' is not allowed"),
        ({"username": "x"}, ValidationError, "start with a letter"),
        ({"email": "pam-at-example"}, ValidationError, "'pam-at-example' is not an e-mail address"),
        ({"name": " "}, ValidationError, "The name is required."),
        (
            {"roles": ["customer"], "customer_id": 999},
            NotFound,
            "Customer 999 does not exist.",
        ),
    ],
)
def test_bad_users_are_refused(sqlite_engine, sworld, changes, error, fragment):
    assert_refused(sqlite_engine, lambda: _user(sqlite_engine, **changes), error, fragment)


def test_a_taken_username_is_refused(engine, world):
    _user(engine)
    assert_refused(
        engine,
        lambda: _user(engine, username="PAM.BUYER"),
        InvalidState,
        "The username 'pam.buyer' is taken: choose another.",
    )


def test_deactivating_a_user(sqlite_engine, sworld):
    user_id = _user(sqlite_engine)
    set_user_active(sqlite_engine, user_id=user_id, active=False, actor="admin")
    assert fetch_rows(sqlite_engine, select(User.active).where(NOT_ADMIN)) == [(False,)]


def test_an_admin_cannot_deactivate_themselves(sqlite_engine, sworld):
    user_id = _user(sqlite_engine, username="root", roles=["admin"])
    assert_refused(
        sqlite_engine,
        lambda: set_user_active(sqlite_engine, user_id=user_id, active=False, actor="root"),
        InvalidState,
        "You cannot deactivate your own account.",
    )


def test_set_user_roles_replaces_the_roles(engine, world):
    user_id = _user(engine)
    set_user_roles(engine, user_id=user_id, roles=["finance_manager", "owner"], actor="admin")
    assert fetch_rows(
        engine, select(UserRole.role).where(UserRole.user_id == user_id).order_by(UserRole.role)
    ) == [("finance_manager",), ("owner",)]
    assert fetch_rows(
        engine, select(AuditLog.before, AuditLog.after).where(AuditLog.action == "set_user_roles")
    ) == [({"roles": ["purchasing_manager"]}, {"roles": ["finance_manager", "owner"]})]


@pytest.mark.parametrize(
    ("roles", "actor", "error", "fragment"),
    [
        (["wizard"], "admin", ValidationError, "Unknown role 'wizard'"),
        (["customer"], "admin", ValidationError, "must be linked to a customer"),
        (["owner"], "root", InvalidState, "You cannot take the admin role from your own account."),
    ],
)
def test_bad_role_changes_are_refused(sqlite_engine, sworld, roles, actor, error, fragment):
    user_id = _user(sqlite_engine, username="root", roles=["admin"])
    assert_refused(
        sqlite_engine,
        lambda: set_user_roles(sqlite_engine, user_id=user_id, roles=roles, actor=actor),
        error,
        fragment,
    )


def test_link_user_to_a_sales_rep(sqlite_engine, sworld):
    user_id = _user(sqlite_engine, username="rita", roles=["warehouse_manager"])
    link_user(sqlite_engine, user_id=user_id, sales_rep_id=sworld.sales_rep, actor="admin")
    assert fetch_rows(sqlite_engine, select(User.sales_rep_id).where(NOT_ADMIN)) == [
        (sworld.sales_rep,)
    ]


def test_link_user_to_an_unknown_customer_is_refused(sqlite_engine, sworld):
    user_id = _user(sqlite_engine)
    assert_refused(
        sqlite_engine,
        lambda: link_user(sqlite_engine, user_id=user_id, customer_id=31, actor="admin"),
        NotFound,
        "Customer 31 does not exist.",
    )


def test_reset_password(engine, world):
    user_id = _user(engine)
    reset_password(
        engine, user_id=user_id, new_password="new secret", actor="admin", bcrypt_rounds=FAST
    )
    stored = fetch_rows(engine, select(User.password_hash).where(NOT_ADMIN))[0][0]
    assert bcrypt.checkpw(b"new secret", stored.encode())
    assert not bcrypt.checkpw(b"correct horse", stored.encode())


@pytest.mark.parametrize(
    ("user_id", "password", "error", "fragment"),
    [
        (None, "tiny", ValidationError, "The password is too short"),
        (None, "x" * 73, ValidationError, "The password is too long"),
        (404, "long enough", NotFound, "User 404 does not exist."),
    ],
)
def test_bad_password_resets_are_refused(sqlite_engine, sworld, user_id, password, error, fragment):
    own_id = _user(sqlite_engine)
    assert_refused(
        sqlite_engine,
        lambda: reset_password(
            sqlite_engine, user_id=user_id or own_id, new_password=password, actor="admin"
        ),
        error,
        fragment,
    )


# --- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "stored"),
    [
        ("weight_tier", 4, 4.0),
        ("service_level", 0.98, 0.98),
        ("pick_days", 2.0, 2),
        ("mail_enabled", True, True),
        ("mail_host", " smtp.example.com ", "smtp.example.com"),
    ],
)
def test_set_setting_stores_a_checked_value(sqlite_engine, sworld, key, value, stored):
    set_setting(sqlite_engine, key=key, value=value, actor="admin")
    with read_connection(sqlite_engine) as conn:
        assert get_setting(conn, key) == stored


def test_set_setting_is_audited_with_the_old_value(engine, world):
    set_setting(engine, key="weight_urgent", value=5, actor="admin")
    set_setting(engine, key="weight_urgent", value=6, actor="admin")
    assert fetch_rows(engine, select(AuditLog.before, AuditLog.after).order_by(AuditLog.id)) == [
        ({"value": 2.0}, {"value": 5.0}),
        ({"value": 5.0}, {"value": 6.0}),
    ]


@pytest.mark.parametrize(
    ("key", "value", "error", "fragment"),
    [
        ("service_level", 1.5, ValidationError, "service_level must be at most 0.999, not 1.5."),
        ("weight_tier", -1, ValidationError, "weight_tier must be at least 0, not -1.0."),
        ("pick_days", 1.5, ValidationError, "pick_days must be a whole number, not 1.5"),
        ("pick_days", "2", ValidationError, "pick_days must be a whole number, not '2'."),
        ("mail_enabled", "yes", ValidationError, "mail_enabled must be true or false"),
        ("weight_tier", True, ValidationError, "weight_tier must be a number, not True."),
        ("colour", "red", NotFound, "There is no setting called 'colour'."),
    ],
)
def test_bad_settings_are_refused(sqlite_engine, sworld, key, value, error, fragment):
    assert_refused(
        sqlite_engine,
        lambda: set_setting(sqlite_engine, key=key, value=value, actor="admin"),
        error,
        fragment,
    )


def test_numpy_numbers_from_widgets_are_accepted_as_settings(sqlite_engine, sworld):
    import numpy as np

    set_setting(sqlite_engine, key="pick_days", value=np.int64(3), actor="admin")
    set_setting(sqlite_engine, key="weight_slack", value=np.float64(0.75), actor="admin")
    with read_connection(sqlite_engine) as conn:
        assert (get_setting(conn, "pick_days"), get_setting(conn, "weight_slack")) == (3, 0.75)
