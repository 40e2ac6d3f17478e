"""Notification rules: every event that matters raises its notice through ``raise_notice``.

``raise_notice`` runs inside the caller's transaction. It reads the rule (``data.notices``):
switched off in settings means silence; a notice about the same subject (``dedup_key``) within
``notice_repeat_hours`` means silence too (a product that stays low does not notify every
order). Otherwise it writes one in-app row per audience through ``notify_many`` (roles, the customer,
each user of the customer's sales representative); customer and rep rows carry a mail address
when the rule mails, so the outbox sends them.

The event functions below (``stock_fell``, ``backorder_created``, ``promise_slipped``, ...) decide
whether their event happened and word it; the write-side operations call them.

Two transactions raising the same notice at the same moment could both pass the window check;
the callers hold the subject's row lock (stock, order, PO, shipment), and SQLite writes one at a
time, so in practice one notice is written.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from data import notices
from data.notices import RULES
from data.schema import (
    Backorder,
    Customer,
    Feedback,
    Notification,
    Order,
    PickTask,
    Product,
    PurchaseOrder,
    Shipment,
    Supplier,
    User,
)
from data.settings import all_settings
from operations.notifications import add_in_app, in_app_row, notify_many
from operations.outbox import has_webhooks

LATE_SHIPMENT_STATUSES = ("planned", "in_transit", "delayed")
SETTINGS_KEY = "larder_settings"  # where a session keeps the settings it read
AUDIENCE_KEY = "larder_audiences"  # where a session keeps customers' audiences read beforehand
TOLD_KEY = "larder_told"  # (kind, dedup key, now) -> told within the window, read beforehand


def _settings(session: Session) -> dict:
    """The settings, read once per transaction (an order of many lines asks per line)."""
    if SETTINGS_KEY not in session.info:
        session.info[SETTINGS_KEY] = all_settings(session.connection())
    return session.info[SETTINGS_KEY]


# Sales representatives' active users in id order: one rep's for a customer's audience, or
# every rep's, read once and kept for every customer of a batch of orders (operations.reference).
_REP_USERS = (
    select(User.sales_rep_id, User.id, User.email)
    .where(User.sales_rep_id.is_not(None), User.active.is_(True))
    .order_by(User.id)
)


def read_rep_users(
    session: Session, sales_rep_id: int | None = None
) -> dict[int, list[tuple[int, str | None]]]:
    """Rep id -> [(user id, mail) of its active users]: of ``sales_rep_id``, or of every rep."""
    query = _REP_USERS
    if sales_rep_id is not None:
        query = query.where(User.sales_rep_id == sales_rep_id)
    reps: dict[int, list[tuple[int, str | None]]] = {}
    for rep_id, user_id, email in session.execute(query):
        reps.setdefault(rep_id, []).append((user_id, email))
    return reps


def customer_audience(
    session: Session,
    customer_id: int,
    customer: Customer | None = None,
    rep_users: dict[int, list[tuple[int, str | None]]] | None = None,
) -> tuple[str | None, list[tuple[int, str | None]]] | None:
    """(customer's mail address, [(user id, mail) of their sales rep's active users]), or None.

    Read ahead of a write transaction and handed to it with :func:`remember_audience`, so a
    notice raised under the write lock needs no reads for its audience. ``customer``: the
    customer's row when the caller has read it already; ``rep_users``: every rep's users
    (:func:`read_rep_users`) when the caller keeps them, otherwise the rep's are read.
    """
    if customer is None:
        customer = session.get(Customer, customer_id)
    if customer is None:
        return None
    rep_id = customer.sales_rep_id
    if rep_id is None:
        return customer.email, []
    if rep_users is None:
        rep_users = read_rep_users(session, rep_id)
    return customer.email, list(rep_users.get(rep_id, []))


def remember_audience(session: Session, customer_id: int, audience) -> None:
    """Give a write session a customer's audience read by :func:`customer_audience`."""
    session.info.setdefault(AUDIENCE_KEY, {})[customer_id] = audience


def _audience(session: Session, customer_id: int):
    known = session.info.get(AUDIENCE_KEY, {})
    if customer_id in known:
        return known[customer_id]
    return customer_audience(session, customer_id)


# Built once (placing an order asks it whenever a product falls low).
_TOLD = (
    select(Notification.__table__.c.dedup_key)
    .where(
        Notification.__table__.c.dedup_key.in_(bindparam("keys", expanding=True)),
        Notification.__table__.c.kind == bindparam("kind"),
        Notification.__table__.c.created_at > bindparam("since"),
    )
    .distinct()
)


