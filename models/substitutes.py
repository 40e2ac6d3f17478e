"""Ranking substitutes for a product a customer cannot get in time.

A candidate must serve the same use and must not add an allergen the original does not have;
those are rules, not preferences. The rest is a score: available on the date needed, a price
close to the original's, a good margin, and having been accepted by this customer before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data.schema import (
    Order,
    OrderLine,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Stock,
)

# Score weights (points); the candidate with the most points is offered first.
WEIGHT_AVAILABLE = 4.0
WEIGHT_PRICE = 2.0
WEIGHT_MARGIN = 1.0
WEIGHT_ACCEPTED = 2.0
LATE_PENALTY_PER_DAY = 0.5  # points lost per day a candidate arrives after the needed date
CANDIDATE_COLUMNS = [
    "product_id",
    "sku",
    "name",
    "use",
    "price",
    "cost",
    "allergens",
    "free",
    "available_date",
]


def allergen_set(value: object) -> frozenset[str]:
    """The allergens in a comma-separated field, lower-cased."""
    if value is None or (isinstance(value, float) and value != value):
        return frozenset()
    return frozenset(a.strip().lower() for a in str(value).split(",") if a.strip())


def rank_substitutes(
    original: Mapping,
    candidates: pd.DataFrame,
    needed_date: dt.date,
    accepted_before: set[int] | frozenset[int] = frozenset(),
    include_disallowed: bool = False,
) -> pd.DataFrame:
    """Candidates that may replace ``original``, best first, with their score and the reasons.

    ``original`` has ``product_id``, ``use``, ``price`` and ``allergens``; ``candidates`` has
    those plus ``cost`` and ``available_date`` (the day it can ship; NaT when unknown).
    Candidates that add an allergen are left out unless ``include_disallowed`` (then they are
    flagged ``allowed=False`` and ranked after every allowed one, so staff can see why).
    """
    columns = [*candidates.columns, "score", "allowed", "reason"]
    if candidates.empty:
        return pd.DataFrame(columns=columns)
    own_allergens = allergen_set(original.get("allergens"))
    base_price = float(original["price"]) or 1.0
    rows = []
    for cand in candidates.to_dict("records"):
        if cand["product_id"] == original["product_id"] or cand["use"] != original["use"]:
            continue
        added = sorted(allergen_set(cand.get("allergens")) - own_allergens)
        price, cost = float(cand["price"]), float(cand["cost"])
        price_change = price / base_price - 1
        margin = (price - cost) / price if price > 0 else 0.0
        available = pd.to_datetime(cand.get("available_date"))
        late_days = None if pd.isna(available) else (available.date() - needed_date).days
        score = WEIGHT_PRICE * max(0.0, 1 - abs(price_change)) + WEIGHT_MARGIN * margin
        notes = []
        if late_days is None:
            notes.append("no date known")
        elif late_days <= 0:
            score += WEIGHT_AVAILABLE
            notes.append("available in time")
        else:
            score += max(0.0, WEIGHT_AVAILABLE - LATE_PENALTY_PER_DAY * late_days)
            notes.append(f"{late_days} days late")
        notes.append(f"price {price_change:+.0%}")
        notes.append(f"margin {margin:.0%}")
        accepted = cand["product_id"] in accepted_before
        if accepted:
            score += WEIGHT_ACCEPTED
            notes.append("accepted before")
        if added:
            notes.append("adds " + ", ".join(added))
        rows.append(
            {**cand, "score": round(score, 3), "allowed": not added, "reason": "; ".join(notes)}
        )
    ranked = pd.DataFrame(rows, columns=columns)
    if not include_disallowed:
        ranked = ranked[ranked["allowed"].astype(bool)]
    return ranked.sort_values(["allowed", "score"], ascending=[False, False]).reset_index(drop=True)


def substitutes_for(
    session: Session, product_id: int, customer_id: int | None, needed_date: dt.date
) -> pd.DataFrame:
    """Ranked substitutes of a product for a customer, read from the database.

    Candidates are the active products of the same use; a listed substitute of another use is
    never offered (a kitchen cannot ice a cake with brown sugar). A candidate is available on the
    needed date when it has free stock (today) or an open purchase order due by then (its
    expected date).
    """
    original = session.get(Product, product_id)
    if original is None:
        raise ValueError(f"no product {product_id}")
    free = (
        select(Stock.product_id, func.sum(Stock.on_hand - Stock.reserved).label("free"))
        .group_by(Stock.product_id)
        .subquery()
    )
    inbound = (
        select(PurchaseOrderLine.product_id, func.min(PurchaseOrder.expected_date).label("due"))
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
        .where(
            PurchaseOrder.status.in_(("approved", "sent", "partially_received")),
            PurchaseOrderLine.qty_ordered > PurchaseOrderLine.qty_received,
        )
        .group_by(PurchaseOrderLine.product_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Product.id,
            Product.sku,
            Product.name,
            Product.use,
            Product.price,
            Product.cost,
            Product.allergens,
            func.coalesce(free.c.free, 0),
            inbound.c.due,
        )
        .outerjoin(free, free.c.product_id == Product.id)
        .outerjoin(inbound, inbound.c.product_id == Product.id)
        .where(
            Product.active.is_(True),
            Product.id != product_id,
            Product.use == original.use,
        )
    ).all()
    today = dt.date.today() if needed_date is None else min(dt.date.today(), needed_date)
    candidates = pd.DataFrame(
        [
            {
                "product_id": pid,
                "sku": sku,
                "name": name,
                "use": use,
                "price": float(price),
                "cost": float(cost),
                "allergens": allergens,
                "free": int(free_qty),
                "available_date": pd.Timestamp(today if free_qty > 0 else due)
                if (free_qty > 0 or due is not None)
                else pd.NaT,
            }
            for pid, sku, name, use, price, cost, allergens, free_qty, due in rows
        ],
        columns=CANDIDATE_COLUMNS,
    )
    accepted: set[int] = set()
    if customer_id is not None:
        accepted = set(
            session.scalars(
                select(OrderLine.product_id)
                .join(Order, Order.id == OrderLine.order_id)
                .where(Order.customer_id == customer_id, OrderLine.substitute_for_id == product_id)
                .distinct()
            ).all()
        )
    info = {
        "product_id": original.id,
        "use": original.use,
        "price": float(original.price),
        "allergens": original.allergens,
    }
    return rank_substitutes(info, candidates, needed_date, accepted)
