"""Placing and cancelling customer orders: reserve what is there, backorder the rest.

Backorder choices (the customer's ``backorder_preference`` unless the order says otherwise):

- ``accept_backorder``: reserve what is available, backorder the rest of each line.
- ``ship_complete``: a line that can be served in full is reserved; a short line reserves
  nothing (its free stock stays available to others) and is backordered whole. The order gets
  no pick tasks until no line is on backorder any more, so it leaves the warehouse complete.
- ``cancel_short``: reserve what is available and cancel the rest; the cancelled part is
  recorded as a cancelled backorder (a lost sale, reason "cancel_short").

Every short quantity counts as demand in ``demand_daily`` whatever the choice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection, Engine, bindparam, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from data.db import core_connection, read_connection, write_session
from data.numbering import numbered_insert
from data.schema import (
    BACKORDER_PREFERENCES,
    CHANNELS,
    ORDER_PRIORITIES,
    Backorder,
    Customer,
    DemandDaily,
    Order,
    OrderLine,
    PickTask,
    Product,
    Stock,
    utcnow,
)
from models.promise import Estimate, PromiseInputs, read_promise_inputs
from operations import audit, notification_rules
from operations.allocation import fill_backorders
from operations.backorder_costs import book_handling
from operations.errors import InvalidState, NotFound, ValidationError
from operations.limits import check_sizes
from operations.outbox import active_webhooks, remember_opt_out, remember_webhooks
from operations.pick_tasks import cancel_line_tasks, sync_order_tasks
from operations.reference import Reference, reference
from operations.rollup import LineContext, RollupChange, add_weekly_demand, week_of
from operations.root_cause import ShortageFacts, decide_cause, shortage_facts
from operations.stock import (
    lock_order,
    lock_stock,
    move_stock,
    reserve_many,
    resolve_warehouse,
)
from operations.transactions import write_operation
from operations.validation import (
    a_date,
    actor_name,
    excerpt,
    flag,
    identifier,
    one_of,
    optional_identifier,
    optional_moment,
    quantity,
    text,
)

MAX_LINES_PER_ORDER = 500
CLOSED_ORDER_STATUSES = ("shipped", "delivered", "cancelled")


@dataclass(frozen=True)
class PlacedLine:
    line_id: int
    product_id: int
    sku: str
    qty_ordered: int
    qty_allocated: int
    qty_backordered: int
    qty_cancelled: int
    expected_date: dt.date | None
    estimate_reason: str


@dataclass(frozen=True)
class PlacedOrder:
    order_id: int
    number: str
    lines: list[PlacedLine]


def _checked_lines(lines: object) -> list[tuple[str, int, str | None]]:
    """(SKU, quantity, substitute-for SKU or None) per line, each checked."""
    if not isinstance(lines, (list, tuple)) or not lines:
        raise ValidationError("An order needs at least one line (a SKU and a quantity).")
    if len(lines) > MAX_LINES_PER_ORDER:
        raise ValidationError(
            f"An order can have at most {MAX_LINES_PER_ORDER} lines; split it into several orders."
        )
    checked: list[tuple[str, int, str | None]] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not isinstance(line, (list, tuple)) or len(line) not in (2, 3):
            raise ValidationError(
                f"Line {number} must be a pair (SKU, quantity), not {excerpt(line)}."
            )
        sku = text(line[0], f"The SKU on line {number}", max_length=20).upper()
        qty = quantity(line[1], f"The quantity of {sku}")
        instead_of = None
        if len(line) == 3 and line[2] is not None:
            instead_of = text(line[2], f"The SKU {sku} replaces", max_length=20).upper()
            if instead_of == sku:
                raise ValidationError(f"{sku} cannot be a substitute for itself.")
        if sku in seen:
            raise ValidationError(
                f"SKU {sku} appears on more than one line: put the whole quantity on one line."
            )
        seen.add(sku)
        checked.append((sku, qty, instead_of))
    return checked


def _demand_upsert(dialect: str):
    """INSERT … ON CONFLICT DO UPDATE adding to the day's totals (same SQL on both databases)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(DemandDaily.__table__)
    excluded = statement.excluded
    table = DemandDaily.__table__.c
    return statement.on_conflict_do_update(
        index_elements=[table.day, table.product_id, table.segment],
        set_={
            "lines": table.lines + excluded.lines,
            "lines_short": table.lines_short + excluded.lines_short,
            "qty_ordered": table.qty_ordered + excluded.qty_ordered,
            "qty_short": table.qty_short + excluded.qty_short,
            "revenue": table.revenue + excluded.revenue,
        },
    )


_DEMAND_UPSERT = {dialect: _demand_upsert(dialect) for dialect in ("sqlite", "postgresql")}


