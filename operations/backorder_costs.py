"""The backorder cost ledger: money a backorder costs, booked when the cost arises.

- ``handling``: administrative handling, the ``backorder_handling_cost`` setting, booked when a
  backorder is created (at ordering, or by a short pick);
- ``split_freight``: the ``split_freight_cost`` setting, booked when an order with a backorder
  leaves in a second (or later) delivery;
- ``expedite`` and ``credit``: a supplier's expediting fee or a credit or discount given to the
  customer, booked by a person with :func:`record_backorder_cost` (validated and audited).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from data.db import write_session
from data.schema import Backorder, BackorderCost, Order, OrderLine, Shipment, utcnow
from data.settings import get_setting
from operations import audit
from operations.errors import NotFound, ValidationError
from operations.rollup import add_costs
from operations.transactions import write_operation
from operations.validation import actor_name, identifier, one_of, optional_moment, text

MANUAL_COST_KINDS = ("expedite", "credit")
MAX_COST = Decimal("100000")
CENT = Decimal("0.01")


def _setting_amount(session: Session, key: str) -> Decimal:
    # The settings this transaction read already, if any (operations.notification_rules).
    known = session.info.get("larder_settings")
    value = known[key] if known is not None else get_setting(session.connection(), key)
    return Decimal(str(value)).quantize(CENT, ROUND_HALF_UP)


def book_handling(
    session: Session,
    backorders: Iterable[Backorder],
    now: dt.datetime,
    places: dict[int, tuple[str, str]] | None = None,
) -> None:
    """Handling cost for each new backorder (flushed, so it has an id), in one plain insert.

    ``places``: each backorder's (category, segment) when the caller knows them (for the
    weekly cost summary, which reads them otherwise).
    """
    ids = [backorder.id for backorder in backorders]
    if not ids:
        return
    amount = _setting_amount(session, "backorder_handling_cost")
    if amount > 0:
        rows = [
            {
                "at": now,
                "backorder_id": backorder_id,
                "kind": "handling",
                "amount": amount,
                "note": "Backorder handling",
            }
            for backorder_id in ids
        ]
        session.connection().execute(_INSERT_COST, rows)
        add_costs(session, rows, places)


_INSERT_COST = insert(BackorderCost.__table__)


def book_split_freight(
    session: Session, *, order_id: int, shipment: Shipment, now: dt.datetime
) -> None:
    """Split freight when this shipment is not the order's first and the order had a backorder."""
    earlier = session.execute(
        select(func.count())
        .select_from(Shipment)
        .where(
            Shipment.order_id == order_id,
            Shipment.direction == "outbound",
            Shipment.id != shipment.id,
        )
    ).scalar_one()
    if not earlier:
        return
    backorder_id = session.execute(
        select(Backorder.id)
        .join(OrderLine, OrderLine.id == Backorder.order_line_id)
        .where(OrderLine.order_id == order_id, Backorder.qty_filled > 0)
        .order_by(Backorder.id)
        .limit(1)
    ).scalar_one_or_none()
    amount = _setting_amount(session, "split_freight_cost")
    if backorder_id is None or amount <= 0:
        return
    row = {
        "at": now,
        "backorder_id": backorder_id,
        "kind": "split_freight",
        "amount": amount,
        "note": f"Separate delivery {shipment.number}",
    }
    session.add(BackorderCost(**row))
    add_costs(session, [row])


def _amount(value: object) -> Decimal:
    try:
        amount = Decimal(str(value)).quantize(CENT, ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        raise ValidationError(f"The amount must be a number of euros, not {value!r}.") from None
    if not amount.is_finite() or amount <= 0:
        raise ValidationError("The amount must be more than zero euros.")
    if amount > MAX_COST:
        raise ValidationError(f"The amount must be at most €{MAX_COST:,}; split larger costs.")
    return amount


@write_operation
def record_backorder_cost(
    engine: Engine,
    *,
    backorder_id: int,
    kind: str,
    amount: object,
    actor: str,
    note: str = "",
    now: dt.datetime | None = None,
) -> int:
    """Book an expediting fee or a credit given for a backorder; returns the ledger entry id."""
    actor = actor_name(actor)
    backorder_id = identifier(backorder_id, "Backorder")
    kind = one_of(kind, MANUAL_COST_KINDS, "Cost kind")
    value = _amount(amount)
    note = text(note, "Note", max_length=200, required=False)
    now = optional_moment(now, "The time of the cost") or utcnow()
    with write_session(engine) as session:
        found = session.execute(
            select(Backorder.id, Order.number)
            .join(OrderLine, OrderLine.id == Backorder.order_line_id)
            .join(Order, Order.id == OrderLine.order_id)
            .where(Backorder.id == backorder_id)
        ).first()
        if found is None:
            raise NotFound(f"Backorder {backorder_id} does not exist.")
        row = {"at": now, "backorder_id": backorder_id, "kind": kind, "amount": value, "note": note}
        entry = BackorderCost(**row)
        session.add(entry)
        add_costs(session, [row])
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="record_backorder_cost",
            entity="backorder",
            entity_id=backorder_id,
            after={"kind": kind, "amount": str(value), "order": found.number},
            note=note,
            at=now,
        )
        return entry.id
