"""Restock and delivery dates from the available-to-promise walk, on a hand-built database.

Today is Wednesday 2026-03-04. Product FLOUR (supplier Mill, quoted 10 days) has 3 units free
and two open POs: PO-1 due Mon 03-09 (5 units) and PO-2 due Wed 03-11 (10 units). Mill is
learned to run 2 days late (P90 5), its lead time is 10 days (P90 14); transit to North takes
2 days (P90 4); picking takes 1 working day. Open backorders: a bronze customer's 6 units
(older) and a gold customer's 4 units; gold goes first.
"""

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from sqlalchemy.orm import Session

from data.db import write_session
from data.schema import (
    Backorder,
    Carrier,
    Customer,
    Order,
    OrderLine,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Stock,
    Supplier,
    Warehouse,
)
from models.leadtime import DurationDistribution
from models.promise import PromiseModels, estimate_backorder, reestimate_open_backorders

TODAY = dt.date(2026, 3, 4)
D = dt.date


def _dist(key: str, values: list[float]) -> DurationDistribution:
    return DurationDistribution(shrinkage=0).fit(np.array([[key]] * len(values)), values)


def _models(supplier_id: int) -> PromiseModels:
    sid = str(supplier_id)
    return PromiseModels(
        lead=DurationDistribution(shrinkage=0).fit(
            np.array([[sid, "Dry goods"]] * 10), [10] * 8 + [14] * 2
        ),
        delay=_dist(sid, [2] * 8 + [5] * 2),
        transit=_dist("North", [2] * 8 + [4] * 2),
    )


@pytest.fixture
def scenario(sqlite_engine):
    with write_session(sqlite_engine) as s:
        wh = Warehouse(code="MAIN", name="Main")
        mill = Supplier(code="MILL", name="Mill", lead_time_days=10)
        s.add_all([wh, mill, Carrier(code="FAST", name="Fast", transit_days=2)])
        s.flush()
        flour = Product(
            sku="FLOUR",
            name="Flour",
            category="Dry goods",
            use="flour",
            unit="bag",
            cost=Decimal("5"),
            price=Decimal("9"),
            supplier_id=mill.id,
        )
        s.add(flour)
        s.flush()
        s.add(Stock(product_id=flour.id, warehouse_id=wh.id, on_hand=5, reserved=2))
        customers = {}
        for tier in ("gold", "silver", "bronze"):
            customers[tier] = Customer(
                code=tier, name=tier, segment="Hotel", region="North", tier=tier
            )
        s.add_all(customers.values())
        s.flush()
        backorders = {}
        for n, (tier, qty, created) in enumerate(
            [("bronze", 6, dt.datetime(2026, 2, 25)), ("gold", 4, dt.datetime(2026, 3, 2))]
        ):
            order = Order(number=f"SO-{n}", customer_id=customers[tier].id, placed_at=created)
            s.add(order)
            s.flush()
            line = OrderLine(
                order_id=order.id,
                line_no=1,
                product_id=flour.id,
                qty_ordered=qty,
                qty_backordered=qty,
                unit_price=Decimal("9"),
            )
            s.add(line)
            s.flush()
            backorders[tier] = Backorder(
                order_line_id=line.id,
                product_id=flour.id,
                customer_id=customers[tier].id,
                qty=qty,
                created_at=created,
            )
            s.add(backorders[tier])
        pos = {}
        for number, expected, qty in [("PO-1", D(2026, 3, 9), 5), ("PO-2", D(2026, 3, 11), 10)]:
            po = PurchaseOrder(
                number=number,
                supplier_id=mill.id,
                warehouse_id=wh.id,
                status="sent",
                expected_date=expected,
            )
            s.add(po)
            s.flush()
            s.add(
                PurchaseOrderLine(
                    po_id=po.id, product_id=flour.id, qty_ordered=qty, unit_cost=Decimal("5")
                )
            )
            pos[number] = po.id
        s.flush()
        ids = {
            "engine": sqlite_engine,
            "flour": flour.id,
            "mill": mill.id,
            "customers": {k: c.id for k, c in customers.items()},
            "backorders": {k: b.id for k, b in backorders.items()},
            "pos": pos,
        }
    return ids


def test_first_in_queue_waits_on_the_first_po_shifted_by_the_supplier_delay(scenario):
    with Session(scenario["engine"]) as s:
        est = estimate_backorder(
            s,
            scenario["flour"],
            4,
            scenario["customers"]["gold"],
            TODAY,
            ahead=0,
            position=1,
            models=_models(scenario["mill"]),
        )
    # PO-1 due 03-09 + 2 days late = 03-11; +1 working day pick = 03-12; +2 transit = 03-14.
    assert (est.restock_likely, est.restock_late) == (D(2026, 3, 11), D(2026, 3, 14))
    assert est.likely == D(2026, 3, 14)
    # Late: 03-09 + 5 = Sat 03-14; picking on the next working day after Monday = Tue 03-17; +4.
    assert est.late == D(2026, 3, 21)
    assert est.po_id == scenario["pos"]["PO-1"]
    assert est.reason == (
        "waits on PO-1, 1st in queue; Mill usually 2 days late; "
        "then 1 pick day and 2-4 days in transit to North"
    )


