"""Every public write operation against a table of bad values, on SQLite and PostgreSQL.

For each operation there is one call that the write side accepts (checked on a throwaway world)
and, per argument, the bad values that must each be refused with a domain error (a
``LarderError`` that is neither "busy" nor the safety net for driver errors that slipped past
the checks) while every table keeps its rows. The world is built once per database.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select, update

import operations
from data.db import write_session
from data.schema import (
    Backorder,
    Base,
    Notification,
    OrderLine,
    PickTask,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Substitute,
)
from operations import LarderError
from operations.errors import Busy, StorageRefused
from tests.conftest import _fresh_engine
from tests.operations_world import add_admin, build_world, snapshot

FAST = 4  # bcrypt cost for the few accepted passwords
UNKNOWN_ID = 999_999
TOO_BIG = [10**18, 2**63, 4e9]
NOT_NUMBERS = [math.nan, math.inf, -math.inf, "1", None, True, Decimal("NaN"), [1]]
CONTROL = ["\x00", "a\x00b", "bell\x07", "esc\x1b[0m"]
LONG = "x" * 10_000
SQL = "'; DROP TABLE orders; --"
FAR_PAST_DATE = dt.date(1900, 1, 1)
FAR_FUTURE_DATE = dt.date(9999, 12, 31)

BAD_IDS = [0, -1, 1.5, UNKNOWN_ID, *TOO_BIG, *NOT_NUMBERS, SQL]
BAD_OPTIONAL_IDS = [value for value in BAD_IDS if value is not None]
BAD_QUANTITIES = [0, -1, 1.5, *TOO_BIG, *NOT_NUMBERS]
BAD_COUNTS = [-1, 0.5, *TOO_BIG, *NOT_NUMBERS]  # zero is a fair count
BAD_REQUIRED_TEXT = [None, 5, "", "   ", LONG, *CONTROL]
BAD_OPTIONAL_TEXT = [5, LONG, *CONTROL]
BAD_ACTORS = [None, 5, "", LONG, *CONTROL]
BAD_DATES = [
    "2026-01-01",
    dt.datetime(2026, 1, 1),
    FAR_PAST_DATE,
    FAR_FUTURE_DATE,
    dt.date(2000, 1, 1) - dt.timedelta(days=1),
    5,
]
BAD_MOMENTS = [
    "now",
    dt.date(2026, 1, 1),
    dt.datetime(1900, 1, 1),
    dt.datetime(9999, 12, 31),
    5,
]
BAD_FLAGS = [None, 1, "yes", math.nan]


@dataclass
class Stage:
    """Ids of the rows each operation acts on (built by :func:`_stage`)."""

    world: object
    open_order: int = 0
    open_line: int = 0
    open_task: int = 0
    picked_task: int = 0
    packed_order: int = 0
    shipment: int = 0
    backorder: int = 0
    question: int = 0
    draft_po: int = 0
    draft_po_line: int = 0
    approved_po: int = 0
    sent_po: int = 0
    sent_po_product: int = 0
    target_user: int = 0
    admin_user: int = 0
    notification: int = 0
    extra: dict = field(default_factory=dict)


def _task_of(engine: Engine, order_id: int) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(PickTask.id)
            .join(OrderLine, OrderLine.id == PickTask.order_line_id)
            .where(OrderLine.order_id == order_id)
        ).scalar_one()


def _stage(engine: Engine) -> Stage:
    """A world with an order in each state, POs in each state, users and a notification."""
    world = build_world(engine)
    stage = Stage(world=world)
    gold = world.customers["gold"]

    def place(*lines):
        return operations.place_order(engine, customer_id=gold, lines=list(lines), actor="ann")

    placed = place(("OIL-5L", 3), ("FLOUR-25", 2))
    stage.open_order, stage.open_line = placed.order_id, placed.lines[0].line_id
    stage.open_task = _task_of(engine, place(("OIL-5L", 1)).order_id)
    stage.picked_task = _task_of(engine, place(("OIL-5L", 1)).order_id)
    operations.confirm_pick(engine, task_id=stage.picked_task, qty_picked=1, actor="op")
    stage.packed_order = place(("OIL-5L", 1)).order_id
    packed_task = _task_of(engine, stage.packed_order)
    operations.confirm_pick(engine, task_id=packed_task, qty_picked=1, actor="op")
    operations.confirm_pack(engine, task_id=packed_task, actor="op")
    shipped = place(("OIL-5L", 1)).order_id
    task = _task_of(engine, shipped)
    operations.confirm_pick(engine, task_id=task, qty_picked=1, actor="op")
    operations.confirm_pack(engine, task_id=task, actor="op")
    stage.shipment = operations.ship_order(
        engine, order_id=shipped, carrier_id=world.carrier, actor="op"
    )
    place(("NAPKIN-500", 20))  # none on hand: all of it goes on backorder
    with write_session(engine) as session:
        stage.backorder = session.scalars(select(Backorder.id)).one()
        # OIL-5L stands in for napkins here: listed, of the same use, no allergens.
        session.add(
            Substitute(
                product_id=world.products["NAPKIN-500"], substitute_id=world.products["OIL-5L"]
            )
        )
        session.execute(
            update(Product)
            .where(Product.id == world.products["OIL-5L"])
            .values(use="napkin", allergens="")
        )
    stage.question = operations.record_communication(
        engine,
        actor="service",
        channel="phone",
        subject="Where is my order?",
        customer_id=gold,
        direction="inbound",
    )
    stage.admin_user = add_admin(engine)
    stage.target_user = add_admin(engine, "pam", roles=("purchasing_manager",))
    with write_session(engine) as session:
        pos = {}
        for status, sku in (("draft", "NAPKIN-500"), ("approved", "BUTTER-10"), ("sent", "OIL-5L")):
            po = PurchaseOrder(
                number=f"PO-{status}",
                supplier_id=world.suppliers["MILL"],
                warehouse_id=world.warehouse,
                status=status,
                expected_date=dt.date.today() + dt.timedelta(days=7) if status == "sent" else None,
            )
            session.add(po)
            session.flush()
            line = PurchaseOrderLine(
                po_id=po.id, product_id=world.products[sku], qty_ordered=40, unit_cost=Decimal("1")
            )
            session.add(line)
            session.flush()
            pos[status] = (po.id, line.id, world.products[sku])
        notification = Notification(
            kind="low_stock", user_id=stage.admin_user, subject="FLOUR-25 is low", body=""
        )
        session.add(notification)
        session.flush()
        stage.notification = notification.id
    stage.draft_po, stage.draft_po_line, _ = pos["draft"]
    stage.approved_po = pos["approved"][0]
    stage.sent_po, _, stage.sent_po_product = pos["sent"]
    return stage


@dataclass(frozen=True)
class Case:
    """An operation, the arguments it accepts, and the bad values per argument."""

    operation: Callable
    good: Callable[[Stage], dict]
    bad: dict[str, list | Callable[[Stage], list]]


SOON = dt.date.today() + dt.timedelta(days=3)
SUPPLIER_FILE = b"code,name\nS9,Supplier Nine\n"

CASES = {
    "place_order": Case(
        operations.place_order,
        lambda s: {
            "customer_id": s.world.customers["gold"],
            "lines": [("OIL-5L", 1)],
            "actor": "ann",
            "requested_date": SOON,
        },
        {
            "customer_id": BAD_IDS,
            "lines": [
                None,
                [],
                "OIL-5L",
                [("OIL-5L",)],
                [(SQL, 1)],
                [("NO-SUCH", 1)],
                [("OIL-5L\x00", 1)],
                [(LONG, 1)],
                [("OIL-5L", 1), ("oil-5l", 2)],
                [("OIL-5L", 200_000)],
                *([("OIL-5L", q)] for q in BAD_QUANTITIES),
            ],
            "actor": BAD_ACTORS,
            "priority": [None, "", "URGENT", SQL, 5, "\x00"],
            "requested_date": [*BAD_DATES, dt.date.today() - dt.timedelta(days=1)],
            "backorder_choice": ["", "maybe", SQL, 5, "\x00"],
            "channel": [None, "fax", SQL, 5],
            "now": BAD_MOMENTS,
            "warehouse_id": BAD_OPTIONAL_IDS,
            "confirm_large": BAD_FLAGS,
        },
    ),
    "cancel_order": Case(
        operations.cancel_order,
        lambda s: {"order_id": s.open_order, "actor": "ann", "reason": "customer asked"},
        {
            "order_id": BAD_IDS,
            "actor": BAD_ACTORS,
            "reason": BAD_REQUIRED_TEXT,
            "now": BAD_MOMENTS,
            "warehouse_id": BAD_OPTIONAL_IDS,
        },
    ),
    "cancel_line": Case(
        operations.cancel_line,
        lambda s: {"order_line_id": s.open_line, "actor": "ann", "reason": "asked", "qty": 1},
        {
            "order_line_id": BAD_IDS,
            "actor": BAD_ACTORS,
            "reason": BAD_REQUIRED_TEXT,
            "qty": [q for q in BAD_QUANTITIES if q is not None] + [4],  # only 3 outstanding
            "now": BAD_MOMENTS,
            "warehouse_id": BAD_OPTIONAL_IDS,
        },
    ),
    "adjust_stock": Case(
        operations.adjust_stock,
        lambda s: {
            "product_id": s.world.products["OIL-5L"],
            "counted_on_hand": 95,
            "reason": "count",
            "actor": "ann",
        },
        {
            "product_id": BAD_IDS,
            "counted_on_hand": [*BAD_COUNTS, 200_000],
            "reason": BAD_REQUIRED_TEXT,
            "actor": BAD_ACTORS,
            "warehouse_id": BAD_OPTIONAL_IDS,
            "now": BAD_MOMENTS,
        },
    ),
    "confirm_pick": Case(
        operations.confirm_pick,
        lambda s: {"task_id": s.open_task, "qty_picked": 1, "actor": "op"},
        {
            "task_id": BAD_IDS,
            "qty_picked": [*BAD_COUNTS, 2],
            "actor": BAD_ACTORS,
            "note": BAD_OPTIONAL_TEXT,
            "bin_code": [*BAD_OPTIONAL_TEXT, "NO-SUCH-BIN"],
            "sku": [*BAD_OPTIONAL_TEXT, "NO-SUCH-SKU"],
            "now": BAD_MOMENTS,
        },
    ),
    "report_short_pick": Case(
        operations.report_short_pick,
        lambda s: {"task_id": s.open_task, "qty_found": 0, "actor": "op"},
        {
            "task_id": BAD_IDS,
            "qty_found": [*BAD_COUNTS, 1],
            "actor": BAD_ACTORS,
            "note": BAD_OPTIONAL_TEXT,
            "bin_code": [*BAD_OPTIONAL_TEXT, "NO-SUCH-BIN"],
            "now": BAD_MOMENTS,
        },
    ),
    "confirm_pack": Case(
        operations.confirm_pack,
        lambda s: {"task_id": s.picked_task, "actor": "op"},
        {
            "task_id": BAD_IDS,
            "actor": BAD_ACTORS,
            "sku": [*BAD_OPTIONAL_TEXT, "NO-SUCH-SKU"],
            "now": BAD_MOMENTS,
        },
    ),
    "check_scan": Case(
        operations.check_scan,
        lambda s: {"task_id": s.open_task},
        {
            "task_id": BAD_IDS,
            "bin_code": [*BAD_OPTIONAL_TEXT, "NO-SUCH-BIN"],
            "sku": [*BAD_OPTIONAL_TEXT, "NO-SUCH-SKU"],
        },
    ),
    "ship_order": Case(
        operations.ship_order,
        lambda s: {"order_id": s.packed_order, "carrier_id": s.world.carrier, "actor": "op"},
        {
            "order_id": BAD_IDS,
            "carrier_id": BAD_IDS,
            "actor": BAD_ACTORS,
            "tracking": [5, "x" * 41, *CONTROL],
            "now": BAD_MOMENTS,
        },
    ),
    "mark_delivered": Case(
        operations.mark_delivered,
        lambda s: {"shipment_id": s.shipment, "actor": "op"},
        {"shipment_id": BAD_IDS, "actor": BAD_ACTORS, "now": BAD_MOMENTS},
    ),
    "receive_po": Case(
        operations.receive_po,
        lambda s: {"po_id": s.sent_po, "actor": "goods-in", "quantities": {s.sent_po_product: 5}},
        {
            "po_id": BAD_IDS,
            "actor": BAD_ACTORS,
            "quantities": [
                {},
                [1, 2],
                "5",
                {UNKNOWN_ID: 5},
                {10**18: 5},
                {"OIL-5L": 5},
                {None: 5},
            ],
            "now": BAD_MOMENTS,
        },
    ),
    "receive_po quantities": Case(
        operations.receive_po,
        lambda s: {"po_id": s.sent_po, "actor": "goods-in", "quantities": {s.sent_po_product: 5}},
        # 40 are on order; every bad quantity for the product that is on the PO
        {"quantities": lambda s: [{s.sent_po_product: q} for q in [*BAD_QUANTITIES, 41]]},
    ),
    "draft_purchase_orders": Case(
        operations.draft_purchase_orders,
        lambda s: {"actor": "bob"},
        {"actor": BAD_ACTORS, "today": BAD_DATES, "warehouse_id": BAD_OPTIONAL_IDS},
    ),
    "approve_po": Case(
        operations.approve_po,
        lambda s: {"po_id": s.draft_po, "actor": "bob"},
        {"po_id": BAD_IDS, "actor": BAD_ACTORS},
    ),
    "send_po": Case(
        operations.send_po,
        lambda s: {"po_id": s.approved_po, "actor": "bob", "expected_date": SOON},
        {
            "po_id": BAD_IDS,
            "actor": BAD_ACTORS,
            "expected_date": [*BAD_DATES, dt.date.today() - dt.timedelta(days=1)],
            "now": BAD_MOMENTS,
        },
    ),
    "set_po_expected_date": Case(
        operations.set_po_expected_date,
        lambda s: {"po_id": s.sent_po, "expected_date": SOON, "actor": "bob"},
        {
            "po_id": BAD_IDS,
            "expected_date": [None, *BAD_DATES],
            "actor": BAD_ACTORS,
            "now": BAD_MOMENTS,
        },
    ),
    "cancel_po": Case(
        operations.cancel_po,
        lambda s: {"po_id": s.draft_po, "actor": "bob", "reason": "not needed"},
        {"po_id": BAD_IDS, "actor": BAD_ACTORS, "reason": BAD_OPTIONAL_TEXT},
    ),
    "update_po_line": Case(
        operations.update_po_line,
        lambda s: {"po_line_id": s.draft_po_line, "qty": 60, "actor": "bob"},
        {"po_line_id": BAD_IDS, "qty": [*BAD_QUANTITIES, 200_000], "actor": BAD_ACTORS},
    ),
    "update_po_lines": Case(
        operations.update_po_lines,
        lambda s: {"po_id": s.draft_po, "quantities": {s.draft_po_line: 60}, "actor": "bob"},
        {
            "po_id": BAD_IDS,
            "quantities": lambda s: [
                None,
                {},
                [1],
                "60",
                {s.draft_po_line: 0},
                {s.draft_po_line: 65},  # not whole packs of 10
                {s.draft_po_line: 10},  # below the minimum of 20
                {s.draft_po_line: 1.5},
                {s.draft_po_line: 10**18},
                {s.draft_po_line: 200_000},
                {UNKNOWN_ID: 60},
                {2**63: 60},
            ],
            "actor": BAD_ACTORS,
        },
    ),
    "add_po_line": Case(
        operations.add_po_line,
        lambda s: {
            "po_id": s.draft_po,
            "product_id": s.world.products["FLOUR-25"],
            "qty": 10,
            "actor": "bob",
        },
        {
            "po_id": BAD_IDS,
            "product_id": lambda s: [*BAD_IDS, s.world.products["BUTTER-10"]],
            "qty": [*BAD_QUANTITIES, 7, 5, 200_000],
            "actor": BAD_ACTORS,
        },
    ),
    "remove_po_line": Case(
        operations.remove_po_line,
        lambda s: {"po_line_id": s.draft_po_line, "actor": "bob"},
        {"po_line_id": BAD_IDS, "actor": BAD_ACTORS},
    ),
    "set_po_expected_dates": Case(
        operations.set_po_expected_dates,
        lambda s: {"dates": {s.sent_po: SOON}, "actor": "bob"},
        {
            "dates": lambda s: [
                None,
                {},
                [s.sent_po],
                {s.sent_po: None},
                {s.sent_po: FAR_FUTURE_DATE},
                {s.sent_po: "2026-01-01"},
                {UNKNOWN_ID: SOON},
                {s.draft_po: SOON},
            ],
            "actor": BAD_ACTORS,
            "now": BAD_MOMENTS,
        },
    ),
    "record_tracking_event": Case(
        operations.record_tracking_event,
        lambda s: {"shipment_id": s.shipment, "kind": "in_transit", "actor": "logi"},
        {
            "shipment_id": BAD_IDS,
            "kind": [None, "", "lost", 5, *CONTROL],
            "new_date": BAD_DATES,
            "note": BAD_OPTIONAL_TEXT,
            "actor": BAD_ACTORS,
            "now": BAD_MOMENTS,
        },
    ),
    "reestimate_all_backorders": Case(
        operations.reestimate_all_backorders,
        lambda s: {"today": dt.date.today()},
        {"today": [d for d in BAD_DATES if d is not None]},
    ),
    "record_backorder_cost": Case(
        operations.record_backorder_cost,
        lambda s: {"backorder_id": s.backorder, "kind": "expedite", "amount": 12.5, "actor": "fin"},
        {
            "backorder_id": BAD_IDS,
            "kind": [None, "", "handling", "bribe", 5, *CONTROL],
            "amount": [None, "", "abc", -1, 0, math.nan, math.inf, 10**18, [1], True],
            "note": BAD_OPTIONAL_TEXT,
            "actor": BAD_ACTORS,
            "now": BAD_MOMENTS,
        },
    ),
    "swap_to_substitute": Case(
        operations.swap_to_substitute,
        lambda s: {
            "backorder_id": s.backorder,
            "substitute_product_id": s.world.products["OIL-5L"],
            "quantity": 4,
            "accepted": True,
            "actor": "rita",
        },
        {
            "backorder_id": BAD_IDS,
            "substitute_product_id": lambda s: [*BAD_IDS, s.world.products["FLOUR-25"]],
            "quantity": [*BAD_QUANTITIES, 21],
            "accepted": BAD_FLAGS,
            "channel": [None, "", "pigeon", 5, *CONTROL],
            "sales_rep_id": [*BAD_OPTIONAL_IDS],
            "actor": BAD_ACTORS,
            "now": BAD_MOMENTS,
        },
    ),
    "send_backorder_update": Case(
        operations.send_backorder_update,
        lambda s: {"customer_id": s.world.customers["gold"], "actor": "rita"},
        {
            "customer_id": lambda s: [*BAD_IDS, s.world.customers["bronze"]],
            "sales_rep_id": BAD_OPTIONAL_IDS,
            "actor": BAD_ACTORS,
            "now": BAD_MOMENTS,
        },
    ),
    "mark_answered": Case(
        operations.mark_answered,
        lambda s: {"communication_id": s.question, "actor": "service"},
        {"communication_id": BAD_IDS, "actor": BAD_ACTORS, "now": BAD_MOMENTS},
    ),
    "set_thresholds": Case(
        operations.set_thresholds,
        lambda s: {
            "product_id": s.world.products["FLOUR-25"],
            "reorder_point": 20,
            "safety_stock": 5,
            "order_up_to": 60,
            "actor": "manager",
        },
        {
            "product_id": BAD_IDS,
            "reorder_point": [*BAD_COUNTS, 61],
            "safety_stock": [*BAD_COUNTS, 21],
            "order_up_to": [*BAD_COUNTS, 19, 200_000, 10_000],  # 10,000 needs confirming
            "actor": BAD_ACTORS,
            "confirm_large": BAD_FLAGS,
        },
    ),
    "set_product_prices": Case(
        operations.set_product_prices,
        lambda s: {
            "product_id": s.world.products["FLOUR-25"],
            "actor": "finance",
            "price": "19.00",
        },
        {
            "product_id": BAD_IDS,
            "actor": BAD_ACTORS,
            "price": [
                None,
                -1,
                "abc",
                "1.234",
                math.nan,
                math.inf,
                10**18,
                2**63,
                True,
                Decimal("NaN"),
                "\x00",
                SQL,
            ],
            "cost": [-1, "abc", math.nan, math.inf, 10**18, "\x00"],
        },
    ),
    "create_user": Case(
        operations.create_user,
        lambda s: {
            "username": "newbie",
            "name": "New Bie",
            "email": "newbie@example.com",
            "password": "good password",
            "roles": ["finance_manager"],
            "actor": "admin",
            "bcrypt_rounds": FAST,
        },
        {
            "username": [
                None,
                5,
                "",
                "-1",
                "1.5",
                "1000000000",
                "x",
                "x" * 41,
                LONG,
                SQL,
                "pam",  # taken
                "a b",
                *CONTROL,
            ],
            "name": BAD_REQUIRED_TEXT,
            "email": [None, "", "not-an-email", "a@b", SQL, LONG, "<script>@x.com", *CONTROL],
            "password": [None, 5, "short", "  padded-pass-9  ", "tab\tpassword", "é" * 37],
            "roles": [None, [], "admin", ["wizard"], [SQL], [None], ["customer"], ["sales_rep"]],
            "actor": [*BAD_ACTORS, "pam", "nobody"],  # pam is not an administrator
            "customer_id": BAD_OPTIONAL_IDS,
            "sales_rep_id": BAD_OPTIONAL_IDS,
            "bcrypt_rounds": [None, 0, 1.5, 100, 10**18, "4"],
        },
    ),
    "set_user_active": Case(
        operations.set_user_active,
        lambda s: {"user_id": s.target_user, "active": False, "actor": "admin"},
        {
            "user_id": BAD_IDS,
            "active": BAD_FLAGS,
            "actor": [*BAD_ACTORS, "pam"],
        },
    ),
    "set_user_roles": Case(
        operations.set_user_roles,
        lambda s: {"user_id": s.target_user, "roles": ["finance_manager"], "actor": "admin"},
        {
            "user_id": BAD_IDS,
            "roles": [None, [], "admin", ["wizard"], [SQL], ["customer"]],
            "actor": [*BAD_ACTORS, "pam"],
        },
    ),
    "link_user": Case(
        operations.link_user,
        lambda s: {"user_id": s.target_user, "actor": "admin", "sales_rep_id": s.world.sales_rep},
        {
            "user_id": BAD_IDS,
            "actor": [*BAD_ACTORS, "pam"],
            "customer_id": BAD_OPTIONAL_IDS,
            "sales_rep_id": BAD_OPTIONAL_IDS,
        },
    ),
    "reset_password": Case(
        operations.reset_password,
        lambda s: {
            "user_id": s.target_user,
            "new_password": "another secret",
            "actor": "admin",
            "bcrypt_rounds": FAST,
        },
        {
            "user_id": BAD_IDS,
            "new_password": [
                None,
                5,
                "",
                "short",
                "  padded-pass-9  ",
                "x" * 73,
                "nul\x00password",
            ],
            "actor": BAD_ACTORS,
            "bcrypt_rounds": [None, 0, 100, "4"],
        },
    ),
    "queue_weekly_report": Case(
        operations.queue_weekly_report,
        lambda s: {
            "week_start": dt.date(2026, 6, 8),
            "pdf": b"%PDF-1.4 a report",
            "summary": "The week in figures.",
            "actor": "jobs",
        },
        {
            "week_start": [
                None,
                "2026-06-08",
                dt.date(2026, 6, 9),
                dt.datetime(2026, 6, 8, 7, 0),
                20260608,
            ],
            "pdf": [None, "%PDF-1.4 as text", b"plain bytes", b"%PDF-" + b"x" * 5_000_001],
            "summary": [None, "", 5, "nul\x00", "x" * 4001],
            "actor": BAD_ACTORS,
        },
    ),
    "set_setting": Case(
        operations.set_setting,
        lambda s: {"key": "low_stock_ratio", "value": 1.5, "actor": "admin"},
        {
            "key": [None, 5, "", "colour", SQL, "\x00", LONG],
            "value": [0, -1, 11, math.nan, math.inf, None, "1", True, 10**18],
            "actor": [*BAD_ACTORS, "pam", "owner"],
        },
    ),
    "record_feedback": Case(
        operations.record_feedback,
        lambda s: {
            "customer_id": s.world.customers["gold"],
            "actor": "ann",
            "csat": 4,
            "order_id": s.open_order,
        },
        {
            "customer_id": BAD_IDS,
            "actor": BAD_ACTORS,
            "csat": [0, 6, 1.5, -1, *TOO_BIG, math.nan, math.inf, "4", True],
            "nps": [-1, 11, 1.5, *TOO_BIG, math.nan, "4", True],
            "comment": [5, "x" * 4001, "\x00", "a\x00b"],
            "order_id": BAD_OPTIONAL_IDS,
            "now": BAD_MOMENTS,
        },
    ),
    "record_communication": Case(
        operations.record_communication,
        lambda s: {
            "actor": "service",
            "channel": "phone",
            "subject": "Where is my flour?",
            "customer_id": s.world.customers["gold"],
        },
        {
            "actor": BAD_ACTORS,
            "channel": [None, "", "fax", SQL, 5, "\x00"],
            "subject": BAD_REQUIRED_TEXT,
            "body": [5, "x" * 20_001, "\x00", "a\x00b"],
            "customer_id": BAD_OPTIONAL_IDS,
            "carrier_id": BAD_OPTIONAL_IDS,
            "order_id": BAD_OPTIONAL_IDS,
            "direction": [None, "", "sideways", SQL, 5],
            "answered_at": BAD_MOMENTS,
            "now": BAD_MOMENTS,
        },
    ),
    "apply_import": Case(
        operations.apply_import,
        lambda s: {
            "kind": "suppliers",
            "filename": "suppliers.csv",
            "content": SUPPLIER_FILE,
            "actor": "admin",
        },
        {
            "kind": [None, "", "widgets", "products", SQL, 5],
            "filename": BAD_REQUIRED_TEXT,
            "content": [
                None,
                5,
                SUPPLIER_FILE.decode(),
                b"",
                b"\x89PNG\r\n\x1a\n\x00",
                b"code,name\nS9,\n",
                SUPPLIER_FILE + b"S9,Again\n",
                b"code,name,lead_time_days\nS9,Nine,-4\n",
                b"code,name,lead_time_days\nS9,Nine,1e99\n",
                b"code,name\n" + b"S" * 20 + b",Nine\n",
            ],
            "actor": [*BAD_ACTORS, "pam"],
            "mapping": [
                5,
                "code",
                {"colour": "code"},
                {"code": "nope", "name": "name"},
                {"code": "code", "name": "code"},
                {"code": 5, "name": "name"},
                {"name": "name"},
            ],
            "sheet": [5, "", LONG, "\x00"],
            "header": [1, "yes", math.nan],  # None is fine: the first row decides
            "date_order": [5, "", "ymd", SQL],
            "decimal_mark": [5, "", ";", SQL],
            "now": BAD_MOMENTS,
            "progress": [5, "print"],
        },
    ),
    "save_import_mapping": Case(
        operations.save_import_mapping,
        lambda s: {
            "kind": "suppliers",
            "name": "Old ERP",
            "columns": {"code": "Code", "name": "Name"},
            "actor": "admin",
        },
        {
            "kind": [None, "", "widgets", SQL, 5],
            "name": BAD_REQUIRED_TEXT,
            "columns": [
                None,
                5,
                {},
                {"colour": "x"},
                {"code": 5},
                {"code": "\x00"},
                {"code": None},
            ],
            "actor": [*BAD_ACTORS, "pam"],
            "options": [
                5,
                {"colour": 1},
                {"header": "yes"},
                {"date_order": "ymd"},
                {"decimal_mark": ";"},
                {"sheet": 5},
            ],
        },
    ),
    "mark_read": Case(
        operations.mark_read,
        lambda s: {"notification_ids": [s.notification], "user_id": s.admin_user},
        {
            "notification_ids": [
                None,
                [],
                5,
                "1",
                [UNKNOWN_ID],
                [10**18],
                [2**63],
                [1.5],
                [None],
                [SQL],
                list(range(1, 2000)),
            ],
            "user_id": BAD_IDS,
        },
    ),
}


def _bad_calls(case: Case, stage: Stage) -> Iterator[tuple[str, dict]]:
    good = case.good(stage)
    for argument, values in case.bad.items():
        if callable(values):
            values = values(stage)
        for value in values:
            yield f"{argument}={value!r}"[:80], good | {argument: value}


def _counts_query():
    tables = Base.metadata.sorted_tables
    return select(*(select(func.count()).select_from(t).scalar_subquery() for t in tables))


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def staged(request, tmp_path_factory) -> Iterator[tuple[Engine, Stage]]:
    """One staged world per database, shared by every operation's bad values."""
    for engine in _fresh_engine(request.param, tmp_path_factory.mktemp("bad")):
        yield engine, _stage(engine)


