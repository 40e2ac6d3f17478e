"""The pick queue reads and the pick KPIs, checked against direct SQL on a hand-made world."""

from __future__ import annotations

import datetime as dt
import statistics

import pytest
from sqlalchemy import DateTime, bindparam, func, select, text, update

from data.schema import OrderLine, PickTask, utcnow
from operations import (
    confirm_pack,
    confirm_pick,
    place_order,
    receive_po,
    report_short_pick,
)
from queries import picking
from tests import operations_world
from tests.operations_world import fetch_rows

world = operations_world.world


def _place(engine, world, tier, sku, qty, *, hours_ago, **kwargs):
    now = utcnow().replace(microsecond=0)
    return place_order(
        engine,
        customer_id=world.customers[tier],
        lines=[(sku, qty)],
        actor="ann",
        now=now - dt.timedelta(hours=hours_ago),
        **kwargs,
    )


def _task_of(engine, order_id):
    return fetch_rows(
        engine,
        text(
            "SELECT t.id, t.qty FROM pick_tasks t JOIN order_lines l ON l.id = t.order_line_id "
            "WHERE l.order_id = :o AND t.status = 'open' ORDER BY t.id"
        ).bindparams(o=order_id),
    )[0]


def test_queue_puts_backorder_fills_first_then_urgent_then_promised_date(engine, world):
    today = utcnow().date()
    later = _place(
        engine, world, "bronze", "OIL-5L", 4, hours_ago=3, requested_date=today + dt.timedelta(9)
    )
    sooner = _place(
        engine, world, "bronze", "OIL-5L", 4, hours_ago=2, requested_date=today + dt.timedelta(2)
    )
    urgent = _place(engine, world, "silver", "OIL-5L", 4, hours_ago=1, priority="urgent")
    # BUTTER-10 has 3 on hand: the order for 5 reserves 3 and waits on a backorder for 2.
    short = _place(engine, world, "gold", "BUTTER-10", 5, hours_ago=1)
    queue = picking.open_pick_tasks(engine)
    assert list(queue["order_number"]) == [
        urgent.number,
        sooner.number,
        later.number,
        short.number,
    ]
    rows = queue.set_index("order_number")
    assert rows.loc[short.number, "backorder_status"] == "Line short: 2 more on backorder"
    assert rows.loc[urgent.number, "priority"] == "Urgent"
    assert rows.loc[sooner.number, "promised_date"] == today + dt.timedelta(2)
    # Live available: on hand - reserved, straight from the stock table.
    ((on_hand, reserved),) = fetch_rows(
        engine,
        text("SELECT on_hand, reserved FROM stock WHERE product_id = :p").bindparams(
            p=world.products["OIL-5L"]
        ),
    )
    assert rows.loc[urgent.number, "available"] == on_hand - reserved == 100 - 12
    assert rows.loc[urgent.number, "bin_code"] == "A-04"
    assert rows.loc[urgent.number, "qty"] == 4

    # The backorder is filled by a receipt: its new task comes first of all.
    receive_short_product(engine, world)
    queue = picking.open_pick_tasks(engine)
    first = queue.iloc[0]
    assert (first["order_number"], first["sku"], first["qty"]) == (short.number, "BUTTER-10", 2)
    assert first["backorder_status"] == "Fills a backorder"
    assert first["priority"] == "Backorder"


def receive_short_product(engine, world):
    """Order and receive 10 BUTTER-10 from its supplier (fills the waiting backorder)."""
    from data.db import write_session
    from data.schema import PurchaseOrder, PurchaseOrderLine

    with write_session(engine) as s:
        po = PurchaseOrder(
            number="PO-T1",
            supplier_id=world.suppliers["DAIRY"],
            warehouse_id=world.warehouse,
            status="sent",
            created_at=utcnow(),
            expected_date=utcnow().date(),
        )
        s.add(po)
        s.flush()
        s.add(
            PurchaseOrderLine(
                po_id=po.id, product_id=world.products["BUTTER-10"], qty_ordered=10, unit_cost=1
            )
        )
        po_id = po.id
    receive_po(engine, po_id=po_id, actor="ann")