def test_a_new_request_behind_the_queue_waits_for_the_next_reorder(scenario):
    with Session(scenario["engine"]) as s:
        est = estimate_backorder(
            s,
            scenario["flour"],
            20,
            scenario["customers"]["silver"],
            TODAY,
            models=_models(scenario["mill"]),
        )
    # 10 units queued ahead + 20 > 3 free + 15 inbound: reorder in 2 days + 10-day lead time.
    assert (est.restock_likely, est.restock_late) == (D(2026, 3, 16), D(2026, 3, 20))
    assert (est.likely, est.late) == (D(2026, 3, 19), D(2026, 3, 27))
    assert est.po_id is None
    assert est.reason.startswith(
        "open purchase orders do not cover it: next reorder plus Mill's lead time "
        "(10 days, late case 14), 3rd in queue"
    )


def test_free_stock_ships_now(scenario):
    with Session(scenario["engine"]) as s:
        est = estimate_backorder(
            s,
            scenario["flour"],
            3,
            scenario["customers"]["gold"],
            TODAY,
            ahead=0,
            models=_models(scenario["mill"]),
        )
    assert est.restock_likely == TODAY
    assert (est.likely, est.late) == (D(2026, 3, 7), D(2026, 3, 9))
    assert est.reason.startswith("in stock now; then 1 pick day")


def test_without_history_the_quoted_lead_time_is_used_and_said(scenario):
    with Session(scenario["engine"]) as s:
        est = estimate_backorder(
            s,
            scenario["flour"],
            20,
            scenario["customers"]["silver"],
            TODAY,
            models=PromiseModels(),
        )
    assert est.restock_likely == TODAY + dt.timedelta(days=2 + 10)
    assert "Mill's quoted 10-day lead time (no history yet)" in est.reason
    assert "2 days quoted transit" in est.reason


def test_reestimating_walks_the_queue_in_priority_order(scenario):
    engine = scenario["engine"]
    with write_session(engine) as s:
        changes = reestimate_open_backorders(s, today=TODAY, models=_models(scenario["mill"]))
    assert {c.backorder_id for c in changes} == set(scenario["backorders"].values())
    with Session(engine) as s:
        gold = s.get(Backorder, scenario["backorders"]["gold"])
        bronze = s.get(Backorder, scenario["backorders"]["bronze"])
        # Gold (4 units) takes PO-1; bronze's 6 need PO-2 (due 03-11, likely 03-13).
        assert (gold.estimated_date, gold.waits_on_po_id) == (
            D(2026, 3, 14),
            scenario["pos"]["PO-1"],
        )
        assert (bronze.estimated_date, bronze.estimated_late_date) == (
            D(2026, 3, 18),
            D(2026, 3, 21),
        )
        assert bronze.waits_on_po_id == scenario["pos"]["PO-2"]
        assert "2nd in queue" in bronze.estimate_reason


def test_a_later_date_past_the_promise_is_a_slip(scenario):
    engine = scenario["engine"]
    with write_session(engine) as s:
        bronze = s.get(Backorder, scenario["backorders"]["bronze"])
        bronze.estimated_date = D(2026, 3, 12)
        bronze.promised_date = D(2026, 3, 15)
    with write_session(engine) as s:
        changes = reestimate_open_backorders(
            s, [scenario["flour"]], today=TODAY, models=_models(scenario["mill"])
        )
    slipped = [c for c in changes if c.slipped]
    assert [c.backorder_id for c in slipped] == [scenario["backorders"]["bronze"]]
    assert slipped[0].old_likely == D(2026, 3, 12) and slipped[0].new_likely == D(2026, 3, 18)


def test_nothing_changes_on_a_second_run(scenario):
    engine = scenario["engine"]
    models = _models(scenario["mill"])
    with write_session(engine) as s:
        reestimate_open_backorders(s, today=TODAY, models=models)
    with write_session(engine) as s:
        assert reestimate_open_backorders(s, today=TODAY, models=models) == []


def test_units_ahead_without_a_position_are_named_in_units(scenario):
    with Session(scenario["engine"]) as s:
        est = estimate_backorder(
            s,
            scenario["flour"],
            6,
            scenario["customers"]["bronze"],
            TODAY,
            ahead=4,
            models=_models(scenario["mill"]),
        )
    assert est.po_id == scenario["pos"]["PO-2"]
    assert est.reason.startswith("waits on PO-2, 4 units queued ahead; Mill usually 2 days late")


def test_promises_read_the_latest_trained_models_inside_the_session(
    scenario, tmp_path, monkeypatch
):
    from models import registry
    from models.train import Outcome, _run

    monkeypatch.setattr(registry, "ARTIFACT_DIR", tmp_path)
    models = _models(scenario["mill"])
    engine = scenario["engine"]
    _run(
        engine, "lead_time", "v1", lambda: Outcome({"lead": models.lead, "delay": models.delay}, {})
    )
    _run(engine, "transit", "v1", lambda: Outcome({"transit": models.transit}, {}))
    with write_session(engine) as s:
        est = estimate_backorder(
            s, scenario["flour"], 4, scenario["customers"]["gold"], TODAY, ahead=0
        )
    assert est.likely == D(2026, 3, 14)
    assert "Mill usually 2 days late" in est.reason