def _upsert_demand(session: Session, rows: list[dict]) -> None:
    """Add this order's lines to the daily demand summary (and its weekly one)."""
    if not rows:
        return
    # One row per key: an imported order may repeat a SKU on several lines.
    merged: dict[tuple, dict] = {}
    for row in rows:
        key = (row["day"], row["product_id"], row["segment"])
        if key in merged:
            for name in ("lines", "lines_short", "qty_ordered", "qty_short", "revenue"):
                merged[key][name] += row[name]
        else:
            merged[key] = dict(row)
    conn = session.connection()
    # Sorted so concurrent orders take the summary rows' locks in the same order.
    conn.execute(
        _DEMAND_UPSERT[conn.dialect.name],
        sorted(merged.values(), key=lambda row: row["product_id"]),
    )
    add_weekly_demand(session, rows)


# A wanted line: (sku, qty, replaced sku or None, unit price or None for the list price).
Wanted = tuple[str, int, str | None, Decimal | None]


@dataclass
class _Prepared:
    """What placing an order reads before it takes any lock.

    The Shop's :func:`place_order` reads it in a read transaction of its own; the import reads
    it inside its one transaction (see :func:`place_in_session`).
    """

    customer: Customer
    choice: str
    products: dict[str, Product]
    warehouse_id: int
    settings: dict
    elsewhere: dict[int, int]  # product -> free units in the other warehouses
    facts: dict[int, ShortageFacts]  # products expected to go short -> root-cause facts
    promises: PromiseInputs | None  # estimate inputs of the products expected to backorder
    # line number -> (free after, short, queued ahead by this order, estimate)
    estimates: dict[int, tuple[int, int, tuple[int, int], Estimate]]
    audience: tuple | None  # the customer's notice audience, read when a line may go short
    webhooks: dict | None  # the active webhooks, read when a notice may be raised


def _split(qty: int, available: int, choice: str) -> tuple[int, int]:
    """(units reserved, units short) of a line with ``available`` units free."""
    available = max(available, 0)
    if choice == "ship_complete" and available < qty:
        return 0, qty  # a short line reserves nothing: its free stock stays with others
    reserve = min(qty, available)
    return reserve, qty - reserve


def _split_lines(
    wanted: list[Wanted],
    products: dict[str, Product],
    free_here: dict[int, int],
    elsewhere: dict[int, int],
    choice: str,
) -> tuple[list[tuple[int, int, int]], dict[int, int], dict[int, int]]:
    """Every line split in line order on ``free_here`` (a product may be on several lines).

    Returns per line (units free before it, reserved, short); the free units of this warehouse
    after the order's reservations; and per product the free units over every warehouse after
    them (what a backorder's estimate starts from).
    """
    here = dict(free_here)
    splits = []
    reserved: dict[int, int] = {}
    for sku, qty, *_ in wanted:
        pid = products[sku].id
        available = here.get(pid, 0)
        reserve, short = _split(qty, available, choice)
        here[pid] = max(available, 0) - reserve
        reserved[pid] = reserved.get(pid, 0) + reserve
        splits.append((available, reserve, short))
    free_after = {
        pid: elsewhere.get(pid, 0) + free_here.get(pid, 0) - units
        for pid, units in reserved.items()
    }
    return splits, here, free_after


def _waiting(lines: list[tuple[int, int, int]]) -> list[tuple[int, int, int, tuple[int, int]]]:
    """(line number, product, short, queued ahead by this order) of each short line.

    A product on several short lines queues each behind the earlier ones of the same order
    (units and backorders), as if they had been placed one after the other.
    """
    queued: dict[int, tuple[int, int]] = {}
    out = []
    for line_no, pid, short in lines:
        if short:
            behind = queued.get(pid, (0, 0))
            out.append((line_no, pid, short, behind))
            queued[pid] = (behind[0] + short, behind[1] + 1)
    return out


