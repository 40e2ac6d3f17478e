"""A hand-made history for the analytics pages, built through the write side on any database.

On top of the small operations world (four dry-goods products, three restaurants) it adds a
dairy and a produce product, a hotel and a school, then places, cancels, fills and short-picks
orders on fixed days spread over two months this year and the same month a year earlier, and
adds delivered shipments (one late), a demand forecast and closed backorders for the
cancellation chances. Every figure the analytics pages show is checked against direct SQL over
these rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from data.db import write_session
from data.schema import (
    Backorder,
    Customer,
    Feedback,
    Forecast,
    ModelRun,
    PickTask,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Shipment,
    Stock,
    StockLedger,
)
from operations import (
    cancel_line,
    confirm_pick,
    mark_delivered,
    place_order,
    receive_po,
    record_backorder_cost,
)
from tests.operations_world import World, build_world, fetch_rows

TODAY = dt.date(2026, 6, 17)  # a Wednesday
NOW = dt.datetime(2026, 6, 17, 15, 0)


def at(days_ago: int, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(TODAY - dt.timedelta(days=days_ago), dt.time(hour))


@dataclass
class AnalyticsWorld:
    base: World
    customers: dict[str, int]  # gold, silver, bronze (restaurants), hotel, school, canteen
    products: dict[str, int]


def _add_product(s, base: World, sku: str, category: str, on_hand: int, price: str) -> int:
    product = Product(
        sku=sku,
        name=sku.title(),
        category=category,
        use=sku.lower(),
        unit="each",
        pack_size=1,
        cost=Decimal(price) * Decimal("0.5"),
        price=Decimal(price),
        supplier_id=base.suppliers["DAIRY"],
        reorder_point=0,
        safety_stock=0,
        order_up_to=0,
        min_order_qty=1,
    )
    s.add(product)
    s.flush()
    s.add(Stock(product_id=product.id, warehouse_id=base.warehouse, on_hand=on_hand, reserved=0))
    s.add(
        StockLedger(
            product_id=product.id,
            warehouse_id=base.warehouse,
            on_hand_delta=on_hand,
            reserved_delta=0,
            reason="opening",
        )
    )
    return product.id


def _add_customer(s, code: str, segment: str, tier: str) -> int:
    customer = Customer(
        code=code,
        name=f"{segment} {code}",
        segment=segment,
        region="North",
        tier=tier,
        backorder_preference="accept_backorder",
        email=f"{code.lower()}@example.com",
    )
    s.add(customer)
    s.flush()
    return customer.id


def _order(engine, customer_id: int, lines, when: dt.datetime, choice=None):
    return place_order(
        engine,
        customer_id=customer_id,
        lines=lines,
        actor="t",
        now=when,
        backorder_choice=choice,
    )


def build_analytics_world(engine) -> AnalyticsWorld:
    base = build_world(engine, stock={"FLOUR-25": 40, "BUTTER-10": 3, "OIL-5L": 100})
    with write_session(engine) as s:
        milk = _add_product(s, base, "MILK-1L", "Dairy", 6, "1.20")
        apple = _add_product(s, base, "APPLE-5KG", "Produce", 0, "7.50")
        hotel = _add_customer(s, "H1", "Hotel", "gold")
        school = _add_customer(s, "S1", "School", "bronze")
        canteen = _add_customer(s, "K1", "Canteen", "silver")
    customers = {**base.customers, "hotel": hotel, "school": school, "canteen": canteen}
    products = {**base.products, "MILK-1L": milk, "APPLE-5KG": apple}

    # A canteen that never meets a backorder, ordering again within a week.
    _order(engine, canteen, [("OIL-5L", 2)], at(35))
    _order(engine, canteen, [("OIL-5L", 1)], at(29))
    # A year ago, same month: one short line out of two.
    _order(engine, hotel, [("NAPKIN-500", 5), ("OIL-5L", 2)], at(365, 9))
    # Last month and this month, several weeks. Small napkin lines first: the usual size (2).
    napkins = [
        _order(engine, customers["silver"], [("NAPKIN-500", 2)], at(days_ago))
        for days_ago in (50, 48, 45)
    ]
    # One of them is given up two days later: a closed, cancelled backorder.
    cancel_line(
        engine, order_line_id=napkins[1].lines[0].line_id, actor="t", reason="gone", now=at(46)
    )
    _order(engine, customers["gold"], [("FLOUR-25", 12), ("BUTTER-10", 5)], at(40))
    _order(engine, school, [("MILK-1L", 4), ("APPLE-5KG", 3)], at(33))
    _order(engine, hotel, [("MILK-1L", 5), ("OIL-5L", 6)], at(26))  # milk: 2 left -> short 3
    short_cancel = _order(
        engine, customers["bronze"], [("APPLE-5KG", 2), ("FLOUR-25", 3)], at(19), "cancel_short"
    )
    spike = _order(engine, customers["silver"], [("NAPKIN-500", 40)], at(12))
    _order(engine, hotel, [("BUTTER-10", 2), ("APPLE-5KG", 10)], at(5))
    _order(engine, school, [("OIL-5L", 9), ("FLOUR-25", 30)], at(1))  # flour: 25 left -> short 5
    _order(engine, customers["gold"], [("OIL-5L", 1)], at(0, 9))

    # Cancel part of a backorder (a lost sale) and a reserved line.
    cancel_line(
        engine,
        order_line_id=spike.lines[0].line_id,
        actor="t",
        reason="customer gave up",
        qty=15,
        now=at(8),
    )
    assert short_cancel.lines[0].qty_cancelled == 2
    # Goods arrive for the dairy supplier and fill the milk backorder (a closed, filled one).
    with write_session(engine) as s:
        po = PurchaseOrder(
            number="PO-A1",
            supplier_id=base.suppliers["DAIRY"],
            warehouse_id=base.warehouse,
            status="sent",
            expected_date=TODAY - dt.timedelta(days=20),
        )
        s.add(po)
        s.flush()
        s.add(PurchaseOrderLine(po_id=po.id, product_id=milk, qty_ordered=3, unit_cost=Decimal(1)))
        po_id = po.id
    receive_po(engine, po_id=po_id, actor="t", now=at(20))
    # A short pick on the oil line of the last-but-one order.
    tasks = fetch_rows(
        engine,
        select(PickTask.id, PickTask.qty).where(
            PickTask.status == "open", PickTask.product_id == products["OIL-5L"]
        ),
    )
    oil_task = max(tasks, key=lambda t: t.qty)
    confirm_pick(
        engine, task_id=oil_task.id, qty_picked=oil_task.qty - 2, actor="op", now=at(0, 12)
    )

    # Costs booked by hand, and an open purchase order still to arrive.
    spike_backorder = fetch_rows(
        engine, select(Backorder.id).where(Backorder.order_line_id == spike.lines[0].line_id)
    )[0][0]
    record_backorder_cost(
        engine, backorder_id=spike_backorder, kind="expedite", amount=30, actor="t", now=at(11)
    )
    record_backorder_cost(
        engine, backorder_id=spike_backorder, kind="credit", amount="4.40", actor="t", now=at(8)
    )
    with write_session(engine) as s:
        po = PurchaseOrder(
            number="PO-A2",
            supplier_id=base.suppliers["MILL"],
            warehouse_id=base.warehouse,
            status="sent",
            expected_date=TODAY + dt.timedelta(days=5),
        )
        s.add(po)
        s.flush()
        s.add(
            PurchaseOrderLine(
                po_id=po.id, product_id=products["FLOUR-25"], qty_ordered=10, unit_cost=Decimal("4")
            )
        )
    # Delivered shipments: two on time, one late, one outside the weeks; marked delivered
    # through the write side, which counts them in the weekly deliveries.
    deliveries = [(10, 7, 8), (6, 3, 3), (4, 2, 1), (200, 198, 199)]
    with write_session(engine) as s:
        shipments = [
            Shipment(
                number=f"SH-{n}",
                direction="outbound",
                carrier_id=base.carrier,
                status="in_transit",
                shipped_at=at(shipped),
                promised_date=TODAY - dt.timedelta(days=promised),
            )
            for n, (shipped, promised, _) in enumerate(deliveries)
        ]
        s.add_all(shipments)
        s.flush()
        shipment_ids = [shipment.id for shipment in shipments]
    for shipment_id, (_, _, delivered) in zip(shipment_ids, deliveries, strict=True):
        mark_delivered(engine, shipment_id=shipment_id, actor="t", now=at(delivered, 16))
    with write_session(engine) as s:
        # Feedback: (days ago, customer, csat, nps, sentiment, comment).
        for days_ago, who, csat, nps, sentiment, comment in (
            (30, "hotel", 2, 3, -0.8, "Milk arrived late again"),
            (25, "hotel", 3, 6, -0.3, "Prices went up"),
            (20, "school", 5, 10, 0.9, "Great service"),
            (15, "gold", 4, 9, 0.5, ""),
            (10, "silver", 1, 0, -0.9, "Napkins missing from the delivery"),
            (3, "bronze", 4, 8, None, "Fine"),
        ):
            s.add(
                Feedback(
                    created_at=at(days_ago),
                    customer_id=customers[who],
                    csat=csat,
                    nps=nps,
                    sentiment=sentiment,
                    comment=comment,
                )
            )
        run = ModelRun(kind="demand", version="t", status="ok", params={"freq": "W"})
        s.add(run)
        s.flush()
        for week in range(3):
            for pid, p50 in ((milk, 4.0), (products["FLOUR-25"], 20.0)):
                s.add(
                    Forecast(
                        model_run_id=run.id,
                        product_id=pid,
                        period_start=TODAY + dt.timedelta(days=7 * week - TODAY.weekday()),
                        p50=p50,
                        p90=p50 * 2,
                        mean=p50,
                    )
                )
    return AnalyticsWorld(base=base, customers=customers, products=products)
