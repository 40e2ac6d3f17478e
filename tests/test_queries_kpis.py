"""Backorder rate, fill rate and inventory turnover against hand-computed values."""

from __future__ import annotations

import datetime as dt

import pytest

from queries.kpis import (
    backorder_rate,
    backorder_rate_by_category_week,
    fill_rate,
    inventory_turnover,
    open_backorders,
)
from tests import queries_world
from tests.queries_world import COGS_365, INVENTORY_AT_COST, TODAY

# Built once per module and backend: the tests here only read.
world = queries_world.world


def test_backorder_rate_is_short_lines_over_lines(world):
    kpi = backorder_rate(world, today=TODAY)
    assert kpi.value == pytest.approx(3 / 12)
    assert "lines short" in kpi.help


def test_fill_rate_is_one_minus_short_units_over_units(world):
    assert fill_rate(world, today=TODAY).value == pytest.approx(1 - 14 / 168)


def test_rates_follow_the_window(world):
    # Over 60 days the 1000-unit day with no shortage counts too.
    assert backorder_rate(world, days=60, today=TODAY).value == pytest.approx(3 / 22)
    assert fill_rate(world, days=60, today=TODAY).value == pytest.approx(1 - 14 / 1168)


def test_rates_are_none_without_orders(engine):
    assert backorder_rate(engine, today=TODAY).value is None
    assert fill_rate(engine, today=TODAY).value is None
    assert inventory_turnover(engine, today=TODAY).value is None


def test_inventory_turnover_is_cogs_over_inventory_at_cost(world):
    kpi = inventory_turnover(world, today=TODAY)
    assert kpi.value == pytest.approx(COGS_365 / INVENTORY_AT_COST)
    assert "Approximation" in kpi.help


def test_open_backorders_counts_lines_and_units(world):
    summary = open_backorders(world)
    assert (summary.lines, summary.units) == (2, 10)


def test_backorder_rate_by_category_week(world):
    weekly = backorder_rate_by_category_week(world, weeks=12, today=TODAY)
    rows = {(r.week_ending.date(), r.category): r for r in weekly.itertuples()}
    # Day -1 and -2 fall in the week ending today; day -10 in the week before; day -30 in the
    # week ending 28 days ago.
    dairy = rows[(TODAY, "Dairy")]
    assert (dairy.lines, dairy.lines_short, dairy.rate) == (6, 2, pytest.approx(1 / 3))
    dry = rows[(TODAY, "Dry goods")]
    assert (dry.lines, dry.lines_short) == (4, 0)
    assert rows[(TODAY - dt.timedelta(days=7), "Dry goods")].rate == 0.5
    assert len(weekly) == 4