def _prepare(
    ref: Reference,
    *,
    wanted: list[Wanted],
    customer: Customer,
    backorder_choice: str | None,
    warehouse_id: int | None,
    confirm_large: bool,
    today: dt.date,
    notices: bool = True,
) -> _Prepared:
    """Check the order and read everything it needs, estimates of likely short lines included.

    For the Shop this runs outside the write transaction: the stock may move before the locks
    are taken, so the locked part recomputes what changed (see :func:`place_order`). Without
    ``notices`` the notices' audience and webhooks are not read.
    """
    session = ref.session
    choice = backorder_choice or customer.backorder_preference
    skus = [sku for sku, *_ in wanted]
    replaced = [instead for _, _, instead, _ in wanted if instead]
    products = ref.products(skus + replaced)
    unknown = [sku for sku in skus + replaced if sku not in products]
    if unknown:
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise NotFound(
            f"Unknown SKU: {', '.join(unknown[:5])}{more}. Check the code in the catalogue."
        )
    inactive = [sku for sku in skus if not products[sku].active]
    if inactive:
        raise InvalidState(f"No longer sold: {', '.join(inactive)}. Choose a substitute instead.")
    settings = ref.settings()
    check_sizes(
        session,
        ((products[sku], qty, f"The quantity of {sku}") for sku, qty, *_ in wanted),
        confirmed=confirm_large,
        settings=settings,
    )
    warehouse_id = ref.warehouse(warehouse_id)
    here: dict[int, int] = {}
    elsewhere: dict[int, int] = {}
    for pid, wid, on_hand, reserved in core_connection(session).execute(
        _READ_STOCK, {"ids": [products[sku].id for sku in skus]}
    ):
        into = here if wid == warehouse_id else elsewhere
        into[pid] = into.get(pid, 0) + on_hand - reserved
    splits, _, free_after = _split_lines(wanted, products, here, elsewhere, choice)
    ratio = float(settings["low_stock_ratio"])
    # Whether a line looks like taking its product down to low stock.
    low_stock = any(
        reserve and max(available, 0) > ratio * products[sku].reorder_point >= available - reserve
        for (sku, *_), (available, reserve, _) in zip(wanted, splits, strict=True)
    )
    short_ids = sorted(
        {products[sku].id for (sku, *_), (_, _, short) in zip(wanted, splits, strict=True) if short}
    )
    facts: dict[int, ShortageFacts] = {}
    promises = None
    estimates: dict[int, tuple[int, int, tuple[int, int], Estimate]] = {}
    audience = None
    webhooks = None
    if notices and (short_ids or low_stock):
        webhooks = active_webhooks(session)  # for the notices (backorder, low stock)
    if short_ids:
        facts = shortage_facts(session, short_ids, today, ref.product_facts(short_ids, today))
        if notices:
            audience = ref.audience(customer.id)
        if choice != "cancel_short":
            promises = ref.promise_inputs(
                short_ids, customer.region, today, pick_days=int(settings["pick_days"])
            )
            lines = [
                (line_no, products[sku].id, short)
                for line_no, ((sku, *_), (_, _, short)) in enumerate(
                    zip(wanted, splits, strict=True), start=1
                )
            ]
            for line_no, pid, short, behind in _waiting(lines):
                free = free_after[pid]
                estimate = promises.estimate(pid, short, free=free, behind=behind)
                estimates[line_no] = (free, short, behind, estimate)
    return _Prepared(
        customer,
        choice,
        products,
        warehouse_id,
        settings,
        elsewhere,
        facts,
        promises,
        estimates,
        audience,
        webhooks,
    )


@write_operation
def place_order(
    engine: Engine,
    *,
    customer_id: int,
    lines: list[tuple[str, int]] | list[tuple[str, int, str | None]],
    actor: str,
    priority: str = "normal",
    requested_date: dt.date | None = None,
    backorder_choice: str | None = None,
    channel: str = "portal",
    now: dt.datetime | None = None,
    warehouse_id: int | None = None,
    confirm_large: bool = False,
) -> PlacedOrder:
    """Place an order: reserve what is free in one transaction, backorder or cancel the rest.

    A line is ``(sku, qty)``, or ``(sku, qty, replaced_sku)`` when the customer took this
    product as a substitute for another (recorded on the line).

    ``demand_daily.revenue`` adds the value of what was ordered (quantity x list price).
    A line far above the product's usual size is refused unless ``confirm_large`` (see
    :mod:`operations.limits`); a line above the ceiling setting always.

    Two steps, so the write lock is held only for the stock arithmetic and the inserts:

    1. A read transaction checks the order and reads what it needs: products, settings, the
       stock as it stands, and for every line that looks short its root-cause facts and the
       inputs of its delivery estimate (:func:`models.promise.read_promise_inputs`), with the
       estimate itself. What placing orders never changes (the customer, products, settings,
       suppliers, open purchase orders, forecasts, promise models) comes from
       :mod:`operations.reference`, kept between orders while the versions of its subjects
       stand still; the stock, recent demand and the open backorders are read every time.
    2. The write transaction locks the stock rows and splits every line again on the locked
       figures (so nothing is ever promised twice). A short line whose free stock and shortage
       are what step 1 saw keeps its estimate; otherwise the estimate is worked out again from
       the inputs read in step 1 (no query), or, for a line that was not expected to go short,
       from inputs read there and then. The queue ahead and the open purchase orders are as
       step 1 read them: a backorder placed by another order in between is not counted, and
       the scheduled re-estimate (``reestimate_all_backorders``) walks every queue again.
    """
    actor = actor_name(actor)
    customer_id = identifier(customer_id, "Customer")
    checked = _checked_lines(lines)
    priority = one_of(priority, ORDER_PRIORITIES, "Priority")
    channel = one_of(channel, CHANNELS, "Channel")
    if backorder_choice is not None:
        backorder_choice = one_of(backorder_choice, BACKORDER_PREFERENCES, "Backorder choice")
    if requested_date is not None:
        requested_date = a_date(requested_date, "Requested date")
    warehouse_id = optional_identifier(warehouse_id, "Warehouse")
    confirm_large = flag(confirm_large, "Confirm large quantities")
    now = optional_moment(now, "The time of the order") or utcnow()
    today = now.date()
    if requested_date is not None and requested_date < today:
        raise ValidationError(
            f"The requested date {requested_date.isoformat()} is in the past; "
            "give today or a later day."
        )
    wanted: list[Wanted] = [(sku, qty, instead_of, None) for sku, qty, instead_of in checked]

    with read_connection(engine, quick=True) as conn, Session(bind=conn) as reading:
        ref = reference(reading)
        customer = ref.customer(customer_id)
        if customer is None:
            raise NotFound(f"Customer {customer_id} does not exist: pick a customer from the list.")
        ready = _prepare(
            ref,
            wanted=wanted,
            customer=customer,
            backorder_choice=backorder_choice,
            warehouse_id=warehouse_id,
            confirm_large=confirm_large,
            today=today,
        )

    with write_session(engine) as session:
        session.info[notification_rules.SETTINGS_KEY] = ready.settings
        if ready.audience is not None:
            notification_rules.remember_audience(session, ready.customer.id, ready.audience)
        if ready.webhooks is not None:
            remember_webhooks(session, ready.webhooks)
        # A backorder notice mails, and the outbox checks the customer's opt-out: give it the
        # row read in step 1.
        remember_opt_out(session, ready.customer.id, ready.customer.mail_opt_out)
        placed = _place_locked(
            session,
            ready,
            wanted=wanted,
            actor=actor,
            priority=priority,
            requested_date=requested_date,
            channel=channel,
            now=now,
            placed_at=now,
            external_ref=None,
            raise_notices=True,
        )
        return placed


