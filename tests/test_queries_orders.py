"""A customer's orders: always filtered by the customer."""

from __future__ import annotations

import pytest

from queries.orders import customer_orders, customer_profile, order_lines
from tests import queries_world
from tests.queries_world import days

# Built once per module and backend: the tests here only read.
world = queries_world.world


def test_customer_orders_summary(world):
    df = customer_orders(world, 1)
    assert list(df["order"]) == ["SO-000001"]
    row = df.iloc[0]
    assert (row["lines"], row["backordered_lines"]) == (2, 1)
    assert row["next_estimate"] == days(3)
    assert row["value"] == pytest.approx(85.0)  # 10 x 1.00 + 5 x 15.00


def test_customer_orders_newest_first_and_only_own(world):
    assert list(customer_orders(world, 2)["order"]) == ["SO-000003", "SO-000002"]
    assert customer_orders(world, 99).empty


def test_order_lines_of_own_order(world):
    df = order_lines(world, 1, 1)
    assert list(df["sku"]) == ["MLK-01", "FLO-25"]
    first = df.iloc[0]
    assert (first["qty_allocated"], first["qty_backordered"]) == (3, 7)
    assert first["estimated_date"] == days(3)
    assert first["reason"] == "waits on PO-000001"


@pytest.mark.parametrize(("customer_id", "order_id"), [(1, 3), (2, 1), (99, 1)])
def test_order_lines_of_another_customers_order_are_empty(world, customer_id, order_id):
    assert order_lines(world, customer_id, order_id).empty


def test_customer_profile(world):
    profile = customer_profile(world, 2)
    assert (profile["name"], profile["segment"], profile["backorder_preference"]) == (
        "Hotel Due",
        "Hotel",
        "accept_backorder",
    )
    assert customer_profile(world, 99) is None
