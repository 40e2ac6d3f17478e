"""The buyer's and logistics' reads on a hand-made world: every figure worked out by hand,
and the headline KPIs checked again with a direct query."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import Engine, case, func, insert, select, update

from data.db import read_connection
from data.schema import (
    Backorder,
    Carrier,
    PurchaseOrder,
    PurchaseOrderLine,
    Shipment,
    ShipmentLine,
)
from queries import purchasing, shipments
from tests.conftest import _fresh_engine
from tests.queries_world import NOW, TODAY, build_world, days

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def build_transit_world(engine: Engine) -> None:
    """The query world plus sent and received POs, carriers and shipments (see the comments)."""
    build_world(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(Carrier),
            [
                {"id": 1, "code": "FAST", "name": "Fast", "transit_days": 2},
                {"id": 2, "code": "SLOW", "name": "Slow", "transit_days": 3},
            ],
        )
        # PO1 sent (due in 3 days); PO3 received a day late; PO4 received a day early;
        # PO5 (supplier 2) due yesterday, 30 of 40 in.
        po = PurchaseOrder.__table__
        conn.execute(
            update(po)
            .where(po.c.id == 1)
            .values(created_at=NOW - 3 * DAY, sent_at=NOW - 2 * DAY, original_expected_date=days(3))
        )
        conn.execute(
            update(po)
            .where(po.c.id == 3)
            .values(
                created_at=NOW - 11 * DAY,
                sent_at=NOW - 10 * DAY,
                received_at=NOW - 2 * DAY,
                original_expected_date=days(-3),
            )
        )
        conn.execute(
            insert(po),
            [
                {
                    "id": 4,
                    "number": "PO-000004",
                    "supplier_id": 1,
                    "warehouse_id": 1,
                    "status": "received",
                    "created_at": NOW - 12 * DAY - 12 * HOUR,
                    "sent_at": NOW - 12 * DAY,
                    "received_at": NOW - 6 * DAY,
                    "expected_date": days(-5),
                    "original_expected_date": days(-5),
                },
                {
                    "id": 5,
                    "number": "PO-000005",
                    "supplier_id": 2,
                    "warehouse_id": 1,
                    "status": "partially_received",
                    "created_at": NOW - 13 * DAY,
                    "sent_at": NOW - 12 * DAY,
                    "received_at": None,
                    "expected_date": days(-1),
                    "original_expected_date": days(-1),
                },
            ],
        )
        conn.execute(
            insert(PurchaseOrderLine),
            [
                {
                    "po_id": 4,
                    "product_id": 2,
                    "qty_ordered": 10,
                    "qty_received": 10,
                    "unit_cost": 11,
                },
                {
                    "po_id": 5,
                    "product_id": 5,
                    "qty_ordered": 40,
                    "qty_received": 30,
                    "unit_cost": 2,
                },
            ],
        )
        conn.execute(update(Backorder).where(Backorder.id == 1).values(waits_on_po_id=1))
        ship = Shipment.__table__
        rows = [
            # inbound
            (1, "IN-1", "inbound", None, 1, 1, "in_transit", None, days(3), days(3), None, None),
            (2, "IN-2", "inbound", None, 5, 2, "delayed", None, days(-1), days(1), None, None),
            # outbound on the way: S3 late by a day, S4 on time, S5 no backordered goods
            (
                3,
                "SH-3",
                "outbound",
                1,
                None,
                1,
                "in_transit",
                "North",
                days(1),
                days(2),
                NOW - DAY,
                None,
            ),
            (
                4,
                "SH-4",
                "outbound",
                3,
                None,
                2,
                "in_transit",
                "South",
                days(2),
                days(2),
                NOW - DAY,
                None,
            ),
            (
                5,
                "SH-5",
                "outbound",
                1,
                None,
                1,
                "in_transit",
                "North",
                days(2),
                days(2),
                NOW - DAY,
                None,
            ),
            # delivered: S6 on time (2 days), S7 late (3 days), S8 on time (1 day), S9 too old
            (
                6,
                "SH-6",
                "outbound",
                1,
                None,
                1,
                "delivered",
                "North",
                days(-1),
                days(-1),
                NOW - 3 * DAY,
                NOW - DAY,
            ),
            (
                7,
                "SH-7",
                "outbound",
                1,
                None,
                1,
                "delivered",
                "North",
                days(-3),
                days(-3),
                NOW - 5 * DAY,
                NOW - 2 * DAY,
            ),
            (
                8,
                "SH-8",
                "outbound",
                3,
                None,
                2,
                "delivered",
                "South",
                days(-4),
                days(-4),
                NOW - 6 * DAY,
                NOW - 5 * DAY,
            ),
            (
                9,
                "SH-9",
                "outbound",
                3,
                None,
                2,
                "delivered",
                "South",
                days(-200),
                days(-200),
                NOW - 202 * DAY,
                NOW - 200 * DAY,
            ),
        ]
        conn.execute(
            insert(ship),
            [
                dict(
                    zip(
                        [
                            "id",
                            "number",
                            "direction",
                            "order_id",
                            "po_id",
                            "carrier_id",
                            "status",
                            "region",
                            "promised_date",
                            "estimated_arrival",
                            "shipped_at",
                            "delivered_at",
                        ],
                        r,
                        strict=True,
                    )
                )
                for r in rows
            ],
        )
        # S3 carries 3 of line 1 (backordered product 4) at 1.00; S4 1 of line 5 (backordered)
        # at 6.00; S5 5 of line 2 (not backordered) at 15.00.
        conn.execute(insert(ShipmentLine), [
            {"shipment_id": 3, "order_line_id": 1, "qty": 3},
            {"shipment_id": 4, "order_line_id": 5, "qty": 1},
            {"shipment_id": 5, "order_line_id": 2, "qty": 5},
        ])  # fmt: skip


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def tworld(request, tmp_path_factory):
    engines = _fresh_engine(request.param, tmp_path_factory.mktemp("tworld"))
    engine = next(engines)
    build_transit_world(engine)
    yield engine
    next(engines, None)


def test_lead_time_record_is_learned_from_received_pos(tworld):
    record = purchasing.lead_time_record(tworld)
    assert record.source.startswith("fitted on the 2 POs received")
    acme = record.table.set_index("supplier_id").loc[1]
    # PO3 took 8 days, PO4 6: P50 7 (the overall is the same two POs, so shrinking keeps it).
    assert acme["lead_p50"] == pytest.approx(7.0)
    assert acme["lead_n"] == 2
    assert acme["quoted_days"] == 5
    # Delays +1 and -1 day: P50 0.
    assert acme["delay_p50"] == pytest.approx(0.0)
    assert pd.isna(record.table.set_index("supplier_id").loc[2, "lead_p50"])


def test_low_stock_inbox(tworld):
    inbox = purchasing.low_stock_inbox(tworld, today=TODAY)
    assert list(inbox["sku"]) == ["MLK-01", "BLE-05", "RYE-25"]  # waiting first, then SKU
    milk = inbox.iloc[0]
    assert (milk["available"], milk["on_order"], milk["reorder_point"]) == (0, 200, 100)
    assert (milk["backorders"], milk["backordered"]) == (1, 7)
    assert milk["lead_days"] == 7  # Acme's learned P50
    assert milk["demand_over_lead"] == pytest.approx(84 / 28 * 7)
    assert milk["demand_basis"] == "last 28 days' average"
    bleach = inbox.iloc[1]
    assert bleach["lead_days"] == 10  # Brite has no history: its quoted time
    assert bleach["on_order"] == 10  # PO5's 10 outstanding; the draft does not count


def test_drafted_lines_carry_their_reason(tworld):
    drafts = purchasing.draft_purchase_orders(tworld, today=TODAY)
    assert list(drafts["po_number"]) == ["PO-000002"]
    line = drafts.iloc[0]
    assert (line["supplier"], line["sku"], line["qty"], line["line_value"]) == (
        "Brite Clean", "BLE-05", 40, 80.0,
    )  # fmt: skip
    assert line["reason"] == (
        "forecast 0 over the 10-day lead time + 1 safety stock -> reorder point 5; "
        "position 10 = 0 free - 0 on backorder + 10 already on order; up to 20 needs 10; "
        "edited to 40"
    )


def test_a_forecast_passed_in_is_used_as_the_one_read_would_be(tworld):
    # No demand model has run in this world: each read falls back to the last 28 days.
    assert purchasing.forecast_per_day(tworld) == ({}, None)
    inbox = purchasing.low_stock_inbox(tworld, today=TODAY)
    milk_id, bleach_id = (int(inbox.loc[inbox["sku"] == s, "product_id"].iloc[0])
                          for s in ("MLK-01", "BLE-05"))  # fmt: skip
    given = ({milk_id: 5.0, bleach_id: 0.5}, "demand model run 9")
    inbox = purchasing.low_stock_inbox(tworld, today=TODAY, forecast=given).set_index("sku")
    assert inbox.loc["MLK-01", "demand_over_lead"] == pytest.approx(5.0 * 7)
    assert inbox.loc["MLK-01", "demand_basis"] == "demand model run 9"
    assert inbox.loc["RYE-25", "demand_basis"] == "last 28 days' average"
    drafts = purchasing.draft_purchase_orders(tworld, today=TODAY, forecast=given)
    assert drafts.iloc[0]["reason"].startswith("forecast 5 over the 10-day lead time")


def test_line_reason_names_pack_and_minimum_rounding():
    reason = purchasing.line_reason(
        qty=30, free=4, waiting=6, on_order_elsewhere=0, reorder_point=10, safety_stock=3,
        order_up_to=25, pack_size=10, min_order_qty=20, demand_over_lead=7.2, lead_days=4,
    )  # fmt: skip
    assert reason == (
        "forecast 7 over the 4-day lead time + 3 safety stock -> reorder point 10; "
        "position -2 = 4 free - 6 on backorder + 0 already on order; up to 25 needs 27; "
        "rounded to 30 (packs of 10)"
    )
    small = purchasing.line_reason(
        qty=20, free=20, waiting=0, on_order_elsewhere=0, reorder_point=10, safety_stock=3,
        order_up_to=25, pack_size=10, min_order_qty=20, demand_over_lead=7.2, lead_days=4,
    )  # fmt: skip
    assert small.endswith("up to 25 needs 5; rounded to 20 (minimum 20, packs of 10)")


def test_late_and_at_risk_pos(tworld):
    late = purchasing.late_and_at_risk(tworld, today=TODAY)
    assert list(late["po_number"]) == ["PO-000005"]
    row = late.iloc[0]
    assert row["overdue"] and row["days_overdue"] == 1
    assert row["likely_arrival"] == TODAY + DAY  # overdue: tomorrow at the earliest
    assert row["open_value"] == pytest.approx(20.0)
    every = purchasing.late_and_at_risk(tworld, today=TODAY, include_all=True)
    assert list(every["po_number"]) == ["PO-000005", "PO-000001"]
    po1 = every.iloc[1]
    assert (po1["backorders"], po1["backordered"], po1["customers"]) == (1, 7, "Bistro Uno")
    assert not po1["predicted_late"]
    assert po1["open_value"] == pytest.approx(200 * 0.5 + 30 * 10)
    waiting = purchasing.backorders_waiting_on(tworld, 1)
    assert list(waiting["customer"]) == ["Bistro Uno"] and list(waiting["qty_open"]) == [7]


def test_supplier_scorecard_against_direct_sql(tworld):
    card = purchasing.supplier_scorecard(tworld, today=TODAY).set_index("supplier_id")
    acme, brite = card.loc[1], card.loc[2]
    assert (acme["received_pos"], acme["on_time_rate"], acme["fill_rate"]) == (2, 0.5, 1.0)
    assert (acme["open_pos"], acme["open_value"]) == (1, pytest.approx(400.0))
    assert brite["received_pos"] == 0 and pd.isna(brite["on_time_rate"])
    assert brite["fill_rate"] == pytest.approx(0.75)
    assert (brite["open_pos"], brite["open_value"]) == (1, pytest.approx(20.0))
    # Direct: open value of every supplier's open POs.
    with read_connection(tworld) as conn:
        direct = dict(
            conn.execute(
                select(
                    PurchaseOrder.supplier_id,
                    func.sum(
                        (PurchaseOrderLine.qty_ordered - PurchaseOrderLine.qty_received)
                        * PurchaseOrderLine.unit_cost
                    ),
                )
                .join(PurchaseOrderLine, PurchaseOrderLine.po_id == PurchaseOrder.id)
                .where(PurchaseOrder.status.in_(("approved", "sent", "partially_received")))
                .group_by(PurchaseOrder.supplier_id)
            ).all()
        )
    assert {k: float(v) for k, v in direct.items()} == {1: 400.0, 2: 20.0}


def test_purchasing_lead_time(tworld):
    kpi = purchasing.purchasing_lead_time(tworld, today=TODAY)
    # Need -> sent: PO1 1 day, PO3 1, PO4 0.5, PO5 1; sent -> received: PO3 8, PO4 6.
    assert (kpi.sent_pos, kpi.received_pos) == (4, 2)
    assert kpi.need_to_sent_days == pytest.approx(0.875)
    assert kpi.sent_to_received_days == pytest.approx(7.0)


def test_inbound_in_transit(tworld):
    inbound = shipments.inbound_in_transit(tworld, today=TODAY)
    assert list(inbound["shipment"]) == ["IN-2", "IN-1"]
    in1 = inbound.set_index("shipment").loc["IN-1"]
    assert (in1["po_number"], in1["backorders"], in1["customers"]) == ("PO-000001", 1, "Bistro Uno")
    assert in1["likely_arrival"] == days(3) and not in1["predicted_late"]
    in2 = inbound.set_index("shipment").loc["IN-2"]
    assert in2["predicted_late"]  # estimated days(1) after the promised days(-1)
    filling = shipments.inbound_in_transit(tworld, today=TODAY, only_filling_backorders=True)
    assert list(filling["shipment"]) == ["IN-1"]


def test_outbound_in_transit_flags_predicted_late(tworld):
    out = shipments.outbound_in_transit(tworld, today=TODAY)
    assert list(out["shipment"]) == ["SH-3", "SH-4"]  # late first; SH-5 carries no backorder
    assert list(out["predicted_late"]) == [True, False]
    assert list(out["days_late"]) == [1, 0]
    assert list(out["value"]) == [3.0, 6.0]
    every = shipments.outbound_in_transit(tworld, today=TODAY, only_backordered=False)
    assert set(every["shipment"]) == {"SH-3", "SH-4", "SH-5"}
    late = shipments.outbound_in_transit(tworld, today=TODAY, only_predicted_late=True)
    assert list(late["shipment"]) == ["SH-3"]


def test_on_time_by_carrier_and_region_against_direct_sql(tworld):
    table = shipments.on_time_by_carrier_region(tworld, today=TODAY)
    assert table.to_dict("records") == [
        {"carrier": "Fast", "region": "North", "delivered": 2, "on_time": 1, "rate": 0.5},
        {"carrier": "Slow", "region": "South", "delivered": 1, "on_time": 1, "rate": 1.0},
    ]
    assert shipments.on_time_rate(tworld, today=TODAY) == pytest.approx(2 / 3)
    # Direct: deliveries in the window, and those by the promised date.
    with read_connection(tworld) as conn:
        since = NOW - 90 * DAY
        delivered, on_time = conn.execute(
            select(
                func.count(Shipment.id),
                func.sum(
                    case((Shipment.delivered_at < Shipment.promised_date + DAY, 1), else_=0)
                    if conn.dialect.name == "postgresql"
                    else case((func.date(Shipment.delivered_at) <= Shipment.promised_date, 1),
                              else_=0)
                ),
            ).where(Shipment.delivered_at >= since, Shipment.direction == "outbound")
        ).one()  # fmt: skip
    assert (delivered, on_time) == (3, 2)


def test_transit_times_against_the_quoted_time(tworld):
    record = shipments.transit_times(tworld, today=TODAY)
    table = record.table.set_index("carrier")
    # Fast: 2 and 3 days (P50 2.5), shrunk towards all three deliveries (P50 2) with 2/(2+5).
    assert table.loc["Fast", "p50"] == pytest.approx(2 / 7 * 2.5 + 5 / 7 * 2.0)
    assert table.loc["Fast", "n"] == 2 and table.loc["Fast", "quoted_days"] == 2
    assert table.loc["Slow", "n"] == 1


def test_in_transit_value(tworld):
    value = shipments.in_transit_value(tworld)
    assert (value.outbound, value.outbound_shipments) == (pytest.approx(84.0), 3)
    assert (value.inbound, value.inbound_shipments) == (pytest.approx(420.0), 2)
