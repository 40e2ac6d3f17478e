"""Reorder point, safety stock and order-up-to level from demand and lead-time distributions.

Safety stock covers the spread of demand over the lead time and the spread of the lead time
itself: ``z * sqrt(LT * sigma_d**2 + d**2 * sigma_LT**2)`` with ``d`` and ``sigma_d`` per day.
The reorder point is the expected demand over the lead time plus that safety stock; the
order-up-to level adds one review period of demand on top.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

# How far P90 lies above P50 in standard deviations, for a roughly normal spread.
Z_90 = NormalDist().inv_cdf(0.9)
DEFAULT_REVIEW_DAYS = 7  # purchase orders are drafted weekly


@dataclass(frozen=True)
class ReorderPolicy:
    """The three thresholds kept on a product, and why."""

    reorder_point: int
    safety_stock: int
    order_up_to: int
    reason: str


def service_z(service_level: float) -> float:
    """The normal quantile for a cycle service level (0.95 -> 1.645)."""
    if not 0 < service_level < 1:
        raise ValueError(f"service level must be between 0 and 1, got {service_level}")
    return NormalDist().inv_cdf(service_level)


def spread_from_quantiles(p50: float, p90: float) -> float:
    """A standard deviation read from P50 and P90 (normal approximation)."""
    return max(p90 - p50, 0.0) / Z_90


def safety_stock(
    demand_per_day: float,
    demand_sd_per_day: float,
    lead_time_days: float,
    lead_time_sd_days: float,
    service_level: float,
) -> float:
    """z * sqrt(LT * sigma_d^2 + d^2 * sigma_LT^2), in units."""
    z = service_z(service_level)
    variance = lead_time_days * demand_sd_per_day**2 + demand_per_day**2 * lead_time_sd_days**2
    return max(z, 0.0) * math.sqrt(max(variance, 0.0))


def reorder_policy(
    demand_per_day: float,
    demand_sd_per_day: float,
    lead_time_days: float,
    lead_time_sd_days: float,
    service_level: float,
    review_days: float = DEFAULT_REVIEW_DAYS,
) -> ReorderPolicy:
    """Reorder point, safety stock and order-up-to level (whole units, rounded up)."""
    if min(demand_per_day, demand_sd_per_day, lead_time_days, lead_time_sd_days) < 0:
        raise ValueError("demand, lead time and their spreads must not be negative")
    ss = safety_stock(
        demand_per_day, demand_sd_per_day, lead_time_days, lead_time_sd_days, service_level
    )
    safety = math.ceil(ss - 1e-9)
    reorder_point = math.ceil(demand_per_day * lead_time_days + ss - 1e-9)
    order_up_to = max(reorder_point, math.ceil(reorder_point + demand_per_day * review_days - 1e-9))
    reason = (
        f"covers {lead_time_days:.0f} days of lead time at {service_level * 100:.0f} % "
        f"({demand_per_day:.1f}/day expected, {safety} safety stock for the spread of "
        f"demand and lead time; up to {review_days:.0f} more days of demand)"
    )
    return ReorderPolicy(reorder_point, safety, order_up_to, reason)