def test_search_and_zone_filter_the_queue(engine, world):
    placed = _place(engine, world, "gold", "OIL-5L", 4, hours_ago=1)
    _place(engine, world, "gold", "FLOUR-25", 5, hours_ago=1)
    assert list(picking.open_pick_tasks(engine, search="oil")["order_number"]) == [placed.number]
    assert list(picking.open_pick_tasks(engine, search="A-04")["sku"]) == ["OIL-5L"]
    assert len(picking.open_pick_tasks(engine, zone="ambient")) == 2
    assert picking.open_pick_tasks(engine, zone="frozen").empty
    assert picking.pick_zones(engine) == ["ambient"]


def test_kpis_match_direct_sql(engine, world):
    long_ago = _place(engine, world, "gold", "OIL-5L", 4, hours_ago=10)
    recent = _place(engine, world, "silver", "FLOUR-25", 2, hours_ago=5)
    short = _place(engine, world, "bronze", "BUTTER-10", 3, hours_ago=1)
    waiting = _place(engine, world, "gold", "OIL-5L", 8, hours_ago=1)  # never picked
    for order in (long_ago, recent):
        task_id, qty = _task_of(engine, order.order_id)
        confirm_pick(engine, task_id=task_id, qty_picked=qty, actor="otto")
        confirm_pack(engine, task_id=task_id, actor="otto")
    task_id, _ = _task_of(engine, short.order_id)
    report_short_pick(engine, task_id=task_id, qty_found=1, actor="otto")
    assert _task_of(engine, waiting.order_id)

    now = utcnow()
    kpis = picking.pick_kpis(engine, now=now)

    start = dt.datetime.combine(now.date(), dt.time())
    ((lines_today,),) = fetch_rows(
        engine,
        text(
            "SELECT count(*) FROM pick_tasks WHERE picked_at >= :start AND picked_at < :end "
            "AND qty_picked > 0 AND status IN ('picked', 'packed', 'shipped', 'short')"
        ).bindparams(start=start, end=start + dt.timedelta(days=1)),
    )
    assert kpis.lines_picked_today == lines_today == 3

    per_order = fetch_rows(
        engine,
        text(
            "SELECT o.placed_at, max(t.packed_at) FROM pick_tasks t "
            "JOIN order_lines l ON l.id = t.order_line_id JOIN orders o ON o.id = l.order_id "
            "WHERE t.status IN ('packed', 'shipped') GROUP BY o.id, o.placed_at"
        ),
    )
    hours = [
        (_as_dt(packed) - _as_dt(placed)).total_seconds() / 3600 for placed, packed in per_order
    ]
    assert kpis.fulfilment_orders == len(hours) == 2
    assert kpis.fulfilment_hours == pytest.approx(statistics.median(hours), abs=1e-6)
    assert kpis.fulfilment_hours == pytest.approx(7.5, abs=0.05)  # 10 h and 5 h

    ((full, picks),) = fetch_rows(
        engine,
        text(
            "SELECT sum(CASE WHEN qty_picked = qty THEN 1 ELSE 0 END), count(*) FROM pick_tasks "
            "WHERE picked_at IS NOT NULL AND status IN ('picked', 'packed', 'shipped', 'short')"
        ),
    )
    assert kpis.picks_counted == picks == 3
    assert kpis.accuracy == pytest.approx(full / picks) == pytest.approx(2 / 3)


