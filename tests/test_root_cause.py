"""One root cause per backorder, by the stated rule: a test per cause, on both databases."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from data.db import write_session
from data.schema import (
    Backorder,
    DemandDaily,
    Forecast,
    ModelRun,
    PickTask,
    PurchaseOrder,
    PurchaseOrderLine,
)
from operations import confirm_pick, place_order
from tests import operations_world
from tests.operations_world import fetch_rows

world = operations_world.world

NOW = dt.datetime(2026, 6, 10, 10, 0)
TODAY = NOW.date()


def _order(engine, world, sku: str, qty: int, tier: str = "gold"):
    return place_order(
        engine, customer_id=world.customers[tier], lines=[(sku, qty)], actor="t", now=NOW
    )


def _cause_of(engine, order) -> str | None:
    (line,) = order.lines
    (cause,) = fetch_rows(
        engine, select(Backorder.root_cause).where(Backorder.order_line_id == line.line_id)
    )[0]
    return cause


def _forecast(engine, world, sku: str, *, weekly_mean: float, weekly_p90: float) -> None:
    with write_session(engine) as s:
        run = ModelRun(kind="demand", version="t", status="ok", params={"freq": "W"})
        s.add(run)
        s.flush()
        for week in range(4):
            s.add(
                Forecast(
                    model_run_id=run.id,
                    product_id=world.products[sku],
                    period_start=TODAY + dt.timedelta(days=7 * week),
                    p50=weekly_mean,
                    p90=weekly_p90,
                    mean=weekly_mean,
                )
            )


def _history(engine, world, sku: str, *, lines: int, units_each: int) -> None:
    with write_session(engine) as s:
        for day in range(1, lines + 1):
            s.add(
                DemandDaily(
                    day=TODAY - dt.timedelta(days=day),
                    product_id=world.products[sku],
                    segment="Restaurant",
                    lines=1,
                    lines_short=0,
                    qty_ordered=units_each,
                    qty_short=0,
                    revenue=Decimal("1"),
                )
            )


def test_an_overdue_open_purchase_order_makes_it_late_supplier(engine, world):
    with write_session(engine) as s:
        po = PurchaseOrder(
            number="PO-LATE",
            supplier_id=world.suppliers["DAIRY"],
            warehouse_id=world.warehouse,
            status="sent",
            expected_date=TODAY - dt.timedelta(days=2),
        )
        s.add(po)
        s.flush()
        s.add(
            PurchaseOrderLine(
                po_id=po.id,
                product_id=world.products["BUTTER-10"],
                qty_ordered=20,
                unit_cost=Decimal("20"),
            )
        )
    # Even a spike-sized line is blamed on the late delivery: that rule comes first.
    _history(engine, world, "BUTTER-10", lines=5, units_each=1)
    assert _cause_of(engine, _order(engine, world, "BUTTER-10", 9)) == "late_supplier"


def test_a_po_due_later_is_not_late_supplier(engine, world):
    with write_session(engine) as s:
        po = PurchaseOrder(
            number="PO-SOON",
            supplier_id=world.suppliers["DAIRY"],
            warehouse_id=world.warehouse,
            status="sent",
            expected_date=TODAY + dt.timedelta(days=2),
        )
        s.add(po)
        s.flush()
        s.add(
            PurchaseOrderLine(
                po_id=po.id,
                product_id=world.products["BUTTER-10"],
                qty_ordered=20,
                unit_cost=Decimal("20"),
            )
        )
    assert _cause_of(engine, _order(engine, world, "BUTTER-10", 9)) != "late_supplier"


def test_a_line_four_times_the_usual_size_is_a_demand_spike(engine, world):
    # Usual line: 2 units; 8 units is 4x. BUTTER-10 has 3 on hand, so on hand cannot cover it.
    _history(engine, world, "BUTTER-10", lines=5, units_each=2)
    assert _cause_of(engine, _order(engine, world, "BUTTER-10", 8)) == "demand_spike"


def test_just_under_four_times_the_usual_size_is_no_spike(engine, world):
    _history(engine, world, "BUTTER-10", lines=5, units_each=2)
    assert _cause_of(engine, _order(engine, world, "BUTTER-10", 7)) != "demand_spike"


def test_stock_on_hand_reserved_for_an_earlier_order_is_allocation(engine, world):
    # FLOUR-25: 10 on hand. The first order takes 8; the second asks 5 of the 10 on hand.
    _order(engine, world, "FLOUR-25", 8, tier="bronze")
    assert _cause_of(engine, _order(engine, world, "FLOUR-25", 5)) == "allocation"


def test_demand_over_the_lead_time_above_p90_is_a_forecast_miss(engine, world):
    # NAPKIN-500: nothing on hand; supplier MILL quotes 7 days. P90: 7 a week = 7 over the lead
    # time; this line asks 10.
    _forecast(engine, world, "NAPKIN-500", weekly_mean=3, weekly_p90=7)
    assert _cause_of(engine, _order(engine, world, "NAPKIN-500", 10)) == "forecast_miss"


def test_a_reorder_point_below_the_forecast_need_is_threshold_too_low(engine, world):
    # P90 over 7 days = 70 covers the 10 asked; mean need 35 > reorder point 0.
    _forecast(engine, world, "NAPKIN-500", weekly_mean=35, weekly_p90=70)
    assert _cause_of(engine, _order(engine, world, "NAPKIN-500", 10)) == "threshold_too_low"


def test_nothing_matching_is_unknown(engine, world):
    # The forecast covers the demand and the reorder point (0) covers a zero forecast need.
    _forecast(engine, world, "NAPKIN-500", weekly_mean=0, weekly_p90=70)
    assert _cause_of(engine, _order(engine, world, "NAPKIN-500", 10)) == "unknown"


def test_without_any_forecast_the_cause_is_unknown(engine, world):
    assert _cause_of(engine, _order(engine, world, "NAPKIN-500", 10)) == "unknown"


def test_goods_missing_at_picking_are_a_short_pick(engine, world):
    order = _order(engine, world, "OIL-5L", 6)
    ((task_id,),) = fetch_rows(
        engine, select(PickTask.id).where(PickTask.order_line_id == order.lines[0].line_id)
    )
    confirm_pick(engine, task_id=task_id, qty_picked=4, actor="op", now=NOW)
    assert _cause_of(engine, order) == "short_pick"