def read_told(session: Session, kind: str, dedup_keys: list[str], now: dt.datetime) -> None:
    """Read in one query which subjects were told of within the window (for many notices).

    The notices of ``kind`` raised next in this transaction about these subjects, at ``now``,
    then check no further; each notice written updates the answer.
    """
    hours = float(_settings(session)["notice_repeat_hours"])
    keys = sorted(set(dedup_keys))
    if hours <= 0 or not keys:
        return
    if session.new or session.dirty:  # notices added through the ORM count too
        session.flush()
    found = set(
        session.connection()
        .execute(_TOLD, {"keys": keys, "kind": kind, "since": now - dt.timedelta(hours=hours)})
        .scalars()
    )
    told = session.info.setdefault(TOLD_KEY, {})
    told.update(((kind, key, now), key in found) for key in keys)


def _told_recently(
    session: Session, kind: str, dedup_key: str, now: dt.datetime, hours: float
) -> bool:
    if hours <= 0:
        return False
    known = session.info.get(TOLD_KEY, {}).get((kind, dedup_key, now))
    if known is not None:
        return known
    since = now - dt.timedelta(hours=hours)
    found = session.execute(
        select(Notification.id)
        .where(
            Notification.dedup_key == dedup_key,
            Notification.kind == kind,
            Notification.created_at > since,
        )
        .limit(1)
    ).first()
    return found is not None


def raise_notice(
    session: Session,
    kind: str,
    *,
    subject: str,
    body: str,
    now: dt.datetime,
    dedup_key: str | None = None,
    customer_id: int | None = None,
    ref_type: str | None = None,
    ref_id: int | None = None,
    about_date: dt.date | None = None,
    new_subject: bool = False,
) -> int:
    """Tell the rule's audience about an event, once per subject per window; returns rows written.

    ``new_subject``: the subject was created in this transaction, so nobody was told of it yet.
    """
    rule = RULES[kind]
    settings = _settings(session)
    if not settings[rule.setting]:
        return 0
    if (
        dedup_key is not None
        and not new_subject
        and _told_recently(session, kind, dedup_key, now, float(settings["notice_repeat_hours"]))
    ):
        return 0
    # (role, user_id, mail address) per row
    targets: list[tuple[str | None, int | None, str | None]] = [
        (role, None, None) for role in rule.roles
    ]
    audience = None
    if customer_id is not None and (rule.to_customer or rule.to_sales_rep):
        audience = _audience(session, customer_id)
    if audience is not None and rule.to_customer:
        targets.append(("customer", None, audience[0] if rule.mail else None))
    if audience is not None and rule.to_sales_rep:
        targets += [(None, user_id, email if rule.mail else None) for user_id, email in audience[1]]
    if dedup_key is not None and (kind, dedup_key, now) in session.info.get(TOLD_KEY, {}):
        session.info[TOLD_KEY][(kind, dedup_key, now)] = True
    notify_many(
        session,
        [(role, user_id, email or None) for role, user_id, email in targets],
        kind=kind,
        subject=subject,
        body=body,
        customer_id=customer_id,
        ref_type=ref_type,
        ref_id=ref_id,
        created_at=now,
        dedup_key=dedup_key,
        about_date=about_date,
    )
    return len(targets)


# --- Stock ---------------------------------------------------------------------------------


def low_stock_key(product_id: int) -> str:
    """The subject of a product's low-stock notices (told once per window)."""
    return f"product:{product_id}"


def fell_low(session: Session, product: Product, free_before: int, free_after: int) -> bool:
    """Whether free stock crossed down to ``low_stock_ratio`` x the product's reorder point."""
    if product.reorder_point <= 0 or free_after >= free_before:
        return False
    ratio = float(_settings(session)["low_stock_ratio"])
    return free_before > ratio * product.reorder_point >= free_after


def stock_fell(
    session: Session, product: Product, free_before: int, free_after: int, now: dt.datetime
) -> int:
    """Low stock: free stock crossed down to ``low_stock_ratio`` x the reorder point."""
    if not fell_low(session, product, free_before, free_after):
        return 0
    subject, body = notices.low_stock(
        product.sku, product.name, free_before, free_after, product.reorder_point, now.date()
    )
    return raise_notice(
        session,
        "low_stock",
        subject=subject,
        body=body,
        now=now,
        dedup_key=low_stock_key(product.id),
        ref_type="product",
        ref_id=product.id,
    )