def place_in_session(
    session: Session,
    *,
    customer: Customer,
    wanted: list[Wanted],
    actor: str,
    priority: str,
    requested_date: dt.date | None,
    backorder_choice: str | None,
    channel: str,
    now: dt.datetime,
    warehouse_id: int | None,
    confirm_large: bool,
    placed_at: dt.datetime | None = None,
    external_ref: str | None = None,
    raise_notices: bool = True,
) -> PlacedOrder:
    """The placement rules inside the caller's transaction (checked input only).

    ``wanted`` holds ``(sku, qty, replaced_sku, unit_price)``; a None price is the list price.
    The import (``operations.imports``) places its many orders through here in one transaction:
    the reads of :func:`place_order`'s first step run in that same transaction, then the same
    locked step follows. An imported order keeps the day it was placed (``placed_at``: the
    demand day, the rollup week and when its backorders began), its number in the old system
    (``external_ref``) and may repeat a SKU on several lines; it is estimated as of ``now`` and
    raises no notices (``raise_notices``), its customers having heard from the old system.
    """
    ready = _prepare(
        reference(session, keep=False),
        wanted=wanted,
        customer=customer,
        backorder_choice=backorder_choice,
        warehouse_id=warehouse_id,
        confirm_large=confirm_large,
        today=now.date(),
        notices=raise_notices,
    )
    return _place_locked(
        session,
        ready,
        wanted=wanted,
        actor=actor,
        priority=priority,
        requested_date=requested_date,
        channel=channel,
        now=now,
        placed_at=placed_at or now,
        external_ref=external_ref,
        raise_notices=raise_notices,
    )


