"""Offering a substitute for a backorder, swapping on acceptance, and the customer-desk writes."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from data.db import write_session
from data.schema import (
    AuditLog,
    Backorder,
    Communication,
    Customer,
    Notification,
    OrderLine,
    Product,
    SalesRep,
    Substitute,
)
from operations import (
    InvalidState,
    NotFound,
    ValidationError,
    cancel_line,
    mark_answered,
    place_order,
    record_communication,
    send_backorder_update,
    swap_to_substitute,
)
from tests import operations_world
from tests.invariants import assert_invariants
from tests.operations_world import assert_refused, fetch_rows, stock_of

world = operations_world.world


def _list_substitute(engine, world, original: str, substitute: str, allergens: str = "") -> None:
    with write_session(engine) as s:
        s.add(
            Substitute(
                product_id=world.products[original], substitute_id=world.products[substitute]
            )
        )
        s.execute(  # a listed substitute serves the same use (substitutes share a use)
            update(Product)
            .where(Product.id == world.products[substitute])
            .values(
                allergens=allergens,
                use=select(Product.use)
                .where(Product.id == world.products[original])
                .scalar_subquery(),
            )
        )


def _backorder(engine, world, sku: str = "BUTTER-10", qty: int = 8) -> tuple[int, int]:
    """An order of ``qty`` x ``sku`` for the gold customer; returns (order id, backorder id)."""
    placed = place_order(engine, customer_id=world.customers["gold"], lines=[(sku, qty)], actor="t")
    (backorder_id,) = fetch_rows(
        engine, select(Backorder.id).where(Backorder.order_line_id == placed.lines[0].line_id)
    )[0]
    return placed.order_id, backorder_id


def test_accepted_swap_reserves_the_substitute_and_releases_the_backorder(engine, world):
    _list_substitute(engine, world, "BUTTER-10", "OIL-5L")
    order_id, backorder_id = _backorder(engine, world)  # 3 reserved, 5 on backorder
    result = swap_to_substitute(
        engine,
        backorder_id=backorder_id,
        substitute_product_id=world.products["OIL-5L"],
        quantity=4,
        accepted=True,
        actor="rita",
    )
    assert (result.qty_reserved, result.qty_backordered) == (4, 0)
    assert stock_of(engine, world.products["OIL-5L"]) == (100, 4)
    lines = fetch_rows(
        engine,
        select(
            OrderLine.line_no,
            OrderLine.product_id,
            OrderLine.qty_ordered,
            OrderLine.qty_allocated,
            OrderLine.qty_backordered,
            OrderLine.qty_cancelled,
            OrderLine.substitute_for_id,
        )
        .where(OrderLine.order_id == order_id)
        .order_by(OrderLine.line_no),
    )
    butter, oil = world.products["BUTTER-10"], world.products["OIL-5L"]
    assert [tuple(r) for r in lines] == [
        (1, butter, 8, 3, 1, 4, None),
        (2, oil, 4, 4, 0, 0, butter),
    ]
    (bo,) = fetch_rows(
        engine,
        select(Backorder.qty_cancelled, Backorder.status).where(Backorder.id == backorder_id),
    )
    assert tuple(bo) == (4, "open")
    (audit,) = fetch_rows(
        engine, select(AuditLog.actor).where(AuditLog.action == "swap_to_substitute")
    )
    assert audit.actor == "rita"
    assert_invariants(engine)


def test_swap_beyond_free_stock_backorders_the_rest_and_closes_the_old_backorder(engine, world):
    _list_substitute(engine, world, "BUTTER-10", "FLOUR-25")
    _, backorder_id = _backorder(engine, world, qty=15)  # 12 on backorder, flour has 10 free
    result = swap_to_substitute(
        engine,
        backorder_id=backorder_id,
        substitute_product_id=world.products["FLOUR-25"],
        quantity=12,
        accepted=True,
        actor="rita",
    )
    assert (result.qty_reserved, result.qty_backordered) == (10, 2)
    assert result.expected_date is not None
    (old,) = fetch_rows(engine, select(Backorder.status).where(Backorder.id == backorder_id))
    assert old.status == "cancelled"
    (new,) = fetch_rows(
        engine,
        select(Backorder.qty, Backorder.status).where(
            Backorder.order_line_id == result.new_line_id
        ),
    )
    assert tuple(new) == (2, "open")
    assert_invariants(engine)


def test_declined_offer_is_recorded_and_changes_no_line(engine, world):
    _list_substitute(engine, world, "BUTTER-10", "OIL-5L")
    order_id, backorder_id = _backorder(engine, world)
    result = swap_to_substitute(
        engine,
        backorder_id=backorder_id,
        substitute_product_id=world.products["OIL-5L"],
        quantity=5,
        accepted=False,
        actor="rita",
    )
    assert not result.accepted and result.new_line_id is None
    assert len(fetch_rows(engine, select(OrderLine.id).where(OrderLine.order_id == order_id))) == 1
    (message,) = fetch_rows(engine, select(Communication.subject, Communication.order_id))
    assert message.subject == "Offered OIL-5L for 5 x BUTTER-10 (declined)"
    assert message.order_id == order_id
    assert stock_of(engine, world.products["OIL-5L"]) == (100, 0)


@pytest.mark.parametrize(
    "case",
    ["not_listed", "allergen", "too_many", "filled", "cancelled", "other_rep", "zero", "not_bool"],
)
def test_bad_swaps_are_refused_with_nothing_changed(engine, world, case):
    _list_substitute(
        engine, world, "BUTTER-10", "OIL-5L", allergens="sesame" if case == "allergen" else ""
    )
    order_id, backorder_id = _backorder(engine, world)
    kwargs = dict(
        backorder_id=backorder_id,
        substitute_product_id=world.products["OIL-5L"],
        quantity=5,
        accepted=True,
        actor="rita",
    )
    error, fragment = ValidationError, "not an allowed substitute"
    if case == "not_listed":
        kwargs["substitute_product_id"] = world.products["NAPKIN-500"]
    elif case == "too_many":
        kwargs["quantity"] = 6
        fragment = "Only 5 units of BUTTER-10"
    elif case == "filled":
        with write_session(engine) as s:
            s.execute(update(Backorder).values(status="filled"))
        error, fragment = InvalidState, "is filled"
    elif case == "cancelled":
        (line_id,) = fetch_rows(engine, select(Backorder.order_line_id))[0]
        cancel_line(engine, order_line_id=line_id, actor="t", reason="changed mind", qty=5)
        error, fragment = InvalidState, "is cancelled"
    elif case == "other_rep":
        with write_session(engine) as s:
            other = SalesRep(code="R2", name="Other", region="South")
            s.add(other)
            s.flush()
            other_id = other.id
        kwargs["sales_rep_id"] = other_id
        error, fragment = NotFound, "not a backorder of your customers"
    elif case == "zero":
        kwargs["quantity"] = 0
        fragment = "quantity"
    elif case == "not_bool":
        kwargs["accepted"] = "yes"
        fragment = "accepted"
    assert_refused(engine, lambda: swap_to_substitute(engine, **kwargs), error, fragment)


def test_backorder_update_is_recorded_and_queued_as_mail(engine, world):
    _backorder(engine, world)
    message_id, mail_id = send_backorder_update(
        engine, customer_id=world.customers["gold"], actor="rita", sales_rep_id=world.sales_rep
    )
    (mail,) = fetch_rows(
        engine,
        select(Notification.email_to, Notification.status, Notification.body).where(
            Notification.id == mail_id
        ),
    )
    assert mail.email_to == "gold@example.com" and mail.status == "pending"
    assert "BUTTER-10" in mail.body and "5 units" in mail.body
    (message,) = fetch_rows(
        engine,
        select(Communication.channel, Communication.body).where(Communication.id == message_id),
    )
    assert message.channel == "email" and message.body == mail.body


def test_backorder_update_refuses_nothing_to_say_no_mail_and_other_reps(engine, world):
    silver = world.customers["silver"]
    assert_refused(
        engine,
        lambda: send_backorder_update(engine, customer_id=silver, actor="r"),
        InvalidState,
        "no open backorders",
    )
    _backorder(engine, world)
    gold = world.customers["gold"]
    assert_refused(
        engine,
        lambda: send_backorder_update(
            engine, customer_id=gold, actor="r", sales_rep_id=world.sales_rep + 1
        ),
        NotFound,
        "not one of your customers",
    )
    with write_session(engine) as s:
        s.execute(update(Customer).where(Customer.id == gold).values(email=None))
    assert_refused(
        engine,
        lambda: send_backorder_update(engine, customer_id=gold, actor="r"),
        InvalidState,
        "no e-mail",
    )


def test_mark_answered_sets_the_answer_time_once_and_only_for_inbound(engine, world):
    asked = dt.datetime(2026, 3, 2, 9, 0)
    inbound = record_communication(
        engine, actor="sam", channel="phone", subject="Where is my flour?", customer_id=world.customers["gold"],
        direction="inbound", now=asked,
    )  # fmt: skip
    outbound = record_communication(
        engine, actor="sam", channel="phone", subject="Called back", customer_id=world.customers["gold"], now=asked,
    )  # fmt: skip
    assert_refused(
        engine,
        lambda: mark_answered(engine, communication_id=outbound, actor="sam"),
        InvalidState,
        "went out",
    )
    assert_refused(
        engine,
        lambda: mark_answered(
            engine, communication_id=inbound, actor="sam", now=asked - dt.timedelta(hours=1)
        ),
        ValidationError,
        "before the question",
    )
    mark_answered(engine, communication_id=inbound, actor="sam", now=asked + dt.timedelta(hours=3))
    (row,) = fetch_rows(
        engine, select(Communication.answered_at).where(Communication.id == inbound)
    )
    assert row.answered_at == asked + dt.timedelta(hours=3)
    assert_refused(
        engine,
        lambda: mark_answered(engine, communication_id=inbound, actor="sam"),
        InvalidState,
        "answered already",
    )
