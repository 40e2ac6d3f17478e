"""Moving stock: every change to on_hand or reserved is one guarded UPDATE plus a ledger row.

Lock order used by every operation, so PostgreSQL never deadlocks: the order or purchase
order row (if any), then stock rows sorted by product id, then order lines, backorders and pick
tasks. Rows other tables point to (orders, POs, products, users…) are locked ``FOR NO KEY
UPDATE``: a plain ``FOR UPDATE`` also blocks the key-share lock a foreign-key check takes, so a
receipt holding its PO while waiting for stock deadlocked with an order that held the stock and
inserted a backorder pointing to that PO (found by the concurrency test). On SQLite the lock
clauses render as nothing; ``BEGIN IMMEDIATE`` already serializes writers there.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from data.schema import Order, Stock, StockLedger, Warehouse, utcnow
from operations.errors import NotFound

MAIN_WAREHOUSE_CODE = "MAIN"


def default_warehouse_id(session: Session) -> int:
    """The warehouse coded MAIN, else the first one."""
    main = session.execute(
        select(Warehouse.id).where(Warehouse.code == MAIN_WAREHOUSE_CODE)
    ).scalar_one_or_none()
    if main is not None:
        return main
    first = session.execute(select(Warehouse.id).order_by(Warehouse.id).limit(1)).scalar()
    if first is None:
        raise NotFound("No warehouse is set up yet: create one (code MAIN) before moving stock.")
    return first


def resolve_warehouse(session: Session, warehouse_id: int | None) -> int:
    if warehouse_id is None:
        return default_warehouse_id(session)
    if session.get(Warehouse, warehouse_id) is None:
        raise NotFound(f"Warehouse {warehouse_id} does not exist.")
    return warehouse_id


# Built once: constructing statements per call costs more than running them on SQLite.
_LOCK_STOCK = (
    select(Stock.product_id, Stock.on_hand, Stock.reserved)
    .where(
        Stock.warehouse_id == bindparam("warehouse_id"),
        Stock.product_id.in_(bindparam("product_ids", expanding=True)),
    )
    .order_by(Stock.product_id)
    .with_for_update()
)
_MOVE_STOCK = (
    update(Stock.__table__)
    .where(
        Stock.__table__.c.product_id == bindparam("pid"),
        Stock.__table__.c.warehouse_id == bindparam("wid"),
    )
    .values(
        on_hand=Stock.__table__.c.on_hand + bindparam("on_hand_delta"),
        reserved=Stock.__table__.c.reserved + bindparam("reserved_delta"),
        version=Stock.__table__.c.version + 1,
    )
)
_NEW_STOCK = insert(Stock.__table__)
_LEDGER = insert(StockLedger.__table__)


def lock_stock(
    session: Session, product_ids: Iterable[int], warehouse_id: int
) -> dict[int, tuple[int, int]]:
    """Lock the stock rows of ``product_ids`` (sorted) and return {product_id: (on_hand, reserved)}.

    Products without a stock row are absent from the result (nothing on hand).
    """
    ids = sorted(set(product_ids))
    if not ids:
        return {}
    rows = session.connection().execute(
        _LOCK_STOCK, {"warehouse_id": warehouse_id, "product_ids": ids}
    )
    return {pid: (on_hand, reserved) for pid, on_hand, reserved in rows}


def move_stock(
    session: Session,
    *,
    product_id: int,
    warehouse_id: int,
    reason: str,
    actor: str,
    on_hand_delta: int = 0,
    reserved_delta: int = 0,
    ref_type: str | None = None,
    ref_id: int | None = None,
    note: str = "",
) -> None:
    """Apply the deltas to one stock row and append the matching ledger row.

    The CHECK constraints (on_hand >= 0, 0 <= reserved <= on_hand) stop any move that would
    break the rules; callers validate first so the person sees a clear message instead.
    Runs on the session's connection directly (no ORM flush): stock rows are never ORM objects.
    """
    if on_hand_delta == 0 and reserved_delta == 0:
        return
    conn = session.connection()
    changed = conn.execute(
        _MOVE_STOCK,
        {
            "pid": product_id,
            "wid": warehouse_id,
            "on_hand_delta": on_hand_delta,
            "reserved_delta": reserved_delta,
        },
    ).rowcount
    if changed == 0:
        # First goods for this product in this warehouse (only an increase can get here).
        conn.execute(
            _NEW_STOCK,
            {
                "product_id": product_id,
                "warehouse_id": warehouse_id,
                "on_hand": on_hand_delta,
                "reserved": reserved_delta,
                "version": 1,
            },
        )
    conn.execute(
        _LEDGER,
        {
            "at": utcnow(),
            "product_id": product_id,
            "warehouse_id": warehouse_id,
            "on_hand_delta": on_hand_delta,
            "reserved_delta": reserved_delta,
            "reason": reason,
            "ref_type": ref_type,
            "ref_id": ref_id,
            "actor": actor,
            "note": note[:200],
        },
    )


def reserve_many(session: Session, moves: list[dict], *, warehouse_id: int, actor: str) -> None:
    """Reserve several lines' stock in two batched statements (the hot path of placing orders).

    Each move is ``{"product_id", "qty", "ref_id"}`` (an order line id). Only for products whose
    stock row the caller has locked and seen with enough free stock: the row must exist.
    """
    moves = [move for move in moves if move["qty"]]
    if not moves:
        return
    conn = session.connection()
    conn.execute(
        _MOVE_STOCK,
        [
            {
                "pid": m["product_id"],
                "wid": warehouse_id,
                "on_hand_delta": 0,
                "reserved_delta": m["qty"],
            }
            for m in sorted(moves, key=lambda m: m["product_id"])
        ],
    )
    at = utcnow()
    conn.execute(
        _LEDGER,
        [
            {
                "at": at,
                "product_id": m["product_id"],
                "warehouse_id": warehouse_id,
                "on_hand_delta": 0,
                "reserved_delta": m["qty"],
                "reason": "reserve",
                "ref_type": "order_line",
                "ref_id": m["ref_id"],
                "actor": actor,
                "note": "",
            }
            for m in moves
        ],
    )


def lock_order(session: Session, order_id: int) -> Order:
    """The order row, locked first (before its stock rows); NotFound when there is none."""
    order = session.execute(
        select(Order)
        .where(Order.id == order_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if order is None:
        raise NotFound(f"Order {order_id} does not exist.")
    return order


def adjust_many(
    session: Session,
    moves: list[tuple[int, int, bool]],
    *,
    warehouse_id: int,
    actor: str,
    ref_type: str,
    ref_id: int | None,
    note: str,
) -> None:
    """Book many on-hand changes (reason ``adjust``) in a few batched statements.

    Each move is ``(product_id, on_hand_delta, has_stock_row)``; the caller holds the stock
    locks and knows which products have no stock row yet (those get one). One ledger row each.
    """
    moves = [move for move in moves if move[1]]
    if not moves:
        return
    conn = session.connection()
    existing = [
        {"pid": pid, "wid": warehouse_id, "on_hand_delta": delta, "reserved_delta": 0}
        for pid, delta, has_row in sorted(moves)
        if has_row
    ]
    if existing:
        conn.execute(_MOVE_STOCK, existing)
    fresh = [
        {
            "product_id": pid,
            "warehouse_id": warehouse_id,
            "on_hand": delta,
            "reserved": 0,
            "version": 1,
        }
        for pid, delta, has_row in moves
        if not has_row
    ]
    if fresh:
        conn.execute(_NEW_STOCK, fresh)
    at = utcnow()
    conn.execute(
        _LEDGER,
        [
            {
                "at": at,
                "product_id": pid,
                "warehouse_id": warehouse_id,
                "on_hand_delta": delta,
                "reserved_delta": 0,
                "reason": "adjust",
                "ref_type": ref_type,
                "ref_id": ref_id,
                "actor": actor,
                "note": note[:200],
            }
            for pid, delta, _ in moves
        ],
    )
