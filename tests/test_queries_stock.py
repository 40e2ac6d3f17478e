"""Stock overview, alerts and status counts against the hand-built world."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import insert

from data.schema import Setting
from queries.stock import (
    STOCK_SORTS,
    STOCK_STATUSES,
    product_thresholds,
    stock_overview,
    stock_page,
)
from tests import queries_world
from tests.queries_world import TODAY, build_world

# Built once per module and backend; tests that write build their own (engine + build_world).
world = queries_world.world


def _by_sku(df):
    return df.set_index("sku")


def test_overview_lists_active_products_only(world):
    df = stock_overview(world, today=TODAY)
    assert sorted(df["sku"]) == sorted(
        ["FLO-25", "RYE-25", "ALM-01", "MLK-01", "BLE-05", "GLD-01", "OVC-01", "OAT-01", "GOA-01"]
    )


def test_overview_sums_warehouses_and_counts_open_po_lines(world):
    row = _by_sku(stock_overview(world, today=TODAY)).loc["FLO-25"]
    assert (row["on_hand"], row["reserved"], row["available"]) == (40, 5, 35)
    assert row["on_order"] == 30  # 50 ordered - 20 received on the sent PO
    assert row["supplier"] == "Acme Foods"


def test_overview_ignores_draft_and_received_pos(world):
    df = _by_sku(stock_overview(world, today=TODAY))
    assert df.loc["BLE-05", "on_order"] == 0
    assert df.loc["RYE-25", "on_order"] == 0
    assert df.loc["MLK-01", "on_order"] == 200


def test_overview_demand_and_days_of_cover(world):
    df = _by_sku(stock_overview(world, today=TODAY))
    assert df.loc["FLO-25", "avg_daily_demand"] == pytest.approx(84 / 28)
    assert df.loc["FLO-25", "days_of_cover"] == pytest.approx(11.7)
    assert df.loc["MLK-01", "days_of_cover"] == 0
    assert df["days_of_cover"].isna()["ALM-01"]  # nobody asked for it: no cover figure


@pytest.mark.parametrize(
    ("sku", "status"),
    [
        ("FLO-25", "ok"),
        ("RYE-25", "low"),
        ("MLK-01", "backorders"),
        ("OVC-01", "backorders"),
        ("BLE-05", "out"),
        ("GLD-01", "ok"),
    ],
)
def test_overview_status(world, sku, status):
    assert _by_sku(stock_overview(world, today=TODAY)).loc[sku, "status"] == status


def test_overview_most_urgent_first(world):
    df = stock_overview(world, today=TODAY)
    assert list(df["status"][:4]) == ["backorders", "backorders", "out", "low"]
    assert list(df["sku"][:2]) == ["MLK-01", "OVC-01"]  # 7 units waiting before 3


def test_low_stock_ratio_setting_widens_low(engine):
    build_world(engine)
    with engine.begin() as conn:
        conn.execute(insert(Setting).values(key="low_stock_ratio", value={"v": 2.0}))
    # Flour: available 35 <= 2 x 20
    assert _by_sku(stock_overview(engine, today=TODAY)).loc["FLO-25", "status"] == "low"


@pytest.mark.parametrize(
    ("filters", "skus"),
    [
        ({"category": "Dairy"}, {"MLK-01", "OAT-01", "GOA-01"}),
        ({"supplier_id": 2}, {"BLE-05", "OVC-01"}),
        ({"status": "backorders"}, {"MLK-01", "OVC-01"}),
        ({"search": "rye"}, {"RYE-25"}),
        ({"search": "mlk-"}, {"MLK-01"}),
        ({"search": "100%"}, set()),
        ({"category": "Dry goods", "status": "low"}, {"RYE-25"}),
    ],
)
def test_overview_filters(world, filters, skus):
    assert set(stock_overview(world, today=TODAY, **filters)["sku"]) == skus


def test_low_stock_alerts_are_the_non_ok_products(world):
    rows = stock_page(world, today=TODAY).rows  # most urgent first, as the alerts show them
    alerts = rows[rows["status"] != "ok"]
    assert list(alerts["sku"][:2].sort_values()) == ["MLK-01", "OVC-01"]
    assert set(alerts["sku"]) == {"MLK-01", "OVC-01", "BLE-05", "RYE-25"}


def test_status_counts(world):
    counts = stock_page(world, today=TODAY).status_counts
    assert counts == {"backorders": 2, "out": 1, "low": 1, "ok": 5}


def test_product_thresholds(world):
    assert product_thresholds(world, 1) == {
        "id": 1,
        "sku": "FLO-25",
        "name": "Flour 25kg",
        "reorder_point": 20,
        "safety_stock": 5,
        "order_up_to": 60,
    }
    assert product_thresholds(world, 999) is None


@pytest.mark.parametrize("typed", ["flo\x00ur", "\x00", "\x07\x7f", "fl\ud800our", "f" * 10_000])
def test_overview_search_with_control_characters_does_not_raise(world, typed):
    df = stock_overview(world, search=typed)
    if typed.startswith("flo"):  # the control characters are dropped, the rest still matches
        assert "FLO-25" in set(df["sku"])


# --- One page of the stock table, cut in the database ------------------------------------------


def test_pages_of_the_stock_table_follow_the_overview_order(world):
    overview = stock_overview(world, today=TODAY)
    rows = []
    for offset in (0, 4, 8):
        page = stock_page(world, limit=4, offset=offset, today=TODAY)
        assert page.total == len(overview) == 9
        assert page.offset == offset
        rows += list(page.rows["sku"])
    assert rows == list(overview["sku"])
    first = stock_page(world, limit=4, today=TODAY).rows
    pd.testing.assert_frame_equal(
        first, overview.iloc[:4].reset_index(drop=True), check_dtype=False
    )


@pytest.mark.parametrize("sort", sorted(set(STOCK_SORTS) - {"urgency"}))
def test_stock_page_sorts_by_each_allowed_column(world, sort):
    overview = stock_overview(world, today=TODAY)
    for descending in (False, True):
        page = stock_page(world, sort=sort, descending=descending, limit=100, today=TODAY).rows
        expected = overview.sort_values(
            [sort, "sku"], ascending=[not descending, True], na_position="last", kind="stable"
        )
        assert list(page[sort].dropna()) == list(expected[sort].dropna())
        assert page[sort].isna().sum() == expected[sort].isna().sum()
        assert page[sort].tail(page[sort].isna().sum()).isna().all()  # blanks last


def test_stock_page_filters_count_every_match_and_clamp_past_the_end(world):
    page = stock_page(world, status="backorders", limit=1, today=TODAY)
    assert page.total == 2 and len(page.rows) == 1
    found = stock_page(world, search="rye", today=TODAY)
    assert (found.total, list(found.rows["sku"])) == (1, ["RYE-25"])
    beyond = stock_page(world, limit=4, offset=400, today=TODAY)
    assert (beyond.total, beyond.offset, len(beyond.rows)) == (9, 8, 1)
    nothing = stock_page(world, search="no such product", today=TODAY)
    assert (nothing.total, len(nothing.rows)) == (0, 0)


def test_stock_page_refuses_a_column_outside_the_list(world):
    with pytest.raises(ValueError, match="Unknown sort column"):
        stock_page(world, sort="name; drop table products", today=TODAY)


@pytest.mark.parametrize("filters", [{}, {"category": "Dry goods"}, {"status": "backorders"}])
def test_a_page_counts_the_statuses_of_every_row_the_filters_match(world, filters):
    matching = stock_overview(world, today=TODAY, **filters)
    expected = {s: int((matching["status"] == s).sum()) for s in STOCK_STATUSES}
    for offset in (0, 400):  # a page past the end counts the same rows
        page = stock_page(world, limit=2, offset=offset, today=TODAY, **filters)
        assert page.status_counts == expected
    nothing = stock_page(world, search="no such product", today=TODAY)
    assert nothing.status_counts == dict.fromkeys(STOCK_STATUSES, 0)