def _place_locked(
    session: Session,
    ready: _Prepared,
    *,
    wanted: list[Wanted],
    actor: str,
    priority: str,
    requested_date: dt.date | None,
    channel: str,
    now: dt.datetime,
    placed_at: dt.datetime,
    external_ref: str | None,
    raise_notices: bool,
) -> PlacedOrder:
    """The locked step: lock the stock, split the lines on it, insert order, lines, backorders."""
    customer, choice, products = ready.customer, ready.choice, ready.products
    warehouse_id = ready.warehouse_id
    today = now.date()
    conn = session.connection()
    stock = lock_stock(session, (products[sku].id for sku, *_ in wanted), warehouse_id)
    locked = {pid: on_hand - reserved for pid, (on_hand, reserved) in stock.items()}

    # free: this warehouse after the order; free_after: every warehouse, for the estimates.
    splits, free, free_after = _split_lines(wanted, products, locked, ready.elsewhere, choice)
    closing = {"cancelled_at": None, "cancel_reason": None}
    if choice == "cancel_short" and not any(reserve for _, reserve, _ in splits):
        # Every line cancelled: nothing is left to pick, ship or wait for.
        closing = {"cancelled_at": now, "cancel_reason": "cancel_short: nothing was in stock"}

    # Plain inserts (no ORM unit of work): this is the part that holds the write lock.
    order_id, number = insert_order(
        conn,
        customer_id=customer.id,
        placed_at=placed_at,
        requested_date=requested_date,
        priority=priority,
        status="open" if closing["cancelled_at"] is None else "cancelled",
        channel=channel,
        placed_by=actor,
        backorder_choice=choice,
        external_ref=external_ref,
        **closing,
    )
    order = _NewOrder(order_id, number, customer.id)

    plan = []
    for line_no, ((sku, qty, instead_of, price), (_, reserve, short)) in enumerate(
        zip(wanted, splits, strict=True), start=1
    ):
        product = products[sku]
        line = _NewLine(
            id=0,
            line_no=line_no,
            product_id=product.id,
            qty_ordered=qty,
            qty_allocated=reserve,
            qty_backordered=short if choice != "cancel_short" else 0,
            qty_cancelled=short if choice == "cancel_short" else 0,
            unit_price=product.price if price is None else price,
            substitute_for_id=products[instead_of].id if instead_of else None,
        )
        plan.append((product, line, reserve, short))
    line_ids = insert_lines(conn, order_id, [ln.values() for _, ln, _, _ in plan])
    for _, line, _, _ in plan:
        line.id = line_ids[line.line_no]

    holding = choice == "ship_complete" and any(short for _, _, _, short in plan)
    reserve_many(
        session,
        [{"product_id": p.id, "qty": reserve, "ref_id": ln.id} for p, ln, reserve, _ in plan],
        warehouse_id=warehouse_id,
        actor=actor,
    )
    short_ids = sorted({p.id for p, _, _, short in plan if short})
    facts = dict(ready.facts)
    unseen = [pid for pid in short_ids if pid not in facts]
    if unseen:  # stock taken by another order since step 1: read these facts now
        facts.update(shortage_facts(session, unseen, today))
    estimates = _estimates(session, ready, plan, free_after, today)

    tasks = [
        {
            "order_line_id": line.id,
            "product_id": product.id,
            "warehouse_id": warehouse_id,
            "bin_id": product.bin_id,
            "qty": reserve,
            "qty_picked": 0,
            "status": "open",
            "fills_backorder": False,
            "urgent": priority == "urgent",
            "due_date": requested_date,
            "created_at": now,
        }
        for product, line, reserve, _ in plan
        if reserve and not holding
    ]
    if tasks:
        conn.execute(_INSERT_TASKS, tasks)
    backorders: dict[int, _NewBackorder] = {}
    for product, line, _, short in plan:
        if short:
            backorders[line.id] = _NewBackorder(
                id=0,
                order_line_id=line.id,
                product_id=product.id,
                qty=short,
                qty_cancelled=short if choice == "cancel_short" else 0,
                root_cause=decide_cause(
                    facts[product.id], line.qty_ordered, stock.get(product.id, (0, 0))[0]
                ),
                estimate=estimates.get(line.line_no),
            )
    if backorders:
        rows = [bo.values(customer.id, placed_at, now) for bo in backorders.values()]
        for line_id, bo_id in conn.execute(_INSERT_BACKORDERS, rows):
            backorders[line_id].id = bo_id

    products_by_id = {product.id: product for product, _, _, _ in plan}
    placed: list[PlacedLine] = []
    demand: list[dict] = []
    rollup = RollupChange(session)
    for product, line, _, short in plan:
        backorder = backorders.get(line.id)
        estimate = backorder.estimate if backorder is not None else None
        rollup.know(
            line.id,
            LineContext(week_of(placed_at), product.category, customer.segment, product.cost),
        )
        rollup.watch(line, backorder, new=True)
        placed.append(
            PlacedLine(
                line_id=line.id,
                product_id=product.id,
                sku=product.sku,
                qty_ordered=line.qty_ordered,
                qty_allocated=line.qty_allocated,
                qty_backordered=line.qty_backordered,
                qty_cancelled=line.qty_cancelled,
                expected_date=estimate.likely if estimate else None,
                estimate_reason=estimate.reason if estimate else "",
            )
        )
        demand.append(
            {
                "day": placed_at.date(),
                "product_id": product.id,
                "segment": customer.segment,
                "lines": 1,
                "lines_short": 1 if short else 0,
                "qty_ordered": line.qty_ordered,
                "qty_short": short,
                "revenue": Decimal(line.qty_ordered) * product.price,
            }
        )
    book_handling(
        session,
        list(backorders.values()),
        now,
        {
            bo.id: (products_by_id[bo.product_id].category, customer.segment)
            for bo in backorders.values()
        },
    )
    if raise_notices:
        _raise_notices(session, order, plan, free, placed, now)
    audit.record(
        session,
        actor=actor,
        action="place_order",
        entity="order",
        entity_id=order_id,
        after={
            "number": number,
            "customer_id": customer.id,
            "choice": choice,
            "priority": priority,
            "external_ref": external_ref,
            "lines": [[p.sku, p.qty_ordered, p.qty_allocated, p.qty_backordered] for p in placed],
        },
        at=now,
    )
    # The summaries last: concurrent orders share their rows (a week's rollup row above all),
    # so each holds those row locks only from here to its commit.
    _upsert_demand(session, demand)
    rollup.save()
    return PlacedOrder(order_id=order_id, number=number, lines=placed)