def test_fulfilment_counts_the_orders_whose_last_pack_is_in_the_window(engine, world):
    now = utcnow().replace(microsecond=0)
    old = now - dt.timedelta(days=picking.FULFILMENT_WINDOW_DAYS + 10)
    orders = {}
    for name, lines in {
        "all_old": [("OIL-5L", 1)],
        "old_and_new": [("OIL-5L", 1), ("FLOUR-25", 1)],
        "new": [("FLOUR-25", 2)],
    }.items():
        orders[name] = place_order(
            engine,
            customer_id=world.customers["gold"],
            lines=lines,
            actor="ann",
            now=now - dt.timedelta(days=picking.FULFILMENT_WINDOW_DAYS + 12),
        )
        for task_id, qty in fetch_rows(
            engine,
            text(
                "SELECT t.id, t.qty FROM pick_tasks t JOIN order_lines l ON l.id = t.order_line_id "
                "WHERE l.order_id = :o ORDER BY l.line_no"
            ).bindparams(o=orders[name].order_id),
        ):
            confirm_pick(engine, task_id=task_id, qty_picked=qty, actor="otto")
            confirm_pack(engine, task_id=task_id, actor="otto")
    # Packed long ago: the first order whole, the first line of the second.
    with engine.begin() as conn:
        for name in ("all_old", "old_and_new"):
            first_line = (
                select(func.min(OrderLine.id))
                .where(OrderLine.order_id == orders[name].order_id)
                .scalar_subquery()
            )
            conn.execute(
                update(PickTask).where(PickTask.order_line_id == first_line).values(packed_at=old)
            )
    now = utcnow()  # after the packs

    times = picking.fulfilment_times(engine, now=now)

    # Every order's last pack over all its packs, kept when that falls in the window.
    expected = fetch_rows(
        engine,
        text(
            "SELECT o.id, max(t.packed_at) FROM pick_tasks t "
            "JOIN order_lines l ON l.id = t.order_line_id JOIN orders o ON o.id = l.order_id "
            "WHERE t.status IN ('packed', 'shipped') GROUP BY o.id "
            "HAVING max(t.packed_at) > :since AND max(t.packed_at) <= :now ORDER BY o.id"
        ).bindparams(
            bindparam("since", now - dt.timedelta(days=picking.FULFILMENT_WINDOW_DAYS), DateTime),
            bindparam("now", now, DateTime),
        ),
    )
    assert [int(i) for i, _ in expected] == [
        orders["old_and_new"].order_id,
        orders["new"].order_id,
    ]
    got = times.sort_values("order_id")
    assert list(got["order_id"]) == [int(i) for i, _ in expected]
    assert list(got["packed_at"]) == [_as_dt(packed) for _, packed in expected]


def _as_dt(value):
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def test_kpis_of_an_empty_warehouse_are_blank(engine, world):
    kpis = picking.pick_kpis(engine)
    assert (kpis.lines_picked_today, kpis.fulfilment_hours, kpis.accuracy) == (0, None, None)
    assert picking.open_pick_tasks(engine).empty
    assert picking.tasks_to_pack(engine).empty


def test_tasks_to_pack_floor_and_statuses(engine, world):
    placed = _place(engine, world, "gold", "OIL-5L", 4, hours_ago=1)
    task_id, qty = _task_of(engine, placed.order_id)
    assert picking.task_statuses(engine, [task_id, 999]) == {task_id: "open"}
    confirm_pick(engine, task_id=task_id, qty_picked=qty, actor="otto")
    to_pack = picking.tasks_to_pack(engine)
    assert list(zip(to_pack["task_id"], to_pack["sku"], to_pack["qty_picked"], strict=True)) == [
        (task_id, "OIL-5L", 4)
    ]
    floor = picking.floor_plan(engine)
    assert list(floor["bay"]) == [1, 2, 3, 4] and set(floor["aisle"]) == {1}
    assert picking.floor_extent(engine) == (0.0, 3.0)


def test_plan_route_walks_the_open_tasks_bins_from_the_dock(engine, world):
    _place(engine, world, "gold", "OIL-5L", 4, hours_ago=1)  # bin A-04, x 3
    _place(engine, world, "silver", "BUTTER-10", 1, hours_ago=1)  # bin A-02, x 1
    queue = picking.open_pick_tasks(engine)
    bins = [
        (r.bin_code, r.aisle, r.bay, float(r.x), float(r.y)) for r in queue.itertuples(index=False)
    ]
    plan = picking.plan_route(bins, picking.floor_extent(engine), time_limit_s=0.1)
    assert plan.order == ("A-02", "A-04")
    assert plan.length_m == plan.bin_code_m == 6.0  # out along the aisle to x 3 and back
    assert plan.path[0] == plan.path[-1] == (0.0, 0.0)
