"""The notices Larder raises, declared once: who hears of each event, and what it says.

Each rule names its audience (roles; the customer themself; the customer's sales
representative), the setting that switches it off, and whether the customer and the rep hear by
mail as well as in the app. The wording functions are plain (values in, subject and body out) so
the write side (``operations.notification_rules``) and the demo generator say the same thing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class NoticeRule:
    kind: str
    setting: str  # a boolean in data/settings.py; off means the rule stays silent
    roles: tuple[str, ...] = ()
    to_customer: bool = False  # the customer's own users see it (role "customer", their id)
    to_sales_rep: bool = False  # every user of the customer's sales representative
    mail: bool = False  # the customer and the rep also get it by mail (through the outbox)


RULES: dict[str, NoticeRule] = {
    rule.kind: rule
    for rule in (
        NoticeRule("low_stock", "notify_low_stock", ("purchasing_manager", "warehouse_manager")),
        NoticeRule(
            "backorder_created",
            "notify_backorder_created",
            to_customer=True,
            to_sales_rep=True,
            mail=True,
        ),
        NoticeRule(
            "promise_slipped",
            "notify_promise_slipped",
            ("customer_service",),
            to_customer=True,
            to_sales_rep=True,
            mail=True,
        ),
        NoticeRule("po_late", "notify_po_late", ("logistics_manager", "purchasing_manager")),
        NoticeRule("po_overdue", "notify_po_overdue", ("purchasing_manager", "logistics_manager")),
        NoticeRule(
            "shipment_late",
            "notify_shipment_late",
            ("logistics_manager",),
            to_customer=True,
            to_sales_rep=True,
            mail=True,
        ),
        NoticeRule(
            "delivery_failed",
            "notify_delivery_failed",
            ("logistics_manager", "customer_service"),
            to_customer=True,
            to_sales_rep=True,
            mail=True,
        ),
        NoticeRule(
            "negative_feedback",
            "notify_negative_feedback",
            ("customer_service",),
            to_sales_rep=True,
        ),
        NoticeRule("short_pick", "notify_short_pick", ("warehouse_manager",)),
        NoticeRule("po_drafted", "notify_po_drafted", ("purchasing_manager",)),
    )
}

# What counts as negative feedback: a CSAT of 2 or less, an NPS detractor (0-6), or a comment
# whose sentiment score is at most this (VADER's compound score, -1..1).
NEGATIVE_CSAT_AT_MOST = 2
NEGATIVE_NPS_AT_MOST = 6
NEGATIVE_SENTIMENT_AT_MOST = -0.3
COMMENT_EXCERPT = 160


def day(value: dt.date | None) -> str:
    """A date as people read it: 13 Dec 2026 ('not known yet' when missing)."""
    if value is None:
        return "not known yet"
    return f"{value.day} {value:%b %Y}"


def low_stock(
    sku: str, name: str, free_before: int | None, free_after: int, reorder_point: int, on: dt.date
) -> tuple[str, str]:
    subject = f"{sku} is low: {free_after} available, reorder point {reorder_point}"
    if free_before is None:
        return subject, f"{name}: {free_after} free on {day(on)}, at or below its low level."
    return subject, f"{name}: free stock fell from {free_before} to {free_after} on {day(on)}."


def backorder_created(
    order_number: str, lines: list[tuple[str, int, dt.date | None]]
) -> tuple[str, str]:
    """``lines`` are (SKU, units on backorder, expected date)."""
    units = sum(qty for _, qty, _ in lines)
    dates = [expected for _, _, expected in lines if expected is not None]
    latest = f", expected by {day(max(dates))}" if dates else ""
    subject = f"{order_number}: {units} unit{'s' if units != 1 else ''} on backorder{latest}"
    body = "\n".join(f"{sku}: {qty} on backorder, expected {day(when)}" for sku, qty, when in lines)
    return subject, body


def is_negative_feedback(csat: int | None, nps: int | None, sentiment: float | None) -> bool:
    return (
        (csat is not None and csat <= NEGATIVE_CSAT_AT_MOST)
        or (nps is not None and nps <= NEGATIVE_NPS_AT_MOST)
        or (sentiment is not None and sentiment <= NEGATIVE_SENTIMENT_AT_MOST)
    )


def negative_feedback(
    customer_name: str,
    csat: int | None,
    nps: int | None,
    sentiment: float | None,
    comment: str,
) -> tuple[str, str]:
    scores = [
        f"CSAT {csat}" if csat is not None else "",
        f"NPS {nps}" if nps is not None else "",
        f"sentiment {sentiment:+.2f}" if sentiment is not None else "",
    ]
    excerpt = comment.strip()
    if len(excerpt) > COMMENT_EXCERPT:
        excerpt = excerpt[: COMMENT_EXCERPT - 1] + "…"
    return (
        f"Unhappy feedback from {customer_name}: {', '.join(s for s in scores if s)}",
        excerpt or "No comment given.",
    )


def promise_slipped(
    sku: str,
    customer_name: str,
    promised: dt.date | None,
    told: dt.date | None,
    expected: dt.date | None,
    late_case: dt.date | None,
    reason: str,
) -> tuple[str, str]:
    before = f", last told {day(told)}" if told is not None and told != promised else ""
    return (
        f"Backorder of {sku} for {customer_name} now expected {day(expected)}",
        f"Promised {day(promised)}{before}, now expected {day(expected)} "
        f"(late case {day(late_case)}): {reason}.",
    )


def po_late(number: str, before: dt.date, after: dt.date) -> tuple[str, str]:
    return (
        f"{number} moved from {day(before)} to {day(after)}",
        f"{(after - before).days} days later than expected; waiting backorders are re-promised.",
    )


def po_overdue(number: str, supplier: str, expected: dt.date, today: dt.date) -> tuple[str, str]:
    days = (today - expected).days
    return (
        f"{number} from {supplier} is {days} day{'s' if days != 1 else ''} overdue",
        f"Expected {day(expected)} and not received yet: chase the supplier or record a new date.",
    )


def shipment_late(
    number: str, order_number: str, promised: dt.date, estimate: dt.date
) -> tuple[str, str]:
    days = (estimate - promised).days
    return (
        f"{order_number} will arrive late: {number} now expected {day(estimate)}",
        f"Promised {day(promised)}; the carrier's estimate is {days} "
        f"day{'s' if days != 1 else ''} later.",
    )


def delivery_failed(
    number: str, order_number: str, reason: str, next_attempt: dt.date | None
) -> tuple[str, str]:
    again = f" Next attempt {day(next_attempt)}." if next_attempt else " A new date will follow."
    return (f"Delivery of {order_number} failed ({number})", f"{reason}.{again}")


def short_pick(sku: str, missing: int, task_id: int, found: int, booked: int, note: str):
    return (
        f"Short pick of {sku}: {missing} missing on task {task_id}",
        f"Found {found} of {booked}. Count the product and record it. {note}".strip(),
    )


def po_drafted(numbers: list[str]) -> tuple[str, str]:
    return (f"{len(numbers)} purchase order(s) drafted for review", ", ".join(numbers))
