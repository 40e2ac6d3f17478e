"""Each notification rule: its event, made through the write side, tells exactly its audience
once per subject per window, again after the window, and nothing when switched off."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from data.db import read_connection, write_session
from data.notices import RULES
from data.schema import (
    Notification,
    OutboxMessage,
    PickTask,
    PurchaseOrder,
    PurchaseOrderLine,
    SalesRep,
    User,
    UserRole,
)
from data.settings import SETTINGS
from operations import (
    NotFound,
    adjust_stock,
    confirm_pack,
    confirm_pick,
    mark_read,
    place_order,
    record_feedback,
    report_short_pick,
    set_po_expected_date,
    ship_order,
)
from operations.admin import set_setting
from operations.alerts import check_overdue_and_late
from operations.notification_rules import customer_audience, read_rep_users
from operations.outbox import set_mail_opt_out
from operations.reference import reference
from operations.warehouse import report_delivery_failed
from queries.notifications import inbox_messages
from tests import operations_world
from tests.operations_world import fetch_rows

world = operations_world.world

NOW = dt.datetime(2026, 3, 10, 9, 30)
SOON = NOW + dt.timedelta(hours=2)  # inside the default 24-hour window
LATER = NOW + dt.timedelta(hours=25)  # after it


@pytest.fixture
def people(engine, world) -> dict[str, int]:
    """Users: the rep of every world customer, a user of the gold and of the silver customer,
    a warehouse manager."""

    def user(username, role, **links):
        with write_session(engine) as session:
            row = User(
                username=username,
                name=username.title(),
                email=f"{username}@example.com",
                password_hash="x",
                **links,
            )
            session.add(row)
            session.flush()
            session.add(UserRole(user_id=row.id, role=role))
            return row.id

    return {
        "rep": user("rita", "sales_rep", sales_rep_id=world.sales_rep),
        "gold": user("goldie", "customer", customer_id=world.customers["gold"]),
        "silver": user("silvia", "customer", customer_id=world.customers["silver"]),
        "manager": user("mona", "warehouse_manager"),
    }


def _told(engine, kind):
    """(role, user_id, customer_id, email_to) of every notice of a kind, in order."""
    return fetch_rows(
        engine,
        select(
            Notification.role, Notification.user_id, Notification.customer_id, Notification.email_to
        )
        .where(Notification.kind == kind)
        .order_by(Notification.id),
    )


def _as_admin(engine, key, value):
    """Change a setting as an administrator (only administrators may)."""
    operations_world.add_admin(engine, username="rule_admin")
    set_setting(engine, key=key, value=value, actor="rule_admin")


def _switch_off(engine, kind):
    _as_admin(engine, RULES[kind].setting, False)


def _inbox(engine, user_id, roles, customer_id=None):
    with read_connection(engine) as conn:
        return inbox_messages(conn, user_id, roles, customer_id)


def _po(engine, world, sku, qty, expected, status="sent"):
    with write_session(engine) as session:
        po = PurchaseOrder(
            number=f"PO-{sku}"[:20],
            supplier_id=world.suppliers["MILL"],
            warehouse_id=world.warehouse,
            status=status,
            expected_date=expected,
            original_expected_date=expected,
            sent_at=NOW - dt.timedelta(days=7),
        )
        session.add(po)
        session.flush()
        session.add(
            PurchaseOrderLine(
                po_id=po.id,
                product_id=world.products[sku],
                qty_ordered=qty,
                qty_received=0,
                unit_cost=Decimal("1.00"),
            )
        )
        return po.id


def test_every_rule_has_a_switch_declared_in_settings():
    for rule in RULES.values():
        spec = SETTINGS[rule.setting]
        assert spec.default is True and spec.help
    assert SETTINGS["notice_repeat_hours"].default == 24


# --- low stock -----------------------------------------------------------------------------


def _take_oil(engine, world, qty, now):
    place_order(
        engine, customer_id=world.customers["gold"], lines=[("OIL-5L", qty)], actor="a", now=now
    )


def test_low_stock_tells_purchasing_and_the_warehouse_manager_once_per_window(
    engine, world, people
):
    # OIL-5L: 100 free, reorder point 10: taking 91 leaves 9.
    _take_oil(engine, world, 91, NOW)
    assert _told(engine, "low_stock") == [
        ("purchasing_manager", None, None, None),
        ("warehouse_manager", None, None, None),
    ]
    manager_inbox = _inbox(engine, people["manager"], ["warehouse_manager"])
    assert [m.subject for m in manager_inbox] == ["OIL-5L is low: 9 available, reorder point 10"]
    # A count brings it back above its low level; the next order takes it low again.
    adjust_stock(
        engine,
        product_id=world.products["OIL-5L"],
        counted_on_hand=150,
        reason="count",
        actor="mona",
        now=SOON,
    )
    _take_oil(engine, world, 50, SOON)
    assert len(_told(engine, "low_stock")) == 2, "low again within the window: no new notice"
    adjust_stock(
        engine,
        product_id=world.products["OIL-5L"],
        counted_on_hand=200,
        reason="count",
        actor="mona",
        now=LATER,
    )
    _take_oil(engine, world, 50, LATER)
    assert len(_told(engine, "low_stock")) == 4, "after the window it is news again"


def test_staying_low_does_not_notify_every_order(engine, world):
    _take_oil(engine, world, 91, NOW)
    _take_oil(engine, world, 1, SOON)
    _take_oil(engine, world, 1, LATER)
    assert len(_told(engine, "low_stock")) == 2


def test_a_count_that_takes_stock_low_tells_too(engine, world):
    adjust_stock(
        engine,
        product_id=world.products["OIL-5L"],
        counted_on_hand=8,
        reason="broken",
        actor="mona",
        now=NOW,
    )
    assert [role for role, *_ in _told(engine, "low_stock")] == [
        "purchasing_manager",
        "warehouse_manager",
    ]


def test_low_stock_switched_off_tells_nobody(engine, world):
    _switch_off(engine, "low_stock")
    _take_oil(engine, world, 91, NOW)
    assert _told(engine, "low_stock") == []


# --- backorder created ---------------------------------------------------------------------


def test_a_backorder_tells_the_customer_with_the_expected_date_and_their_rep(engine, world, people):
    gold = world.customers["gold"]
    placed = place_order(
        engine, customer_id=gold, lines=[("NAPKIN-500", 4)], actor="goldie", now=NOW
    )
    expected = placed.lines[0].expected_date
    assert expected is not None
    assert _told(engine, "backorder_created") == [
        ("customer", None, gold, "gold@example.com"),
        (None, people["rep"], gold, "rita@example.com"),
    ]
    mine = _inbox(engine, people["gold"], ["customer"], gold)
    assert [m.subject for m in mine] == [
        f"{placed.number}: 4 units on backorder, expected by {expected.day} {expected:%b %Y}"
    ]
    assert "NAPKIN-500: 4 on backorder" in mine[0].body
    assert len(_inbox(engine, people["rep"], ["sales_rep"])) == 1
    # Another customer's user and staff without the rule's roles see nothing of it.
    assert _inbox(engine, people["silver"], ["customer"], world.customers["silver"]) == []
    assert _inbox(engine, people["manager"], ["warehouse_manager"]) == []


def test_a_backorder_notice_mails_through_the_outbox_unless_the_customer_opted_out(
    engine, world, people
):
    gold, silver = world.customers["gold"], world.customers["silver"]
    set_mail_opt_out(engine, customer_id=silver, opt_out=True, actor="cs")
    place_order(engine, customer_id=gold, lines=[("NAPKIN-500", 4)], actor="goldie", now=NOW)
    place_order(engine, customer_id=silver, lines=[("NAPKIN-500", 2)], actor="silvia", now=NOW)
    notices = fetch_rows(
        engine,
        select(
            Notification.id, Notification.customer_id, Notification.email_to, Notification.status
        )
        .where(Notification.kind == "backorder_created")
        .order_by(Notification.id),
    )
    assert [row[1:] for row in notices] == [
        (gold, "gold@example.com", "pending"),
        (gold, "rita@example.com", "pending"),
        # Opted out: no mail about this customer (the notices stay in the app).
        (silver, "silver@example.com", "in_app"),
        (silver, "rita@example.com", "in_app"),
    ]
    mails = fetch_rows(
        engine,
        select(
            OutboxMessage.ref_type,
            OutboxMessage.ref_id,
            OutboxMessage.recipients,
            OutboxMessage.status,
        ).order_by(OutboxMessage.id),
    )
    by_notice = {notice_id: email for notice_id, _, email, status in notices if status == "pending"}
    assert [(ref_type, ref_id, to, status) for ref_type, ref_id, to, status in mails] == [
        ("notification", notice_id, email, "queued") for notice_id, email in by_notice.items()
    ]


def test_another_customer_cannot_mark_the_notice_read(engine, world, people):
    place_order(
        engine, customer_id=world.customers["gold"], lines=[("NAPKIN-500", 4)], actor="a", now=NOW
    )
    (notice_id,) = fetch_rows(
        engine, select(Notification.id).where(Notification.role == "customer")
    )[0]
    with pytest.raises(NotFound):
        mark_read(engine, notification_ids=[notice_id], user_id=people["silver"])
    assert mark_read(engine, notification_ids=[notice_id], user_id=people["gold"]) == 1


def test_an_order_served_in_full_tells_the_customer_nothing(engine, world):
    place_order(
        engine, customer_id=world.customers["gold"], lines=[("OIL-5L", 2)], actor="a", now=NOW
    )
    assert _told(engine, "backorder_created") == []


def test_short_picks_on_one_order_tell_the_customer_once_per_window(engine, world):
    placed = place_order(
        engine,
        customer_id=world.customers["gold"],
        lines=[("OIL-5L", 4), ("BUTTER-10", 3), ("FLOUR-25", 2)],
        actor="a",
        now=NOW,
    )
    assert _told(engine, "backorder_created") == []
    tasks = dict(fetch_rows(engine, select(PickTask.product_id, PickTask.id)))
    report_short_pick(
        engine, task_id=tasks[world.products["OIL-5L"]], qty_found=3, actor="o", now=NOW
    )
    assert len(_told(engine, "backorder_created")) == 1
    report_short_pick(
        engine, task_id=tasks[world.products["BUTTER-10"]], qty_found=2, actor="o", now=SOON
    )
    assert len(_told(engine, "backorder_created")) == 1
    report_short_pick(
        engine, task_id=tasks[world.products["FLOUR-25"]], qty_found=1, actor="o", now=LATER
    )
    subjects = fetch_rows(
        engine,
        select(Notification.subject)
        .where(Notification.kind == "backorder_created")
        .order_by(Notification.id),
    )
    assert len(subjects) == 2
    assert all(s.startswith(f"{placed.number}: 1 unit on backorder") for (s,) in subjects)


def test_backorder_notice_switched_off_tells_nobody(engine, world):
    _switch_off(engine, "backorder_created")
    place_order(
        engine, customer_id=world.customers["gold"], lines=[("NAPKIN-500", 4)], actor="a", now=NOW
    )
    assert _told(engine, "backorder_created") == []


# --- promise slipped -----------------------------------------------------------------------


def _slipping(engine, world):
    """A backorder of NAPKIN-500 promised for Sun 15 Mar from a PO due Thu 12 Mar."""
    po_id = _po(engine, world, "NAPKIN-500", 20, dt.date(2026, 3, 12))
    place_order(
        engine, customer_id=world.customers["gold"], lines=[("NAPKIN-500", 7)], actor="a", now=NOW
    )
    return po_id


def _redate(engine, po_id, day, now):
    return set_po_expected_date(engine, po_id=po_id, expected_date=day, actor="lou", now=now)


def test_a_slip_tells_the_customer_their_rep_and_customer_service(engine, world, people):
    gold = world.customers["gold"]
    po_id = _slipping(engine, world)
    assert _redate(engine, po_id, dt.date(2026, 3, 20), NOW) == 3
    assert _told(engine, "promise_slipped") == [
        ("customer_service", None, gold, None),
        ("customer", None, gold, "gold@example.com"),
        (None, people["rep"], gold, "rita@example.com"),
    ]
    (body,) = fetch_rows(
        engine, select(Notification.body).where(Notification.role == "customer_service")
    )[0]
    assert body.startswith("Promised 15 Mar 2026, now expected 25 Mar 2026")
    # Slipping further within the window: no new notice.
    assert _redate(engine, po_id, dt.date(2026, 3, 23), SOON) == 0
    assert len(_told(engine, "promise_slipped")) == 3
    # Further again after the window: told again, against the date last told.
    assert _redate(engine, po_id, dt.date(2026, 3, 26), LATER) == 3
    (latest,) = fetch_rows(
        engine,
        select(Notification.body)
        .where(Notification.role == "customer_service")
        .order_by(Notification.id.desc())
        .limit(1),
    )[0]
    assert latest.startswith("Promised 15 Mar 2026, last told 25 Mar 2026, now expected")


def test_an_estimate_back_to_the_date_already_told_is_not_news(engine, world):
    po_id = _slipping(engine, world)
    _redate(engine, po_id, dt.date(2026, 3, 20), NOW)
    _redate(engine, po_id, dt.date(2026, 3, 18), LATER)  # better, still late: not a slip
    _redate(engine, po_id, dt.date(2026, 3, 20), LATER + dt.timedelta(hours=30))  # as told
    # Customer service and the customer, told once (this world's rep has no user).
    assert len(_told(engine, "promise_slipped")) == 2


def test_a_slip_held_back_by_the_window_is_told_by_the_periodic_check(engine, world):
    po_id = _slipping(engine, world)
    _redate(engine, po_id, dt.date(2026, 3, 20), NOW)
    _redate(engine, po_id, dt.date(2026, 3, 23), SOON)
    assert check_overdue_and_late(engine, now=SOON)["promise_slipped"] == 0
    assert check_overdue_and_late(engine, now=LATER)["promise_slipped"] == 1
    assert check_overdue_and_late(engine, now=LATER + dt.timedelta(days=2))["promise_slipped"] == 0
    assert len(_told(engine, "promise_slipped")) == 4


def test_promise_slipped_switched_off_tells_nobody(engine, world):
    _switch_off(engine, "promise_slipped")
    po_id = _slipping(engine, world)
    assert _redate(engine, po_id, dt.date(2026, 3, 20), NOW) == 0
    assert _told(engine, "promise_slipped") == []


# --- purchase orders -----------------------------------------------------------------------


def test_a_po_moved_later_tells_logistics_and_purchasing_once_per_window(engine, world):
    po_id = _po(engine, world, "FLOUR-25", 10, dt.date(2026, 3, 12))
    _redate(engine, po_id, dt.date(2026, 3, 14), NOW)
    _redate(engine, po_id, dt.date(2026, 3, 16), SOON)
    _redate(engine, po_id, dt.date(2026, 3, 18), LATER)
    assert [role for role, *_ in _told(engine, "po_late")] == [
        "logistics_manager",
        "purchasing_manager",
    ] * 2


def test_an_overdue_po_tells_purchasing_and_logistics_once_per_window(engine, world):
    _po(engine, world, "FLOUR-25", 10, dt.date(2026, 3, 9))
    assert check_overdue_and_late(engine, now=NOW)["po_overdue"] == 1
    assert _told(engine, "po_overdue") == [
        ("purchasing_manager", None, None, None),
        ("logistics_manager", None, None, None),
    ]
    (subject,) = fetch_rows(engine, select(Notification.subject).limit(1))[0]
    assert subject == "PO-FLOUR-25 from Northern Mill is 1 day overdue"
    assert check_overdue_and_late(engine, now=SOON)["po_overdue"] == 0
    assert check_overdue_and_late(engine, now=LATER)["po_overdue"] == 1
    assert len(_told(engine, "po_overdue")) == 4


def test_a_po_not_yet_due_or_received_is_not_overdue(engine, world):
    _po(engine, world, "FLOUR-25", 10, dt.date(2026, 3, 10))
    _po(engine, world, "BUTTER-10", 10, dt.date(2026, 3, 1), status="received")
    assert check_overdue_and_late(engine, now=NOW) == {
        "po_overdue": 0,
        "shipment_late": 0,
        "promise_slipped": 0,
    }


def test_po_overdue_switched_off_tells_nobody(engine, world):
    _switch_off(engine, "po_overdue")
    _po(engine, world, "FLOUR-25", 10, dt.date(2026, 3, 9))
    assert check_overdue_and_late(engine, now=NOW)["po_overdue"] == 0
    assert _told(engine, "po_overdue") == []


# --- shipments -----------------------------------------------------------------------------


def _shipped(engine, world, requested: dt.date) -> int:
    """An order of 2 OIL-5L for the gold customer, picked, packed and shipped at NOW."""
    placed = place_order(
        engine,
        customer_id=world.customers["gold"],
        lines=[("OIL-5L", 2)],
        actor="a",
        now=NOW,
        requested_date=requested,
    )
    (task_id,) = fetch_rows(engine, select(PickTask.id))[0]
    confirm_pick(engine, task_id=task_id, qty_picked=2, actor="o", now=NOW)
    confirm_pack(engine, task_id=task_id, actor="o", now=NOW)
    return ship_order(
        engine, order_id=placed.order_id, carrier_id=world.carrier, actor="o", now=NOW
    )


def test_a_shipment_predicted_late_tells_the_customer_rep_and_logistics(engine, world, people):
    gold = world.customers["gold"]
    # Promised for today; the carrier takes 2 days: late before it even leaves.
    _shipped(engine, world, NOW.date())
    assert _told(engine, "shipment_late") == [
        ("logistics_manager", None, gold, None),
        ("customer", None, gold, "gold@example.com"),
        (None, people["rep"], gold, "rita@example.com"),
    ]
    mine = _inbox(engine, people["gold"], ["customer"], gold)
    assert [m.subject for m in mine] == [
        "SO-000001 will arrive late: SH-000001 now expected 12 Mar 2026"
    ]
    assert check_overdue_and_late(engine, now=SOON)["shipment_late"] == 0
    assert check_overdue_and_late(engine, now=LATER)["shipment_late"] == 1
    assert len(_told(engine, "shipment_late")) == 6


def test_a_shipment_arriving_in_time_is_not_late(engine, world):
    _shipped(engine, world, NOW.date() + dt.timedelta(days=5))
    assert check_overdue_and_late(engine, now=NOW)["shipment_late"] == 0
    assert _told(engine, "shipment_late") == []


def test_shipment_late_switched_off_tells_nobody(engine, world):
    _switch_off(engine, "shipment_late")
    _shipped(engine, world, NOW.date())
    assert check_overdue_and_late(engine, now=LATER)["shipment_late"] == 0
    assert _told(engine, "shipment_late") == []


def test_a_failed_delivery_tells_the_customer_rep_logistics_and_service(engine, world, people):
    gold = world.customers["gold"]
    shipment_id = _shipped(engine, world, NOW.date() + dt.timedelta(days=5))
    report_delivery_failed(
        engine,
        shipment_id=shipment_id,
        reason="Nobody at the kitchen door",
        actor="lou",
        next_attempt=dt.date(2026, 3, 13),
        now=NOW,
    )
    assert _told(engine, "delivery_failed") == [
        ("logistics_manager", None, gold, None),
        ("customer_service", None, gold, None),
        ("customer", None, gold, "gold@example.com"),
        (None, people["rep"], gold, "rita@example.com"),
    ]
    (subject, body) = fetch_rows(
        engine,
        select(Notification.subject, Notification.body)
        .where(Notification.kind == "delivery_failed")
        .limit(1),
    )[0]
    assert subject == "Delivery of SO-000001 failed (SH-000001)"
    assert body == "Nobody at the kitchen door. Next attempt 13 Mar 2026."
    report_delivery_failed(engine, shipment_id=shipment_id, reason="Closed", actor="lou", now=SOON)
    assert len(_told(engine, "delivery_failed")) == 4
    report_delivery_failed(engine, shipment_id=shipment_id, reason="Closed", actor="lou", now=LATER)
    assert len(_told(engine, "delivery_failed")) == 8


def test_delivery_failed_switched_off_tells_nobody(engine, world):
    _switch_off(engine, "delivery_failed")
    shipment_id = _shipped(engine, world, NOW.date() + dt.timedelta(days=5))
    report_delivery_failed(engine, shipment_id=shipment_id, reason="Closed", actor="lou", now=NOW)
    assert _told(engine, "delivery_failed") == []


# --- feedback ------------------------------------------------------------------------------


def _feedback(engine, world, now, **scores):
    return record_feedback(
        engine, customer_id=world.customers["gold"], actor="goldie", now=now, **scores
    )


def test_low_csat_tells_the_rep_and_customer_service_once_per_window(engine, world, people):
    gold = world.customers["gold"]
    _feedback(engine, world, NOW, csat=1)
    assert _told(engine, "negative_feedback") == [
        ("customer_service", None, gold, None),
        (None, people["rep"], gold, None),
    ]
    (subject,) = fetch_rows(engine, select(Notification.subject).limit(1))[0]
    assert subject == "Unhappy feedback from Gold Bistro: CSAT 1"
    _feedback(engine, world, SOON, nps=2)
    assert len(_told(engine, "negative_feedback")) == 2
    _feedback(engine, world, LATER, nps=3)
    assert len(_told(engine, "negative_feedback")) == 4
    # The customer is not told about their own complaint.
    assert _inbox(engine, people["gold"], ["customer"], gold) == []


@pytest.mark.parametrize(
    "scores, negative",
    [
        ({"csat": 2}, True),
        ({"csat": 3}, False),
        ({"nps": 6}, True),
        ({"nps": 7}, False),
        ({"comment": "Terrible service, the order was late again and nobody called. Awful."}, True),
        ({"comment": "Great service, thank you!"}, False),
    ],
)
def test_what_counts_as_negative_feedback(engine, world, scores, negative):
    _feedback(engine, world, NOW, **scores)
    assert bool(_told(engine, "negative_feedback")) is negative


def test_negative_feedback_switched_off_tells_nobody(engine, world):
    _switch_off(engine, "negative_feedback")
    _feedback(engine, world, NOW, csat=1)
    assert _told(engine, "negative_feedback") == []


def test_a_zero_window_tells_every_time(engine, world):
    _as_admin(engine, "notice_repeat_hours", 0)
    _feedback(engine, world, NOW, csat=1)
    _feedback(engine, world, NOW, csat=1)
    assert len(_told(engine, "negative_feedback")) == 2  # customer service, twice


def test_another_reps_user_does_not_see_the_customers_notice(engine, world, people):
    from data.schema import SalesRep

    with write_session(engine) as session:
        rep = SalesRep(code="R2", name="Ralph Rep", region="South")
        session.add(rep)
        session.flush()
        other = User(
            username="ralph", name="Ralph", email="ralph@example.com", password_hash="x",
            sales_rep_id=rep.id,
        )  # fmt: skip
        session.add(other)
        session.flush()
        session.add(UserRole(user_id=other.id, role="sales_rep"))
        other_id = other.id
    place_order(engine, customer_id=world.customers["gold"], lines=[("NAPKIN-500", 4)],
                actor="a", now=NOW)  # fmt: skip
    assert _inbox(engine, other_id, ["sales_rep"]) == []
    assert [m.kind for m in _inbox(engine, people["rep"], ["sales_rep"])] == ["backorder_created"]


def test_a_customers_audience_is_the_same_read_alone_or_from_every_reps_users(
    engine, world, people
):
    """The audience read for one customer and the one placing orders builds from every rep's
    users (kept between orders) come from the same query: the rep's active users in id order."""
    with write_session(engine) as session:
        other_rep = SalesRep(code="R2", name="Ralf Rep", email="ralf@example.com", region="South")
        session.add(other_rep)
        session.flush()
        added = {}
        for username, rep_id, active in [
            ("rex", world.sales_rep, False),
            ("rosa", world.sales_rep, True),
            ("ralf", other_rep.id, True),
        ]:
            row = User(
                username=username,
                name=username.title(),
                email=f"{username}@example.com",
                password_hash="x",
                sales_rep_id=rep_id,
                active=active,
            )
            session.add(row)
            session.flush()
            added[username] = row.id
        other_rep_id = other_rep.id
    gold = world.customers["gold"]
    rep_users = [(people["rep"], "rita@example.com"), (added["rosa"], "rosa@example.com")]
    with Session(engine) as session:
        assert read_rep_users(session, world.sales_rep) == {world.sales_rep: rep_users}
        every = read_rep_users(session)
        assert every == {
            world.sales_rep: rep_users,
            other_rep_id: [(added["ralf"], "ralf@example.com")],
        }
        alone = customer_audience(session, gold)
        assert alone == ("gold@example.com", rep_users)
        assert customer_audience(session, gold, rep_users=every) == alone
        assert reference(session).audience(gold) == alone
        assert customer_audience(session, 10**6) is None