@dataclass(frozen=True)
class _NewOrder:
    """The order row just inserted, as the notices need it."""

    id: int
    number: str
    customer_id: int


@dataclass
class _NewLine:
    """An order line being inserted (what the rollup and the result read of it)."""

    id: int
    line_no: int
    product_id: int
    qty_ordered: int
    qty_allocated: int
    qty_backordered: int
    qty_cancelled: int
    unit_price: Decimal
    substitute_for_id: int | None

    def values(self) -> dict:
        return {
            "line_no": self.line_no,
            "product_id": self.product_id,
            "qty_ordered": self.qty_ordered,
            "qty_allocated": self.qty_allocated,
            "qty_backordered": self.qty_backordered,
            "qty_cancelled": self.qty_cancelled,
            "unit_price": self.unit_price,
            "substitute_for_id": self.substitute_for_id,
        }


@dataclass
class _NewBackorder:
    """A backorder being inserted: open with its estimate, or cancelled at once (cancel_short)."""

    id: int
    order_line_id: int
    product_id: int
    qty: int
    qty_cancelled: int
    root_cause: str
    estimate: Estimate | None
    qty_filled: int = 0

    def values(self, customer_id: int, placed_at: dt.datetime, now: dt.datetime) -> dict:
        """The row's values: it began when the order was placed, a cancelled one closes now."""
        cancelled = self.qty_cancelled == self.qty
        est = self.estimate
        return {
            "order_line_id": self.order_line_id,
            "product_id": self.product_id,
            "customer_id": customer_id,
            "qty": self.qty,
            "qty_filled": 0,
            "qty_cancelled": self.qty_cancelled,
            "status": "cancelled" if cancelled else "open",
            "created_at": placed_at,
            "promised_date": est.likely if est else None,
            "estimated_date": est.likely if est else None,
            "estimated_late_date": est.late if est else None,
            "estimate_reason": est.reason[:300] if est else "",
            "waits_on_po_id": est.po_id if est else None,
            "closed_at": now if cancelled else None,
            "cancel_reason": "cancel_short: the customer takes only what is in stock"
            if cancelled
            else None,
            "root_cause": self.root_cause,
        }


# Built once: constructing statements per call costs more than running them on SQLite.
_READ_STOCK = select(Stock.product_id, Stock.warehouse_id, Stock.on_hand, Stock.reserved).where(
    Stock.product_id.in_(bindparam("ids", expanding=True))
)
_ORDER_COLUMNS = [
    "customer_id",
    "placed_at",
    "requested_date",
    "priority",
    "status",
    "channel",
    "placed_by",
    "backorder_choice",
    "external_ref",
    "cancelled_at",
    "cancel_reason",
]
_INSERT_ORDER = {
    dialect: numbered_insert(Order.__table__, "SO", _ORDER_COLUMNS, dialect)
    for dialect in ("sqlite", "postgresql")
}
_INSERT_LINES = insert(OrderLine.__table__).returning(
    OrderLine.__table__.c.line_no, OrderLine.__table__.c.id
)
_INSERT_TASKS = insert(PickTask.__table__)
_INSERT_BACKORDERS = insert(Backorder.__table__).returning(
    Backorder.__table__.c.order_line_id, Backorder.__table__.c.id
)


def insert_order(conn: Connection, **values) -> tuple[int, str]:
    """Insert one order row, its number (SO-000123) included; returns (id, number).

    ``values``: every column of ``_ORDER_COLUMNS`` (the caller has checked them).
    """
    order_id, number = conn.execute(_INSERT_ORDER[conn.dialect.name], values).one()
    return order_id, number


def insert_lines(conn: Connection, order_id: int, lines: list[dict]) -> dict[int, int]:
    """Insert an order's lines in one statement; returns {line number: line id}.

    Each line holds ``line_no``, ``product_id``, ``qty_ordered``, ``qty_allocated``,
    ``qty_backordered``, ``qty_cancelled``, ``unit_price`` and ``substitute_for_id``.
    """
    rows = [{"order_id": order_id, "qty_shipped": 0, **line} for line in lines]
    # Ids matched back by line number (RETURNING has no row order).
    return dict(conn.execute(_INSERT_LINES, rows).all())


