"""Random sequences of operations never break an invariant (hypothesis).

Each example builds a fresh tiny wholesaler, runs a drawn sequence of place / cancel / receive
/ pick / short pick / pack / ship / deliver / count / draft / substitute-swap operations (refusals included: a
refused operation must leave every invariant intact too) and checks every invariant after
every step.
"""

from __future__ import annotations

import contextlib
import random
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from sqlalchemy import select

from data.db import make_engine, read_connection, write_session
from data.schema import (
    Backorder,
    Base,
    Order,
    OrderLine,
    PickTask,
    PurchaseOrder,
    PurchaseOrderLine,
    Shipment,
    Substitute,
)
from operations import (
    LarderError,
    adjust_stock,
    approve_po,
    cancel_line,
    cancel_order,
    confirm_pack,
    confirm_pick,
    draft_purchase_orders,
    mark_delivered,
    place_order,
    receive_po,
    send_po,
    ship_order,
    swap_to_substitute,
)
from tests.conftest import _PG_PROBLEM, drop_pg_schema, pg_schema_engine
from tests.invariants import assert_invariants
from tests.operations_world import PRODUCTS, build_world

SKUS = list(PRODUCTS)
TIERS = ["gold", "silver", "bronze"]
CHOICES = [None, "accept_backorder", "ship_complete", "cancel_short"]
# Listed substitutes in the drawn worlds: one with plenty of stock, one with none.
SUBSTITUTES = {"BUTTER-10": "OIL-5L", "FLOUR-25": "NAPKIN-500", "NAPKIN-500": "FLOUR-25"}

pick = st.integers(min_value=0, max_value=50)  # index into what exists, modulo its size
place_step = st.tuples(
    st.just("place"),
    st.sampled_from(TIERS),
    st.lists(
        st.tuples(st.sampled_from(SKUS), st.integers(1, 15)),
        min_size=1,
        max_size=3,
        unique_by=lambda line: line[0],
    ),
    st.sampled_from(CHOICES),
    st.sampled_from(["normal", "urgent"]),
)
steps = st.one_of(
    # placing and fulfilling are drawn more often so sequences reach packing and shipping
    place_step,
    place_step,
    st.tuples(st.just("fulfil"), pick, st.integers(0, 2)),
    st.tuples(st.just("fulfil"), pick, st.just(0)),
    st.tuples(st.just("cancel_order"), pick),
    st.tuples(st.just("cancel_line"), pick, st.one_of(st.none(), st.integers(1, 10))),
    st.tuples(st.just("receive"), st.sampled_from(SKUS), st.integers(1, 30), st.integers(1, 30)),
    st.tuples(st.just("pick"), pick, st.integers(0, 3)),
    st.tuples(st.just("pack"), pick),
    st.tuples(st.just("ship"), pick),
    st.tuples(st.just("deliver"), pick),
    st.tuples(st.just("count"), st.sampled_from(SKUS), st.integers(0, 120)),
    st.tuples(st.just("draft_and_send")),
    st.tuples(st.just("swap"), pick, st.integers(1, 12), st.booleans()),
)


def _note(text: str) -> None:
    """A hypothesis event when running under hypothesis (the seeded sequences run without it)."""
    with contextlib.suppress(InvalidArgument):
        event(text)


def _sent_po(engine, world, sku: str, qty: int) -> int:
    product_id = world.products[sku]
    supplier = PRODUCTS[sku][2]
    with write_session(engine) as session:
        count = session.query(PurchaseOrder).count()
        po = PurchaseOrder(
            number=f"PO-R{count + 1}",
            supplier_id=world.suppliers[supplier],
            warehouse_id=world.warehouse,
            status="sent",
        )
        session.add(po)
        session.flush()
        session.add(
            PurchaseOrderLine(
                po_id=po.id, product_id=product_id, qty_ordered=qty, unit_cost=Decimal("1")
            )
        )
        return po.id


