"""The notices the demo history would have raised, so no inbox starts empty.

Built from the finished tables with the rules and wording of ``data.notices`` (the same the
write side uses): a backorder notice per order still waiting, a slip notice per backorder now
expected later than promised, low stock for each product at or below its low level, overdue
purchase orders, shipments that will arrive late, and unhappy feedback of the last weeks (one
per customer per repeat window). Notices older than a few days are marked read.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

from data import notices
from data.notices import RULES
from data.schema import OPEN_PO_STATUSES
from data.settings import SETTINGS

FEEDBACK_DAYS = 21  # unhappy feedback this recent still has a notice in the inbox
READ_AFTER_DAYS = 3  # notices older than this were read a day after they arrived
LOW_STOCK_SPREAD_HOURS = 10 * 24
COLUMNS = (
    "id",
    "created_at",
    "kind",
    "user_id",
    "role",
    "customer_id",
    "subject",
    "body",
    "email_to",
    "status",
    "read_at",
    "ref_type",
    "ref_id",
    "dedup_key",
    "about_date",
)


def _table(tables: dict, name: str, *columns: str) -> list[Sequence]:
    table = tables[name]
    return [table.data[table.columns.index(column)] for column in columns]


def _date(text: str | None) -> dt.date | None:
    return None if text is None else dt.date.fromisoformat(text[:10])


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


class _Inbox:
    def __init__(self, tables: dict, now: dt.datetime):
        self.now = now
        self.rows: list[tuple] = []
        cust_ids, cust_rep = _table(tables, "customers", "id", "sales_rep_id")
        self.customer_rep = dict(zip(cust_ids, cust_rep, strict=True))
        user_ids, user_rep, user_active = _table(tables, "users", "id", "sales_rep_id", "active")
        self.rep_users: dict[int, list[int]] = defaultdict(list)
        for user_id, rep, active in zip(user_ids, user_rep, user_active, strict=True):
            if rep is not None and active:
                self.rep_users[rep].append(user_id)

    def raise_notice(
        self,
        kind: str,
        subject: str,
        body: str,
        at: dt.datetime,
        dedup_key: str,
        customer_id: int | None = None,
        ref: tuple[str, int] | None = None,
        about: dt.date | None = None,
    ) -> None:
        """The rows ``operations.notification_rules.raise_notice`` writes (in-app only)."""
        rule = RULES[kind]
        targets: list[tuple[str | None, int | None]] = [(role, None) for role in rule.roles]
        if customer_id is not None and rule.to_customer:
            targets.append(("customer", None))
        if customer_id is not None and rule.to_sales_rep:
            rep = self.customer_rep.get(customer_id)
            targets += [(None, user_id) for user_id in self.rep_users.get(rep, [])]
        at = min(at, self.now)
        read = at + dt.timedelta(days=1) if (self.now - at).days > READ_AFTER_DAYS else None
        for role, user_id in targets:
            self.rows.append(
                (
                    _stamp(at),
                    kind,
                    user_id,
                    role,
                    customer_id,
                    subject[:200],
                    body,
                    None,
                    "in_app",
                    None if read is None else _stamp(read),
                    ref[0] if ref else None,
                    ref[1] if ref else None,
                    dedup_key,
                    None if about is None else about.isoformat(),
                )
            )


def notification_rows(tables: dict, now: dt.datetime) -> tuple[tuple[str, ...], list[tuple]]:
    """(columns, rows) of the demo's notifications, oldest first."""
    inbox = _Inbox(tables, now)
    today = now.date()
    start_of_day = dt.datetime.combine(today, dt.time(6, 0))
    sku, name, reorder_point = _table(tables, "products", "sku", "name", "reorder_point")
    customer_name = _table(tables, "customers", "name")[0]
    (order_number,) = _table(tables, "orders", "number")
    (line_order,) = _table(tables, "order_lines", "order_id")

    # Backorders still waiting: one notice per order; a slip notice where the estimate is late.
    bo = _table(
        tables,
        "backorders",
        *[
            "id",
            "order_line_id",
            "product_id",
            "customer_id",
            "qty",
            "qty_filled",
            "qty_cancelled",
            "status",
            "created_at",
            "promised_date",
            "estimated_date",
            "estimated_late_date",
            "estimate_reason",
        ],
    )
    per_order: dict[int, list] = defaultdict(list)
    for row in zip(*bo, strict=True):
        (b_id, line, product, customer, qty, filled, cancelled, status, created) = row[:9]
        promised, estimated, late, reason = row[9:]
        if status != "open":
            continue
        order = line_order[line - 1]
        created_at = dt.datetime.fromisoformat(created)
        per_order[order].append((created_at, customer, sku[product - 1], qty - filled - cancelled,
                                 _date(promised)))  # fmt: skip
        promised_day, estimated_day = _date(promised), _date(estimated)
        if promised_day and estimated_day and estimated_day > promised_day:
            subject, body = notices.promise_slipped(
                sku[product - 1],
                customer_name[customer - 1],
                promised_day,
                None,
                estimated_day,
                _date(late),
                reason,
            )
            inbox.raise_notice(
                "promise_slipped",
                subject,
                body,
                max(created_at + dt.timedelta(days=1), start_of_day - dt.timedelta(days=1)),
                f"backorder:{b_id}",
                customer,
                ("backorder", b_id),
                estimated_day,
            )
    for order in sorted(per_order):
        waiting = per_order[order]
        subject, body = notices.backorder_created(
            order_number[order - 1], [(s, q, when) for _, _, s, q, when in waiting]
        )
        dates = [when for *_, when in waiting if when is not None]
        inbox.raise_notice(
            "backorder_created",
            subject,
            body,
            min(at for at, *_ in waiting),
            f"order:{order}",
            waiting[0][1],
            ("order", order),
            max(dates) if dates else None,
        )

    # Products at or below their low level now.
    ratio = float(SETTINGS["low_stock_ratio"].default)
    stock_product, on_hand, reserved = _table(tables, "stock", "product_id", "on_hand", "reserved")
    for product, held, taken in zip(stock_product, on_hand, reserved, strict=True):
        point = reorder_point[product - 1]
        free = held - taken
        if point > 0 and free <= ratio * point:
            subject, body = notices.low_stock(
                sku[product - 1], name[product - 1], None, free, point, today
            )
            # When it crossed is not kept; spread over the last days (older ones are read).
            at = start_of_day - dt.timedelta(hours=(7 * product) % LOW_STOCK_SPREAD_HOURS)
            inbox.raise_notice(
                "low_stock", subject, body, at, f"product:{product}", ref=("product", product)
            )

    # Purchase orders past their expected date.
    (supplier_name,) = _table(tables, "suppliers", "name")
    po = _table(tables, "purchase_orders", "id", "number", "supplier_id", "status", "expected_date")
    for po_id, number, supplier, status, expected in zip(*po, strict=True):
        expected_day = _date(expected)
        if status in OPEN_PO_STATUSES and expected_day is not None and expected_day < today:
            subject, body = notices.po_overdue(
                number, supplier_name[supplier - 1], expected_day, today
            )
            inbox.raise_notice(
                "po_overdue",
                subject,
                body,
                start_of_day,
                f"purchase_order:{po_id}",
                ref=("purchase_order", po_id),
                about=expected_day,
            )

    # Outbound shipments on their way that will arrive after the promised date.
    ships = _table(
        tables,
        "shipments",
        *["id", "number", "order_id", "status", "shipped_at", "promised_date", "estimated_arrival"],
    )
    (order_customer,) = _table(tables, "orders", "customer_id")
    for s_id, number, order, status, shipped, promised, estimate in zip(*ships, strict=True):
        promised_day, estimate_day = _date(promised), _date(estimate)
        if (
            order is not None
            and status in ("planned", "in_transit", "delayed")
            and promised_day is not None
            and estimate_day is not None
            and estimate_day > promised_day
        ):
            subject, body = notices.shipment_late(
                number, order_number[order - 1], promised_day, estimate_day
            )
            inbox.raise_notice(
                "shipment_late",
                subject,
                body,
                max(dt.datetime.fromisoformat(shipped), start_of_day - dt.timedelta(days=1)),
                f"shipment:{s_id}",
                order_customer[order - 1],
                ("shipment", s_id),
                estimate_day,
            )

    # Unhappy feedback of the last weeks, one notice per customer per repeat window.
    window = dt.timedelta(hours=float(SETTINGS["notice_repeat_hours"].default))
    since = now - dt.timedelta(days=FEEDBACK_DAYS)
    last_told: dict[int, dt.datetime] = {}
    fb = _table(tables, "feedback", "id", "created_at", "customer_id", "csat", "nps", "comment")
    for f_id, created, customer, csat, nps, comment in zip(*fb, strict=True):
        at = dt.datetime.fromisoformat(created)
        if at < since or not notices.is_negative_feedback(csat, nps, None):
            continue
        if customer in last_told and at - last_told[customer] < window:
            continue
        last_told[customer] = at
        subject, body = notices.negative_feedback(
            customer_name[customer - 1], csat, nps, None, comment
        )
        inbox.raise_notice(
            "negative_feedback",
            subject,
            body,
            at,
            f"customer:{customer}",
            customer,
            ("feedback", f_id),
        )

    inbox.rows.sort(key=lambda row: row[0])
    return COLUMNS, [(i, *row) for i, row in enumerate(inbox.rows, start=1)]
