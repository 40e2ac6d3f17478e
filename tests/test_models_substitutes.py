"""Substitute ranking: same use, allergen rule, availability, price, what the customer accepted."""

import datetime as dt

import pandas as pd

from models.substitutes import allergen_set, rank_substitutes

NEEDED = dt.date(2026, 3, 10)
ORIGINAL = {"product_id": 1, "use": "cream", "price": 10.0, "allergens": "milk"}


def _candidates(**overrides):
    rows = [
        {
            "product_id": 2,
            "use": "cream",
            "price": 10.5,
            "cost": 7.0,
            "allergens": "milk",
            "available_date": pd.Timestamp("2026-03-09"),
        },
        {
            "product_id": 3,
            "use": "cream",
            "price": 10.0,
            "cost": 6.0,
            "allergens": "milk, soya",
            "available_date": pd.Timestamp("2026-03-01"),
        },
        {
            "product_id": 4,
            "use": "cream",
            "price": 9.5,
            "cost": 7.0,
            "allergens": "",
            "available_date": pd.Timestamp("2026-03-20"),
        },
        {
            "product_id": 5,
            "use": "butter",
            "price": 10.0,
            "cost": 5.0,
            "allergens": "milk",
            "available_date": pd.Timestamp("2026-03-01"),
        },
    ]
    return pd.DataFrame(rows)


def test_candidates_of_another_use_or_adding_an_allergen_are_left_out():
    ranked = rank_substitutes(ORIGINAL, _candidates(), NEEDED)
    assert ranked["product_id"].tolist() == [2, 4]


def test_allergen_adding_candidates_can_be_shown_last_with_the_reason():
    ranked = rank_substitutes(ORIGINAL, _candidates(), NEEDED, include_disallowed=True)
    assert ranked["product_id"].tolist()[-1] == 3
    assert "adds soya" in ranked["reason"].iloc[-1]


def test_available_in_time_ranks_above_arriving_late():
    ranked = rank_substitutes(ORIGINAL, _candidates(), NEEDED)
    assert ranked.iloc[0]["reason"].startswith("available in time")
    assert "10 days late" in ranked.iloc[1]["reason"]


def test_accepted_before_can_lift_a_candidate_to_the_top():
    late_but_liked = _candidates()
    late_but_liked.loc[late_but_liked["product_id"] == 4, "available_date"] = pd.Timestamp(
        "2026-03-11"
    )
    ranked = rank_substitutes(ORIGINAL, late_but_liked, NEEDED, accepted_before={4})
    assert ranked["product_id"].tolist()[0] == 4
    assert "accepted before" in ranked["reason"].iloc[0]


def test_allergen_field_parsing():
    assert allergen_set(" Milk ,soya,") == frozenset({"milk", "soya"})
    assert allergen_set(None) == frozenset()


def test_substitutes_for_reads_stock_purchase_orders_and_what_was_accepted(sqlite_engine):
    from decimal import Decimal

    from sqlalchemy.orm import Session

    from data.db import write_session
    from data.schema import (
        Customer,
        Order,
        OrderLine,
        Product,
        PurchaseOrder,
        PurchaseOrderLine,
        Stock,
        Substitute,
        Supplier,
        Warehouse,
    )
    from models.substitutes import substitutes_for

    with write_session(sqlite_engine) as s:
        wh, sup = Warehouse(code="W", name="W"), Supplier(code="S", name="S", lead_time_days=5)
        s.add_all([wh, sup])
        s.flush()

        def product(sku, use, price, allergens=""):
            p = Product(
                sku=sku,
                name=sku,
                category="Dairy",
                use=use,
                unit="l",
                cost=Decimal("5"),
                price=Decimal(price),
                supplier_id=sup.id,
                allergens=allergens,
            )
            s.add(p)
            s.flush()
            return p

        cream = product("CREAM", "cream", "10", "milk")
        stocked = product("CREAM-B", "cream", "11", "milk")
        coming = product("CREAM-C", "cream", "10", "milk")
        soya = product("CREAM-SOY", "cream", "10", "milk,soya")
        listed = product("CREME-FRAICHE", "creme fraiche", "12", "milk")
        for p, free in [(cream, 0), (stocked, 8), (coming, 0), (soya, 5), (listed, 0)]:
            s.add(Stock(product_id=p.id, warehouse_id=wh.id, on_hand=free, reserved=0))
        s.add(Substitute(product_id=cream.id, substitute_id=listed.id))
        po = PurchaseOrder(
            number="PO-9",
            supplier_id=sup.id,
            warehouse_id=wh.id,
            status="sent",
            expected_date=dt.date(2026, 3, 12),
        )
        s.add(po)
        s.flush()
        s.add(
            PurchaseOrderLine(
                po_id=po.id, product_id=coming.id, qty_ordered=10, unit_cost=Decimal("5")
            )
        )
        customer = Customer(code="C", name="C", segment="Hotel", region="N", tier="gold")
        s.add(customer)
        s.flush()
        order = Order(number="SO-1", customer_id=customer.id)
        s.add(order)
        s.flush()
        s.add(
            OrderLine(
                order_id=order.id,
                line_no=1,
                product_id=coming.id,
                qty_ordered=1,
                qty_allocated=1,
                unit_price=Decimal("10"),
                substitute_for_id=cream.id,
            )
        )
        ids = {p.sku: p.id for p in (cream, stocked, coming, soya, listed)}
        customer_id = customer.id

    with Session(sqlite_engine) as s:
        ranked = substitutes_for(s, ids["CREAM"], customer_id, dt.date(2026, 3, 10))
    by_id = ranked.set_index("product_id")
    assert ids["CREAM-SOY"] not in by_id.index  # adds soya
    # Creme fraiche is listed, but serves another use: never offered for cream.
    assert set(by_id.index) == {ids["CREAM-B"], ids["CREAM-C"]}
    assert set(ranked["use"]) == {"cream"}
    assert by_id.loc[ids["CREAM-B"], "reason"].startswith("available in time")
    assert by_id.loc[ids["CREAM-C"], "reason"].startswith("2 days late")
    assert "accepted before" in by_id.loc[ids["CREAM-C"], "reason"]