def _estimates(
    session: Session, ready: _Prepared, plan: list, free_after: dict[int, int], today: dt.date
) -> dict[int, Estimate]:
    """The estimate of every line left on backorder (by line number), from step 1 where it can.

    A product on several short lines of the order queues each behind the earlier ones.
    """
    if ready.choice == "cancel_short":
        return {}
    waiting = _waiting([(line.line_no, product.id, short) for product, line, _, short in plan])
    promises = ready.promises
    unseen = sorted(
        {pid for _, pid, _, _ in waiting if promises is None or pid not in promises.suppliers}
    )
    if unseen:  # a line short only on the locked figures: its inputs are read now
        extra = read_promise_inputs(
            session,
            unseen,
            ready.customer.region,
            today,
            pick_days=int(ready.settings["pick_days"]),
            free={},
        )
        if promises is None:
            promises = extra
        else:
            promises.suppliers.update(extra.suppliers)
            promises.open_lines.update(extra.open_lines)
            promises.queue.update(extra.queue)
    estimates = {}
    for line_no, pid, short, behind in waiting:
        seen = ready.estimates.get(line_no)
        if seen is not None and seen[:3] == (free_after[pid], short, behind):
            estimates[line_no] = seen[3]
        else:
            estimates[line_no] = promises.estimate(pid, short, free=free_after[pid], behind=behind)
    return estimates


def _raise_notices(
    session: Session, order: _NewOrder, plan: list, free_after: dict[int, int], placed, now
) -> None:
    """Low stock for products this order took down; backorder notice for the customer."""
    notification_rules.stocks_fell(
        session,
        [
            (product, free_after[product.id] + reserve, free_after[product.id])
            for product, _line, reserve, _short in plan
            if reserve
        ],
        now,
    )
    notification_rules.backorder_created(
        session,
        customer_id=order.customer_id,
        order_number=order.number,
        lines=[(p.sku, p.qty_backordered, p.expected_date) for p in placed],
        now=now,
        dedup_key=f"order:{order.id}",
        ref_type="order",
        ref_id=order.id,
        new_subject=True,
    )


# --- Cancelling ----------------------------------------------------------------------------


def _refuse_closed(order: Order, doing: str) -> None:
    if order.status in CLOSED_ORDER_STATUSES:
        raise InvalidState(f"Order {order.number} is already {order.status}: it cannot be {doing}.")


def _outstanding(line: OrderLine) -> int:
    """Units of the line neither shipped nor cancelled yet."""
    return line.qty_allocated - line.qty_shipped + line.qty_backordered


def _cancel_units(
    session: Session,
    *,
    line: OrderLine,
    qty: int,
    reason: str,
    actor: str,
    now: dt.datetime,
    warehouse_id: int,
    rollup: RollupChange,
) -> None:
    """Cancel ``qty`` outstanding units of a line: first what is on backorder, then reservations.

    The caller saves ``rollup`` once for all its lines (one upsert, rows in key order).
    """
    from_backorder = min(qty, line.qty_backordered)
    from_reserved = qty - from_backorder
    # The line's backorder even when none of it is cancelled: it places the line in the rollup.
    backorder = session.execute(
        select(Backorder)
        .where(Backorder.order_line_id == line.id)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    rollup.watch(line, backorder)
    if from_reserved:
        move_stock(
            session,
            product_id=line.product_id,
            warehouse_id=warehouse_id,
            reason="release",
            actor=actor,
            reserved_delta=-from_reserved,
            ref_type="order_line",
            ref_id=line.id,
            note=reason,
        )
        # Tasks are rebuilt for whatever stays reserved (picked goods go back to the bin).
        cancel_line_tasks(session, line.id)
    # No query below this point until the line adds up again (autoflush would write it half-done).
    if from_backorder:
        backorder.qty_cancelled += from_backorder
        if backorder.qty_filled + backorder.qty_cancelled == backorder.qty:
            backorder.status = "cancelled"
            backorder.closed_at = now
        backorder.cancel_reason = reason[:200]
    line.qty_backordered -= from_backorder
    line.qty_allocated -= from_reserved
    line.qty_cancelled += qty


def _close_if_done(session: Session, order: Order, reason: str, now: dt.datetime) -> None:
    lines = session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)).all()
    if all(_outstanding(line) == 0 for line in lines):
        order.status = "shipped" if any(line.qty_shipped for line in lines) else "cancelled"
        order.cancelled_at = now
        order.cancel_reason = reason[:200]


