"""The backorder report and a customer's open backorders against the hand-built world."""

from __future__ import annotations

import pandas as pd
import pytest

from queries.backorders import backorder_report, customer_open_backorders
from tests import queries_world
from tests.queries_world import NOW, days

# Built once per module and backend: the tests here only read.
world = queries_world.world


def test_report_row_has_order_customer_dates_and_value(world):
    df = backorder_report(world, now=NOW)
    row = df.set_index("backorder_id").loc[1]
    assert row["order_number"] == "SO-000001"
    assert (row["customer"], row["segment"]) == ("Bistro Uno", "Restaurant")
    assert (row["sku"], row["category"], row["supplier"]) == ("MLK-01", "Dairy", "Acme Foods")
    assert row["qty_open"] == 7
    assert row["age_days"] == 5
    assert (row["promised_date"], row["estimated_date"], row["late_case_date"]) == (
        days(2),
        days(3),
        days(5),
    )
    assert row["reason"] == "waits on PO-000001"
    assert row["value_at_risk"] == pytest.approx(7.0)


def test_report_open_by_default_oldest_first(world):
    assert list(backorder_report(world, now=NOW)["backorder_id"]) == [3, 1]


@pytest.mark.parametrize(
    ("filters", "ids"),
    [
        ({"category": "Dairy"}, [1]),
        ({"category": "Produce"}, []),
        ({"supplier_id": 2}, [3]),
        ({"segment": "Hotel"}, [3]),
        ({"min_age_days": 10}, [3]),
        ({"max_age_days": 10}, [1]),
        ({"min_age_days": 5, "max_age_days": 5}, [1]),
        ({"min_age_days": 6, "max_age_days": 19}, []),
        ({"status": "cancelled"}, [2]),
        ({"status": None}, [2, 3, 1]),
    ],
)
def test_report_filters(world, filters, ids):
    assert list(backorder_report(world, now=NOW, **filters)["backorder_id"]) == ids


def test_report_value_at_risk_uses_line_price(world):
    row = backorder_report(world, now=NOW, supplier_id=2).iloc[0]
    assert row["value_at_risk"] == pytest.approx(18.0)  # 3 open x 6.00
    assert pd.isna(row["estimated_date"])  # no estimate yet


@pytest.mark.parametrize(("customer_id", "ids"), [(1, [1]), (2, [3]), (99, [])])
def test_customer_sees_only_own_open_backorders(world, customer_id, ids):
    assert list(customer_open_backorders(world, customer_id, now=NOW)["backorder_id"]) == ids