@pytest.mark.parametrize("name", list(CASES))
def test_every_bad_value_is_refused_and_changes_nothing(staged, name):
    engine, stage = staged
    case = CASES[name]
    counts = _counts_query()
    with engine.connect() as conn:
        before_counts = conn.execute(counts).one()
    before = snapshot(engine)
    problems = []
    tried = 0
    for label, arguments in _bad_calls(case, stage):
        tried += 1
        try:
            case.operation(engine, **arguments)
        except (Busy, StorageRefused) as refusal:
            problems.append(f"{label}: {type(refusal).__name__}: {refusal.message}")
        except LarderError as refusal:
            assert refusal.message, label
            assert len(refusal.message) < 400, f"{label}: the message echoes too much input"
        except Exception as raw:  # a raw exception is exactly what must never happen
            problems.append(f"{label}: raw {type(raw).__name__}: {str(raw)[:120]}")
        else:
            problems.append(f"{label}: accepted")
        with engine.connect() as conn:
            if conn.execute(counts).one() != before_counts:
                problems.append(f"{label}: changed the row counts")
                before_counts = conn.execute(counts).one()
    assert tried >= len(case.bad)
    assert not problems, "\n".join(problems)
    assert snapshot(engine) == before, "a refused call changed a row"


@pytest.mark.parametrize("name", list(CASES))
def test_the_good_call_of_each_case_is_accepted(sqlite_engine, name):
    """The bad values above are refused for themselves: without them the call goes through."""
    stage = _stage(sqlite_engine)
    CASES[name].operation(sqlite_engine, **CASES[name].good(stage))


def test_every_public_write_operation_has_a_case():
    helpers = {"hash_password", "expected_date", "priority_score", "notify"}  # no engine, no write
    operations_exported = {
        name
        for name in operations.__all__
        if callable(getattr(operations, name)) and name[0].islower() and name not in helpers
    }
    covered = {case.operation.__name__ for case in CASES.values()}
    assert operations_exported <= covered, operations_exported - covered


def test_a_refused_username_is_quoted_only_in_part(sqlite_engine):
    stage = _stage(sqlite_engine)
    arguments = CASES["create_user"].good(stage) | {"username": "y" * 5000}
    with pytest.raises(LarderError) as refused:
        operations.create_user(sqlite_engine, **arguments)
    assert len(refused.value.message) < 200
    assert "y" * 41 not in refused.value.message