def _targets(engine, kind: str) -> list:
    """What a step of this kind can act on, in a stable order."""
    statements = {
        "cancel_order": select(Order.id).order_by(Order.id),
        "cancel_line": select(OrderLine.id).order_by(OrderLine.id),
        "pick": select(PickTask.id, PickTask.qty)
        .where(PickTask.status == "open")
        .order_by(PickTask.id),
        "pack": select(PickTask.id).where(PickTask.status == "picked").order_by(PickTask.id),
        "ship": select(OrderLine.order_id)
        .join(PickTask, PickTask.order_line_id == OrderLine.id)
        .where(PickTask.status == "packed")
        .distinct()
        .order_by(OrderLine.order_id),
        "deliver": select(Shipment.id).order_by(Shipment.id),
        "swap": select(Backorder.id, Backorder.product_id).order_by(Backorder.id),
        "fulfil": select(OrderLine.order_id)
        .join(PickTask, PickTask.order_line_id == OrderLine.id)
        .where(PickTask.status == "open")
        .distinct()
        .order_by(OrderLine.order_id),
    }
    with read_connection(engine) as conn:
        return conn.execute(statements[kind]).all()


def _fulfil(engine, world, order_id: int, short_by: int) -> None:
    """Pick (the first task ``short_by`` units short), pack and ship one order's open tasks."""
    with read_connection(engine) as conn:
        tasks = conn.execute(
            select(PickTask.id, PickTask.qty)
            .join(OrderLine, OrderLine.id == PickTask.order_line_id)
            .where(OrderLine.order_id == order_id, PickTask.status == "open")
            .order_by(PickTask.id)
        ).all()
    for number, task in enumerate(tasks):
        found = max(task.qty - short_by, 0) if number == 0 else task.qty
        confirm_pick(engine, task_id=task.id, qty_picked=found, actor="prop")
        if found:
            confirm_pack(engine, task_id=task.id, actor="prop")
    ship_order(engine, order_id=order_id, carrier_id=world.carrier, actor="prop")


def _apply(engine, world, step) -> None:
    kind = step[0]
    if kind == "place":
        _, tier, lines, choice, priority = step
        place_order(
            engine,
            customer_id=world.customers[tier],
            lines=lines,
            actor="prop",
            backorder_choice=choice,
            priority=priority,
        )
    elif kind == "receive":
        _, sku, ordered, received = step
        po_id = _sent_po(engine, world, sku, ordered)
        receive_po(
            engine,
            po_id=po_id,
            actor="prop",
            quantities={world.products[sku]: min(received, ordered)},
        )
    elif kind == "count":
        _, sku, counted = step
        adjust_stock(
            engine,
            product_id=world.products[sku],
            counted_on_hand=counted,
            reason="drawn count",
            actor="prop",
        )
    elif kind == "draft_and_send":
        for po_id in draft_purchase_orders(engine, actor="prop"):
            approve_po(engine, po_id=po_id, actor="prop")
            send_po(engine, po_id=po_id, actor="prop")
    else:
        targets = _targets(engine, kind)
        if not targets:
            _note(f"{kind}: nothing to act on")
            return
        target = targets[step[1] % len(targets)]
        if kind == "cancel_order":
            cancel_order(engine, order_id=target.id, actor="prop", reason="drawn")
        elif kind == "cancel_line":
            cancel_line(engine, order_line_id=target.id, actor="prop", reason="drawn", qty=step[2])
        elif kind == "pick":
            # 0 = a full pick; 1..3 = that many units short (at worst nothing found)
            found = max(target.qty - step[2], 0)
            confirm_pick(engine, task_id=target.id, qty_picked=found, actor="prop")
        elif kind == "pack":
            confirm_pack(engine, task_id=target.id, actor="prop")
        elif kind == "ship":
            ship_order(engine, order_id=target.order_id, carrier_id=world.carrier, actor="prop")
        elif kind == "deliver":
            mark_delivered(engine, shipment_id=target.id, actor="prop")
        elif kind == "fulfil":
            _fulfil(engine, world, target.order_id, short_by=step[2])
        elif kind == "swap":
            # Any backorder (filled and cancelled ones must be refused) to its listed substitute.
            sku = next(s for s, pid in world.products.items() if pid == target.product_id)
            swap_to_substitute(
                engine,
                backorder_id=target.id,
                substitute_product_id=world.products[SUBSTITUTES.get(sku, "OIL-5L")],
                quantity=step[2],
                accepted=step[3],
                actor="prop",
            )
    _note(f"{kind}: done")


