"""Sane limits at the write side: quantities, integer ranges, typed settings, usernames, passwords
and who may administer."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from data.db import read_connection
from data.schema import OrderLine, Product
from data.settings import SETTINGS, get_setting
from operations import (
    InvalidState,
    NotFound,
    ValidationError,
    adjust_stock,
    cancel_order,
    create_user,
    place_order,
    record_feedback,
    reset_password,
    set_setting,
    set_thresholds,
    update_po_line,
)
from operations.errors import ConfirmationNeeded
from operations.validation import EARLIEST_DATE, excerpt, latest_date
from tests import operations_world
from tests.operations_world import add_admin, assert_refused, fetch_rows

world = operations_world.world
sworld = operations_world.sworld

FAST = 4


def _order(engine, world, qty, **extra):
    return place_order(
        engine,
        customer_id=world.customers["gold"],
        lines=[("OIL-5L", qty)],
        actor="ann",
        **extra,
    )


# --- quantities ----------------------------------------------------------------------------


def test_four_billion_units_are_refused_on_both_databases(engine, world):
    assert_refused(engine, lambda: _order(engine, world, 4_000_000_000), ValidationError, "at most")
    assert_refused(engine, lambda: _order(engine, world, 4e9), ValidationError, "at most")


def test_a_line_above_the_ceiling_is_refused_even_when_confirmed(sqlite_engine, sworld):
    assert_refused(
        sqlite_engine,
        lambda: _order(sqlite_engine, sworld, 100_001, confirm_large=True),
        ValidationError,
        "at most 100,000 of OIL-5L are accepted (the setting max_line_units)",
    )


def test_an_unusually_large_line_needs_confirming(sqlite_engine, sworld):
    # OIL-5L: order-up-to 40, so above 10 x 40 = 400 is unusual
    message = assert_refused(
        sqlite_engine,
        lambda: _order(sqlite_engine, sworld, 401),
        ConfirmationNeeded,
        "The quantity of OIL-5L is 401, more than 10 times the usual size of OIL-5L (40 units)",
    )
    assert "confirm the large quantity" in message
    placed = _order(sqlite_engine, sworld, 401, confirm_large=True)
    assert placed.lines[0].qty_ordered == 401


def test_the_usual_size_grows_with_the_largest_line_ordered(sqlite_engine, sworld):
    _order(sqlite_engine, sworld, 1_000, confirm_large=True)
    # 10 x the largest line so far (1,000): no confirmation needed up to 10,000
    assert _order(sqlite_engine, sworld, 9_000).lines[0].qty_ordered == 9_000
    with pytest.raises(ConfirmationNeeded):  # now 10 x 9,000 is the bound
        _order(sqlite_engine, sworld, 90_001)


def test_the_ceiling_and_factor_are_settings(sqlite_engine, sworld):
    add_admin(sqlite_engine)
    set_setting(sqlite_engine, key="max_line_units", value=50, actor="admin")
    assert_refused(
        sqlite_engine, lambda: _order(sqlite_engine, sworld, 51), ValidationError, "at most 50"
    )
    set_setting(sqlite_engine, key="max_line_units", value=100_000, actor="admin")
    set_setting(sqlite_engine, key="unusual_size_factor", value=2, actor="admin")
    with pytest.raises(ConfirmationNeeded):
        _order(sqlite_engine, sworld, 81)


def test_thresholds_of_a_billion_are_refused_and_large_ones_need_confirming(sqlite_engine, sworld):
    flour = sworld.products["FLOUR-25"]

    def save(out, **extra):
        return set_thresholds(
            sqlite_engine,
            product_id=flour,
            reorder_point=20,
            safety_stock=5,
            order_up_to=out,
            actor="manager",
            **extra,
        )

    assert_refused(
        sqlite_engine, lambda: save(10**9, confirm_large=True), ValidationError, "at most"
    )
    assert_refused(sqlite_engine, lambda: save(601), ConfirmationNeeded, "order-up-to level")
    save(601, confirm_large=True)
    assert fetch_rows(sqlite_engine, select(Product.order_up_to).where(Product.id == flour)) == [
        (601,)
    ]


def test_stock_counts_and_po_lines_respect_the_ceiling(sqlite_engine, sworld):
    assert_refused(
        sqlite_engine,
        lambda: adjust_stock(
            sqlite_engine,
            product_id=sworld.products["OIL-5L"],
            counted_on_hand=100_001,
            reason="count",
            actor="ann",
        ),
        ValidationError,
        "at most 100,000",
    )
    assert_refused(
        sqlite_engine,
        lambda: update_po_line(sqlite_engine, po_line_id=1, qty=10**9, actor="bob"),
        ValidationError,
        "at most",
    )


# --- integers that do not fit a column, dates out of range ---------------------------------


@pytest.mark.parametrize("huge", [10**18, 2**63, 2**31])
def test_ids_beyond_any_column_are_not_found_not_a_driver_error(engine, world, huge):
    assert_refused(
        engine,
        lambda: cancel_order(engine, order_id=huge, actor="ann", reason="x"),
        NotFound,
        "does not exist",
    )


@pytest.mark.parametrize("day", [dt.date(1900, 1, 1), dt.date(9999, 12, 31)])
def test_dates_outside_the_window_are_refused(engine, world, day):
    message = assert_refused(
        engine,
        lambda: record_feedback(
            engine,
            customer_id=world.customers["gold"],
            actor="ann",
            csat=4,
            now=dt.datetime.combine(day, dt.time()),
        ),
        ValidationError,
        "out of range",
    )
    assert EARLIEST_DATE.isoformat() in message and latest_date().isoformat() in message


@pytest.mark.parametrize("text", ["flour\x00", "\x00", "two\nlines"])
def test_control_characters_in_text_are_refused(engine, world, text):
    assert_refused(
        engine,
        lambda: cancel_order(engine, order_id=1, actor="ann", reason=text),
        ValidationError,
        "control character",
    )


def test_a_message_body_may_hold_line_breaks_but_not_nul(sqlite_engine, sworld):
    gold = sworld.customers["gold"]
    record_feedback(sqlite_engine, customer_id=gold, actor="ann", comment="Line one\nline two")
    assert_refused(
        sqlite_engine,
        lambda: record_feedback(sqlite_engine, customer_id=gold, actor="ann", comment="a\x00b"),
        ValidationError,
        "control character",
    )


# --- silent rounding -----------------------------------------------------------------------


@pytest.mark.parametrize(("field", "value"), [("csat", 1.5), ("nps", 1.5)])
def test_fractional_scores_are_refused_not_rounded(sqlite_engine, sworld, field, value):
    assert_refused(
        sqlite_engine,
        lambda: record_feedback(
            sqlite_engine, customer_id=sworld.customers["gold"], actor="ann", **{field: value}
        ),
        ValidationError,
        "whole number, not 1.5",
    )


def test_fractional_safety_stock_is_refused_not_rounded(sqlite_engine, sworld):
    assert_refused(
        sqlite_engine,
        lambda: set_thresholds(
            sqlite_engine,
            product_id=sworld.products["FLOUR-25"],
            reorder_point=20,
            safety_stock=1.5,
            order_up_to=60,
            actor="manager",
        ),
        ValidationError,
        "The safety stock must be a whole number, not 1.5",
    )


# --- settings declare their kind -----------------------------------------------------------


def test_every_setting_declares_a_known_kind():
    from data.settings import SETTING_KINDS

    assert {spec.kind for spec in SETTINGS.values()} <= set(SETTING_KINDS)
    assert SETTINGS["mail_from"].kind == "email"
    assert SETTINGS["mail_host"].kind == "host"
    assert SETTINGS["mail_port"].kind == "port"


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("low_stock_ratio", 0, "low_stock_ratio must be at least 0.1"),
        ("mail_from", "0", "is not an e-mail address"),
        ("mail_from", "<script>alert(1)</script>", "is not an e-mail address"),
        ("mail_host", "' OR 1=1 --", "is not a host name or IP address"),
        ("mail_host", "<script>", "is not a host name or IP address"),
        ("mail_port", 70_000, "mail_port must be at most 65535"),
        ("mail_port", 25.5, "whole number"),
        ("refresh_seconds", float("nan"), "whole number"),
        ("service_level", float("inf"), "must be a number"),
    ],
)
def test_settings_are_validated_by_their_kind(sqlite_engine, sworld, key, value, fragment):
    add_admin(sqlite_engine)
    assert_refused(
        sqlite_engine,
        lambda: set_setting(sqlite_engine, key=key, value=value, actor="admin"),
        ValidationError,
        fragment,
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("mail_from", "orders@larder.example"),
        ("mail_host", "smtp.example.com"),
        ("mail_host", "::1"),
    ],
)
def test_sensible_mail_settings_are_accepted(sqlite_engine, sworld, key, value):
    add_admin(sqlite_engine)
    set_setting(sqlite_engine, key=key, value=value, actor="admin")
    with read_connection(sqlite_engine) as conn:
        assert get_setting(conn, key) == value


# --- usernames, excerpts, passwords --------------------------------------------------------


def _create(engine, **changes):
    arguments = {
        "username": "pam",
        "name": "Pam",
        "email": "pam@example.com",
        "password": "good password",
        "roles": ["finance_manager"],
        "actor": "admin",
        "bcrypt_rounds": FAST,
    } | changes
    return create_user(engine, **arguments)


@pytest.mark.parametrize("username", ["-1", "1.5", "1000000000", "_pam", ".pam"])
def test_a_username_starts_with_a_letter(sqlite_engine, sworld, username):
    add_admin(sqlite_engine)
    assert_refused(
        sqlite_engine,
        lambda: _create(sqlite_engine, username=username),
        ValidationError,
        "start with a letter",
    )


def test_a_long_username_is_quoted_only_in_part(sqlite_engine, sworld):
    add_admin(sqlite_engine)
    message = assert_refused(
        sqlite_engine, lambda: _create(sqlite_engine, username="q" * 5000), ValidationError
    )
    assert len(message) < 200 and "q" * 50 not in message


def test_excerpt_keeps_short_values_whole_and_cuts_long_ones():
    assert excerpt("abc") == "'abc'"
    assert excerpt("x" * 100, 10) == "'xxxxxxxx…"
    assert len(excerpt(10**100)) == 40


@pytest.mark.parametrize("password", ["  padded-pass-9  ", " leading-space", "trailing-space "])
def test_a_password_with_outer_spaces_is_refused_everywhere(sqlite_engine, sworld, password):
    add_admin(sqlite_engine)
    user_id = _create(sqlite_engine)
    for call in (
        lambda: _create(sqlite_engine, username="other", password=password),
        lambda: reset_password(
            sqlite_engine, user_id=user_id, new_password=password, actor="admin", bcrypt_rounds=FAST
        ),
        lambda: reset_password(  # the user changing their own
            sqlite_engine, user_id=user_id, new_password=password, actor="pam", bcrypt_rounds=FAST
        ),
    ):
        assert_refused(sqlite_engine, call, ValidationError, "cannot start or end with a space")


# --- only administrators administer --------------------------------------------------------


def test_the_owner_cannot_create_an_administrator(engine, world):
    add_admin(engine, "olivia", roles=("owner",))
    assert_refused(
        engine,
        lambda: _create(engine, username="mallory", roles=["admin"], actor="olivia"),
        InvalidState,
        "Only an administrator can change users and settings",
    )


def test_the_owner_cannot_change_settings(sqlite_engine, sworld):
    add_admin(sqlite_engine, "olivia", roles=("owner",))
    assert_refused(
        sqlite_engine,
        lambda: set_setting(sqlite_engine, key="pick_days", value=2, actor="olivia"),
        InvalidState,
        "Only an administrator",
    )


def test_a_disabled_administrator_cannot_administer(sqlite_engine, sworld):
    add_admin(sqlite_engine)
    admin_id = add_admin(sqlite_engine, "ada")
    from operations import set_user_active

    set_user_active(sqlite_engine, user_id=admin_id, active=False, actor="admin")
    with pytest.raises(InvalidState):
        set_setting(sqlite_engine, key="pick_days", value=2, actor="ada")


def test_a_user_may_change_their_own_password_but_not_anothers(sqlite_engine, sworld):
    add_admin(sqlite_engine)
    pam = _create(sqlite_engine)
    other = _create(sqlite_engine, username="otto", email="otto@example.com")
    reset_password(
        sqlite_engine, user_id=pam, new_password="pams new one", actor="pam", bcrypt_rounds=FAST
    )
    assert_refused(
        sqlite_engine,
        lambda: reset_password(
            sqlite_engine, user_id=other, new_password="not yours!", actor="pam", bcrypt_rounds=FAST
        ),
        InvalidState,
        "Only an administrator",
    )


def test_refusals_write_no_order_lines(sqlite_engine, sworld):
    with pytest.raises(ValidationError):
        _order(sqlite_engine, sworld, 2**63)
    assert fetch_rows(sqlite_engine, select(OrderLine.id)) == []
