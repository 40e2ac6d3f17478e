"""The write side books backorder costs when they arise (both databases)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from data.db import write_session
from data.schema import AuditLog, Backorder, BackorderCost, PickTask, Setting
from operations import (
    NotFound,
    ValidationError,
    confirm_pack,
    confirm_pick,
    place_order,
    receive_po,
    record_backorder_cost,
    ship_order,
)
from tests import operations_world
from tests.operations_world import assert_refused, fetch_rows
from tests.test_invariants_property import _sent_po

world = operations_world.world


def _costs(engine) -> list[tuple[int, str, Decimal]]:
    return [
        (r.backorder_id, r.kind, Decimal(str(r.amount)))
        for r in fetch_rows(
            engine,
            select(BackorderCost.backorder_id, BackorderCost.kind, BackorderCost.amount).order_by(
                BackorderCost.id
            ),
        )
    ]


def _backorder_of(engine, line_id: int) -> int:
    return fetch_rows(engine, select(Backorder.id).where(Backorder.order_line_id == line_id))[0][0]


def test_a_new_backorder_books_handling_at_the_setting(engine, world):
    with write_session(engine) as s:
        s.add(Setting(key="backorder_handling_cost", value={"v": 3.75}))
    order = place_order(
        engine,
        customer_id=world.customers["gold"],
        lines=[("BUTTER-10", 5), ("OIL-5L", 2)],
        actor="t",
    )
    butter = _backorder_of(engine, order.lines[0].line_id)
    assert _costs(engine) == [(butter, "handling", Decimal("3.75"))]


def test_a_short_pick_that_creates_a_backorder_books_handling(engine, world):
    order = place_order(
        engine, customer_id=world.customers["gold"], lines=[("OIL-5L", 6)], actor="t"
    )
    ((task_id,),) = fetch_rows(engine, select(PickTask.id))
    assert _costs(engine) == []
    confirm_pick(engine, task_id=task_id, qty_picked=4, actor="op")
    backorder = _backorder_of(engine, order.lines[0].line_id)
    assert _costs(engine) == [(backorder, "handling", Decimal("2.50"))]


def test_the_second_delivery_of_a_backordered_order_books_split_freight(engine, world):
    order = place_order(
        engine, customer_id=world.customers["gold"], lines=[("BUTTER-10", 5)], actor="t"
    )
    backorder = _backorder_of(engine, order.lines[0].line_id)

    def ship_open_tasks():
        tasks = fetch_rows(
            engine, select(PickTask.id, PickTask.qty).where(PickTask.status == "open")
        )
        for task in tasks:
            confirm_pick(engine, task_id=task.id, qty_picked=task.qty, actor="op")
            confirm_pack(engine, task_id=task.id, actor="op")
        ship_order(engine, order_id=order.order_id, carrier_id=world.carrier, actor="op")

    ship_open_tasks()  # the 3 in stock: the first delivery costs nothing extra
    assert [k for _, k, _ in _costs(engine)] == ["handling"]
    po_id = _sent_po(engine, world, "BUTTER-10", 2)
    receive_po(engine, po_id=po_id, actor="t")
    ship_open_tasks()  # the 2 that arrived: a second delivery
    assert _costs(engine)[1:] == [(backorder, "split_freight", Decimal("9.00"))]


def test_expediting_and_credits_are_booked_by_hand_and_audited(engine, world):
    order = place_order(
        engine, customer_id=world.customers["gold"], lines=[("BUTTER-10", 5)], actor="t"
    )
    backorder = _backorder_of(engine, order.lines[0].line_id)
    record_backorder_cost(
        engine, backorder_id=backorder, kind="expedite", amount="40.5", actor="fin", note="rush"
    )
    record_backorder_cost(engine, backorder_id=backorder, kind="credit", amount=12, actor="fin")
    assert _costs(engine)[1:] == [
        (backorder, "expedite", Decimal("40.50")),
        (backorder, "credit", Decimal("12.00")),
    ]
    audits = fetch_rows(
        engine, select(AuditLog.actor).where(AuditLog.action == "record_backorder_cost")
    )
    assert [a.actor for a in audits] == ["fin", "fin"]


@pytest.mark.parametrize(
    ("kind", "amount", "error", "fragment"),
    [
        ("handling", 5, ValidationError, "Cost kind"),
        ("credit", 0, ValidationError, "more than zero"),
        ("credit", "lots", ValidationError, "number of euros"),
        ("credit", 10**7, ValidationError, "at most"),
    ],
)
def test_bad_manual_costs_are_refused_and_change_nothing(
    engine, world, kind, amount, error, fragment
):
    order = place_order(
        engine, customer_id=world.customers["gold"], lines=[("BUTTER-10", 5)], actor="t"
    )
    backorder = _backorder_of(engine, order.lines[0].line_id)
    assert_refused(
        engine,
        lambda: record_backorder_cost(
            engine, backorder_id=backorder, kind=kind, amount=amount, actor="fin"
        ),
        error,
        fragment,
    )


def test_a_cost_for_an_unknown_backorder_is_refused(engine, world):
    assert_refused(
        engine,
        lambda: record_backorder_cost(
            engine, backorder_id=999, kind="credit", amount=5, actor="fin"
        ),
        NotFound,
        "does not exist",
    )