def run_step(engine, world, step) -> None:
    """Apply one drawn step; refusals (LarderError) are allowed, anything else is a bug."""
    try:
        _apply(engine, world, step)
    except LarderError as refusal:
        # A refusal is fine; the invariants still have to hold. The events show the mix of
        # steps in ``pytest --hypothesis-show-statistics``.
        _note(f"{step[0]}: refused ({type(refusal).__name__})")


def _list_substitutes(engine, world) -> None:
    with write_session(engine) as session:
        for original, substitute in SUBSTITUTES.items():
            session.add(
                Substitute(
                    product_id=world.products[original], substitute_id=world.products[substitute]
                )
            )


def _run_sequence(engine, sequence) -> None:
    world = build_world(engine)
    _list_substitutes(engine, world)
    for step in sequence:
        run_step(engine, world, step)
        assert_invariants(engine)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(sequence=st.lists(steps, min_size=20, max_size=30))
def test_random_operations_keep_every_invariant_on_sqlite(sequence):
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'prop.db'}")
        Base.metadata.create_all(engine)
        try:
            _run_sequence(engine, sequence)
        finally:
            engine.dispose()


@pytest.mark.postgres
@pytest.mark.skipif(bool(_PG_PROBLEM), reason=_PG_PROBLEM or "")
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequence=st.lists(steps, min_size=15, max_size=25))
def test_random_operations_keep_every_invariant_on_postgres(sequence):
    engine, schema = pg_schema_engine()
    try:
        Base.metadata.create_all(engine)
        _run_sequence(engine, sequence)
    finally:
        drop_pg_schema(engine, schema)


def _random_step(rng: random.Random):
    """One step drawn with weights that favour the order flow (place, pick, pack, ship)."""
    kind = rng.choices(
        [
            "place",
            "fulfil",
            "pick",
            "pack",
            "ship",
            "deliver",
            "cancel_order",
            "cancel_line",
            "receive",
            "count",
            "draft_and_send",
            "swap",
        ],
        weights=[8, 4, 3, 2, 2, 2, 1, 2, 3, 1, 1, 2],
    )[0]
    index = rng.randrange(50)
    if kind == "place":
        skus = rng.sample(SKUS, rng.randint(1, 3))
        return (
            "place",
            rng.choice(TIERS),
            [(sku, rng.randint(1, 15)) for sku in skus],
            rng.choice(CHOICES),
            rng.choice(["normal", "urgent"]),
        )
    if kind in ("fulfil", "pick"):
        return (kind, index, rng.choice([0, 0, 1, 3]))
    if kind == "cancel_line":
        return (kind, index, rng.choice([None, rng.randint(1, 10)]))
    if kind == "receive":
        ordered = rng.randint(1, 30)
        return (kind, rng.choice(SKUS), ordered, rng.randint(1, ordered))
    if kind == "count":
        return (kind, rng.choice(SKUS), rng.randint(0, 120))
    if kind == "draft_and_send":
        return (kind,)
    if kind == "swap":
        return (kind, index, rng.randint(1, 12), rng.random() < 0.7)
    return (kind, index)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_long_random_sequences_keep_every_invariant(sqlite_engine, seed):
    rng = random.Random(seed)
    _run_sequence(sqlite_engine, [_random_step(rng) for _ in range(120)])
