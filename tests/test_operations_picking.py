"""Scanner checks on picks and packs, and who hears of a short pick."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from data.schema import Backorder, Notification, PickTask
from operations import (
    InvalidState,
    ValidationError,
    check_scan,
    confirm_pack,
    confirm_pick,
    create_user,
    place_order,
    report_short_pick,
)
from tests import operations_world
from tests.invariants import assert_invariants
from tests.operations_world import assert_refused, fetch_rows, stock_of

world = operations_world.world
sworld = operations_world.sworld

NOW = dt.datetime(2026, 3, 10, 9, 30)


def _task(engine, world, sku="OIL-5L", qty=4, tier="gold", **kwargs) -> int:
    place_order(
        engine,
        customer_id=world.customers[tier],
        lines=[(sku, qty)],
        actor="ann",
        now=NOW,
        **kwargs,
    )
    return fetch_rows(engine, select(PickTask.id).order_by(PickTask.id.desc()))[0][0]


def _status(engine, task_id):
    return fetch_rows(
        engine, select(PickTask.status, PickTask.qty_picked).where(PickTask.id == task_id)
    )[0]


def test_a_scan_of_the_right_bin_and_sku_confirms_the_pick(engine, world):
    task_id = _task(engine, world)  # OIL-5L lives in bin A-04
    confirm_pick(
        engine, task_id=task_id, qty_picked=4, actor="otto", bin_code=" a-04 ", sku="oil-5l\n"
    )
    assert _status(engine, task_id) == ("picked", 4)


def test_a_scan_of_the_wrong_bin_is_refused_and_nothing_changes(engine, world):
    task_id = _task(engine, world)
    assert_refused(
        engine,
        lambda: confirm_pick(
            engine, task_id=task_id, qty_picked=4, actor="otto", bin_code="A-02", sku="OIL-5L"
        ),
        ValidationError,
        "Wrong bin: you scanned A-02",
        "is in bin A-04",
        "Nothing was picked",
    )


def test_a_scan_of_the_wrong_sku_is_refused_and_nothing_changes(engine, world):
    task_id = _task(engine, world)
    assert_refused(
        engine,
        lambda: confirm_pick(
            engine, task_id=task_id, qty_picked=4, actor="otto", bin_code="A-04", sku="FLOUR-25"
        ),
        ValidationError,
        "Wrong product: you scanned FLOUR-25",
        "asks for OIL-5L",
    )


@pytest.mark.parametrize("scan", ["", "   ", "X" * 41])
def test_an_empty_or_overlong_scan_is_refused(sqlite_engine, sworld, scan):
    task_id = _task(sqlite_engine, sworld)
    assert_refused(
        sqlite_engine,
        lambda: confirm_pick(
            sqlite_engine, task_id=task_id, qty_picked=4, actor="otto", bin_code=scan, sku="OIL-5L"
        ),
        ValidationError,
        "The bin code",
    )


def test_packing_checks_the_scanned_sku(engine, world):
    task_id = _task(engine, world)
    confirm_pick(engine, task_id=task_id, qty_picked=4, actor="otto")
    assert_refused(
        engine,
        lambda: confirm_pack(engine, task_id=task_id, actor="otto", sku="BUTTER-10"),
        ValidationError,
        "Wrong product: you scanned BUTTER-10",
    )
    confirm_pack(engine, task_id=task_id, actor="otto", sku="OIL-5L")
    assert _status(engine, task_id) == ("packed", 4)


def test_packing_an_open_task_is_refused_even_with_the_right_sku(sqlite_engine, sworld):
    task_id = _task(sqlite_engine, sworld)
    assert_refused(
        sqlite_engine,
        lambda: confirm_pack(sqlite_engine, task_id=task_id, actor="otto", sku="OIL-5L"),
        InvalidState,
        "only picked goods can be packed",
    )


def test_a_short_pick_at_the_wrong_bin_is_refused(sqlite_engine, sworld):
    task_id = _task(sqlite_engine, sworld, sku="BUTTER-10", qty=3)
    assert_refused(
        sqlite_engine,
        lambda: report_short_pick(
            sqlite_engine, task_id=task_id, qty_found=1, actor="otto", bin_code="A-01"
        ),
        ValidationError,
        "Wrong bin",
    )


@pytest.mark.parametrize(
    ("found", "fragment"),
    [
        (-1, "The quantity found must be at least 0, not -1."),
        (3, "finding 3 is not short"),
        (5, "finding 5 is not short"),
        (1.5, "whole number, not 1.5"),
    ],
)
def test_bad_short_pick_quantities_are_refused(engine, world, found, fragment):
    task_id = _task(engine, world, sku="BUTTER-10", qty=3)
    assert_refused(
        engine,
        lambda: report_short_pick(engine, task_id=task_id, qty_found=found, actor="otto"),
        ValidationError,
        fragment,
    )


def _people(engine, world):
    """A user for the gold customer, one for their sales rep, one for another customer."""
    ids = {"admin": operations_world.add_admin(engine)}
    for username, kwargs in {
        "goldie": {"roles": ["customer"], "customer_id": world.customers["gold"]},
        "rita": {"roles": ["sales_rep"], "sales_rep_id": world.sales_rep},
        "bronzie": {"roles": ["customer"], "customer_id": world.customers["bronze"]},
    }.items():
        ids[username] = create_user(
            engine,
            username=username,
            name=username.title(),
            email=f"{username}@example.com",
            password="a long enough password",
            actor="admin",
            bcrypt_rounds=4,
            **kwargs,
        )
    return ids


def test_a_short_pick_tells_the_customer_and_their_rep_the_new_date(engine, world):
    people = _people(engine, world)
    task_id = _task(engine, world, sku="BUTTER-10", qty=3)
    report_short_pick(engine, task_id=task_id, qty_found=1, actor="otto", bin_code="A-02")
    assert stock_of(engine, world.products["BUTTER-10"]) == (1, 1)
    (estimated,) = fetch_rows(engine, select(Backorder.estimated_date))[0]
    assert estimated is not None
    sent = fetch_rows(
        engine,
        select(
            Notification.user_id,
            Notification.role,
            Notification.customer_id,
            Notification.kind,
            Notification.body,
        ).order_by(Notification.id),
    )
    by_role = {(r.role, r.kind) for r in sent if r.user_id is None}
    assert ("warehouse_manager", "short_pick") in by_role
    assert ("customer", "backorder_created") in by_role
    rep_rows = [r for r in sent if r.user_id is not None]
    assert {r.user_id for r in rep_rows} == {people["rita"]}
    assert {r.kind for r in rep_rows} == {"backorder_created"}
    customer_row = next(r for r in sent if r.role == "customer")
    assert "BUTTER-10" in customer_row.body
    assert_invariants(engine)


def test_check_scan_answers_the_first_scan_without_writing(engine, world):
    task_id = _task(engine, world)
    check_scan(engine, task_id=task_id, bin_code="a-04")  # right: no error
    assert_refused(
        engine,
        lambda: check_scan(engine, task_id=task_id, bin_code="A-03"),
        ValidationError,
        "Wrong bin: you scanned A-03",
    )
    assert_refused(
        engine,
        lambda: check_scan(engine, task_id=task_id, bin_code="A-04", sku="NAPKIN-500"),
        ValidationError,
        "Wrong product",
    )
    confirm_pick(engine, task_id=task_id, qty_picked=4, actor="otto")
    assert_refused(
        engine,
        lambda: check_scan(engine, task_id=task_id, bin_code="A-04"),
        InvalidState,
        "is picked, not open",
    )