def stocks_fell(session: Session, falls: list[tuple[Product, int, int]], now: dt.datetime) -> int:
    """:func:`stock_fell` for several ``(product, free before, free after)`` at once.

    Without a webhook on low stock, the window is checked for all of them in one query and
    their notices go in one insert; returns the rows written.
    """
    fallen = [(product, before, after) for product, before, after in falls if after < before]
    fallen = [fall for fall in fallen if fell_low(session, *fall)]
    if not fallen:
        return 0
    rule = RULES["low_stock"]
    settings = _settings(session)
    if not settings[rule.setting]:
        return 0
    if rule.to_customer or rule.to_sales_rep or has_webhooks(session, rule.kind):
        return sum(stock_fell(session, *fall, now) for fall in fallen)
    hours = float(settings["notice_repeat_hours"])
    read_told(session, rule.kind, [low_stock_key(product.id) for product, _, _ in fallen], now)
    told = session.info.get(TOLD_KEY, {})
    rows = []
    for product, before, after in fallen:
        key = low_stock_key(product.id)
        if told.get((rule.kind, key, now)):
            continue
        if hours > 0:
            told[(rule.kind, key, now)] = True
        subject, body = notices.low_stock(
            product.sku, product.name, before, after, product.reorder_point, now.date()
        )
        rows += [
            in_app_row(
                kind=rule.kind,
                subject=subject,
                body=body,
                role=role,
                created_at=now,
                dedup_key=key,
                ref_type="product",
                ref_id=product.id,
            )
            for role in rule.roles
        ]
    add_in_app(session, rows)
    return len(rows)


def short_pick(
    session: Session, task: PickTask, sku: str, missing: int, note: str, now: dt.datetime
) -> int:
    subject, body = notices.short_pick(sku, missing, task.id, task.qty_picked, task.qty, note)
    return raise_notice(
        session,
        "short_pick",
        subject=subject,
        body=body,
        now=now,
        dedup_key=f"pick_task:{task.id}",
        ref_type="pick_task",
        ref_id=task.id,
    )


# --- Backorders and promises ---------------------------------------------------------------


def backorder_created(
    session: Session,
    *,
    customer_id: int,
    order_number: str,
    lines: list[tuple[str, int, dt.date | None]],
    now: dt.datetime,
    dedup_key: str,
    ref_type: str,
    ref_id: int,
    new_subject: bool = False,
) -> int:
    """Units went on backorder (``lines``: SKU, units, expected date): tell the customer."""
    lines = [line for line in lines if line[1] > 0]
    if not lines:
        return 0
    subject, body = notices.backorder_created(order_number, lines)
    dates = [expected for _, _, expected in lines if expected is not None]
    return raise_notice(
        session,
        "backorder_created",
        subject=subject,
        body=body,
        now=now,
        dedup_key=dedup_key,
        customer_id=customer_id,
        ref_type=ref_type,
        ref_id=ref_id,
        about_date=max(dates) if dates else None,
        new_subject=new_subject,
    )


def last_told_date(session: Session, backorder_id: int) -> dt.date | None:
    """The latest expected date a slip notice announced for this backorder (None: never told)."""
    return session.execute(
        select(func.max(Notification.about_date)).where(
            Notification.kind == "promise_slipped",
            Notification.dedup_key == f"backorder:{backorder_id}",
        )
    ).scalar_one()


def promise_slipped(session: Session, backorder: Backorder, now: dt.datetime) -> int:
    """The estimate is later than the promise, and later than any date told since: tell them."""
    if backorder.status != "open" or backorder.estimated_date is None:
        return 0
    told = last_told_date(session, backorder.id)
    known = [d for d in (backorder.promised_date, told) if d is not None]
    if not known or backorder.estimated_date <= max(known):
        return 0
    customer = session.get(Customer, backorder.customer_id)
    sku = session.execute(
        select(Product.sku).where(Product.id == backorder.product_id)
    ).scalar_one()
    subject, body = notices.promise_slipped(
        sku,
        customer.name,
        backorder.promised_date,
        told,
        backorder.estimated_date,
        backorder.estimated_late_date,
        backorder.estimate_reason,
    )
    return raise_notice(
        session,
        "promise_slipped",
        subject=subject,
        body=body,
        now=now,
        dedup_key=f"backorder:{backorder.id}",
        customer_id=customer.id,
        ref_type="backorder",
        ref_id=backorder.id,
        about_date=backorder.estimated_date,
    )