@write_operation
def cancel_order(
    engine: Engine,
    *,
    order_id: int,
    actor: str,
    reason: str,
    now: dt.datetime | None = None,
    warehouse_id: int | None = None,
) -> None:
    """Cancel everything not yet shipped: release reservations, cancel backorders (lost sales)."""
    actor = actor_name(actor)
    order_id = identifier(order_id, "Order")
    reason = text(reason, "The reason for cancelling", max_length=200)
    warehouse_id = optional_identifier(warehouse_id, "Warehouse")
    now = optional_moment(now, "The time of cancelling") or utcnow()
    with write_session(engine) as session:
        order = lock_order(session, order_id)
        _refuse_closed(order, "cancelled")
        warehouse_id = resolve_warehouse(session, warehouse_id)
        product_ids = session.scalars(
            select(OrderLine.product_id).where(OrderLine.order_id == order.id)
        ).all()
        lock_stock(session, product_ids, warehouse_id)
        lines = session.scalars(
            select(OrderLine)
            .where(OrderLine.order_id == order.id)
            .order_by(OrderLine.line_no)
            .execution_options(populate_existing=True)
        ).all()
        before = {
            "status": order.status,
            "outstanding": {ln.line_no: _outstanding(ln) for ln in lines},
        }
        released = []
        rollup = RollupChange(session)
        for line in lines:
            qty = _outstanding(line)
            if qty:
                if line.qty_allocated > line.qty_shipped:
                    released.append(line.product_id)
                _cancel_units(
                    session,
                    line=line,
                    qty=qty,
                    reason=reason,
                    actor=actor,
                    now=now,
                    warehouse_id=warehouse_id,
                    rollup=rollup,
                )
        rollup.save()
        session.flush()
        _close_if_done(session, order, reason, now)
        audit.record(
            session,
            actor=actor,
            action="cancel_order",
            entity="order",
            entity_id=order.id,
            before=before,
            after={"status": order.status},
            note=reason,
            at=now,
        )
        # Released stock goes straight to whoever else is waiting for it.
        fill_backorders(
            session, product_ids=released, warehouse_id=warehouse_id, actor=actor, now=now
        )


@write_operation
def cancel_line(
    engine: Engine,
    *,
    order_line_id: int,
    actor: str,
    reason: str,
    qty: int | None = None,
    now: dt.datetime | None = None,
    warehouse_id: int | None = None,
) -> None:
    """Cancel a line's outstanding units (all, or ``qty`` of them: backordered ones first)."""
    actor = actor_name(actor)
    order_line_id = identifier(order_line_id, "Order line")
    reason = text(reason, "The reason for cancelling", max_length=200)
    if qty is not None:
        qty = quantity(qty, "The quantity to cancel")
    warehouse_id = optional_identifier(warehouse_id, "Warehouse")
    now = optional_moment(now, "The time of cancelling") or utcnow()
    with write_session(engine) as session:
        found = session.execute(
            select(OrderLine.order_id, OrderLine.product_id).where(OrderLine.id == order_line_id)
        ).first()
        if found is None:
            raise NotFound(f"Order line {order_line_id} does not exist.")
        order = lock_order(session, found.order_id)
        _refuse_closed(order, "changed")
        warehouse_id = resolve_warehouse(session, warehouse_id)
        lock_stock(session, [found.product_id], warehouse_id)
        line = session.execute(
            select(OrderLine)
            .where(OrderLine.id == order_line_id)
            .execution_options(populate_existing=True)
        ).scalar_one()
        outstanding = _outstanding(line)
        if outstanding == 0:
            raise InvalidState(
                f"Line {line.line_no} of order {order.number} has nothing left to cancel "
                "(it is shipped or cancelled already)."
            )
        if qty is None:
            qty = outstanding
        elif qty > outstanding:
            raise InvalidState(
                f"Line {line.line_no} of order {order.number} has only {outstanding} units "
                f"outstanding; cannot cancel {qty}."
            )
        before = {
            "qty_allocated": line.qty_allocated,
            "qty_backordered": line.qty_backordered,
            "qty_cancelled": line.qty_cancelled,
        }
        releases = qty > line.qty_backordered
        rollup = RollupChange(session)
        _cancel_units(
            session,
            line=line,
            qty=qty,
            reason=reason,
            actor=actor,
            now=now,
            warehouse_id=warehouse_id,
            rollup=rollup,
        )
        rollup.save()
        session.flush()
        _close_if_done(session, order, reason, now)
        # What stays reserved needs tasks again; a ship-complete order may be free to go now.
        sync_order_tasks(session, order, warehouse_id=warehouse_id, now=now, fills_backorder=False)
        audit.record(
            session,
            actor=actor,
            action="cancel_line",
            entity="order_line",
            entity_id=line.id,
            before=before,
            after={
                "qty_allocated": line.qty_allocated,
                "qty_backordered": line.qty_backordered,
                "qty_cancelled": line.qty_cancelled,
            },
            note=reason,
            at=now,
        )
        if releases:
            fill_backorders(
                session,
                product_ids=[line.product_id],
                warehouse_id=warehouse_id,
                actor=actor,
                now=now,
            )
