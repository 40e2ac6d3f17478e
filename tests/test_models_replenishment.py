"""Reorder point, safety stock and order-up-to from demand and lead time."""

import math

import pytest

from models.replenishment import reorder_policy, safety_stock, service_z, spread_from_quantiles


def test_service_z_at_95_percent():
    assert service_z(0.95) == pytest.approx(1.6449, abs=1e-4)


def test_safety_stock_combines_demand_and_lead_time_spread():
    # z * sqrt(LT * sd^2 + d^2 * sdLT^2) = 1.6449 * sqrt(9 * 9 + 100 * 4)
    expected = 1.6448536 * math.sqrt(9 * 9 + 100 * 4)
    assert safety_stock(10, 3, 9, 2, 0.95) == pytest.approx(expected, rel=1e-6)


def test_policy_rounds_up_and_explains_itself():
    policy = reorder_policy(10, 3, 9, 2, 0.95, review_days=7)
    assert policy.safety_stock == 37  # 36.08 rounded up
    assert policy.reorder_point == 127  # 90 + 36.08
    assert policy.order_up_to == 197  # + 7 days of 10
    assert policy.reason.startswith("covers 9 days of lead time at 95 %")


def test_no_demand_means_no_stock_needed():
    policy = reorder_policy(0, 0, 5, 1, 0.95)
    assert (policy.reorder_point, policy.safety_stock, policy.order_up_to) == (0, 0, 0)


def test_spread_from_p50_and_p90():
    assert spread_from_quantiles(5, 5 + 1.2815516) == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("level", [0.0, 1.0, 1.2])
def test_service_level_must_be_a_probability(level):
    with pytest.raises(ValueError, match="service level"):
        service_z(level)