# --- Purchasing ----------------------------------------------------------------------------


def po_moved_later(session: Session, po: PurchaseOrder, before: dt.date, now: dt.datetime) -> int:
    if po.expected_date is None or po.expected_date <= before:
        return 0
    subject, body = notices.po_late(po.number, before, po.expected_date)
    return raise_notice(
        session,
        "po_late",
        subject=subject,
        body=body,
        now=now,
        dedup_key=f"purchase_order:{po.id}",
        ref_type="purchase_order",
        ref_id=po.id,
        about_date=po.expected_date,
    )


def po_overdue(session: Session, po: PurchaseOrder, now: dt.datetime) -> int:
    """An open PO past its expected date and not fully received."""
    if (
        po.status not in ("approved", "sent", "partially_received")
        or po.expected_date is None
        or po.expected_date >= now.date()
    ):
        return 0
    supplier = session.execute(
        select(Supplier.name).where(Supplier.id == po.supplier_id)
    ).scalar_one()
    subject, body = notices.po_overdue(po.number, supplier, po.expected_date, now.date())
    return raise_notice(
        session,
        "po_overdue",
        subject=subject,
        body=body,
        now=now,
        dedup_key=f"purchase_order:{po.id}",
        ref_type="purchase_order",
        ref_id=po.id,
        about_date=po.expected_date,
    )


def pos_drafted(session: Session, pos: list[PurchaseOrder], now: dt.datetime) -> int:
    if not pos:
        return 0
    subject, body = notices.po_drafted([po.number for po in pos])
    return raise_notice(
        session,
        "po_drafted",
        subject=subject,
        body=body,
        now=now,
        ref_type="purchase_order",
        ref_id=pos[0].id,
    )


# --- Shipments -----------------------------------------------------------------------------


def _order_of(session: Session, shipment: Shipment) -> Order | None:
    return None if shipment.order_id is None else session.get(Order, shipment.order_id)


def shipment_late(session: Session, shipment: Shipment, now: dt.datetime) -> int:
    """An outbound shipment not yet delivered whose estimate is after the promised date."""
    if (
        shipment.direction != "outbound"
        or shipment.status not in LATE_SHIPMENT_STATUSES
        or shipment.promised_date is None
        or shipment.estimated_arrival is None
        or shipment.estimated_arrival <= shipment.promised_date
    ):
        return 0
    order = _order_of(session, shipment)
    subject, body = notices.shipment_late(
        shipment.number,
        order.number if order else shipment.number,
        shipment.promised_date,
        shipment.estimated_arrival,
    )
    return raise_notice(
        session,
        "shipment_late",
        subject=subject,
        body=body,
        now=now,
        dedup_key=f"shipment:{shipment.id}",
        customer_id=order.customer_id if order else None,
        ref_type="shipment",
        ref_id=shipment.id,
        about_date=shipment.estimated_arrival,
    )


def delivery_failed(
    session: Session,
    shipment: Shipment,
    reason: str,
    next_attempt: dt.date | None,
    now: dt.datetime,
) -> int:
    order = _order_of(session, shipment)
    subject, body = notices.delivery_failed(
        shipment.number, order.number if order else shipment.number, reason, next_attempt
    )
    return raise_notice(
        session,
        "delivery_failed",
        subject=subject,
        body=body,
        now=now,
        dedup_key=f"shipment:{shipment.id}",
        customer_id=order.customer_id if order else None,
        ref_type="shipment",
        ref_id=shipment.id,
        about_date=next_attempt,
    )


# --- Feedback ------------------------------------------------------------------------------


def feedback_received(session: Session, feedback: Feedback, now: dt.datetime) -> int:
    """Low CSAT, an NPS detractor or a negative comment: tell the rep and customer service."""
    if not notices.is_negative_feedback(feedback.csat, feedback.nps, feedback.sentiment):
        return 0
    name = session.execute(
        select(Customer.name).where(Customer.id == feedback.customer_id)
    ).scalar_one()
    subject, body = notices.negative_feedback(
        name, feedback.csat, feedback.nps, feedback.sentiment, feedback.comment
    )
    return raise_notice(
        session,
        "negative_feedback",
        subject=subject,
        body=body,
        now=now,
        dedup_key=f"customer:{feedback.customer_id}",
        customer_id=feedback.customer_id,
        ref_type="feedback",
        ref_id=feedback.id,
    )
