"""The priority score: who of the open backorders gets scarce stock first, and why.

A pure rule on plain values (tier, order priority, days waiting, days to the promise, the
weights from the settings). The write side fills backorders by it (:mod:`operations.allocation`)
and the promise walk orders each product's queue by it (:mod:`models.promise`), so it lives here,
below both.
"""

from __future__ import annotations

from collections.abc import Mapping

# Share of weight_tier each tier earns.
TIER_SHARE = {"gold": 1.0, "silver": 0.5, "bronze": 0.0}
# A promise this many days away or nearer starts earning slack points, one weight per day.
SLACK_HORIZON_DAYS = 2
WEIGHT_KEYS = ("weight_tier", "weight_urgent", "weight_days_waiting", "weight_slack")


def priority_score(
    *,
    tier: str,
    priority: str,
    days_waiting: float,
    days_to_promise: float | None,
    weights: Mapping[str, float],
) -> tuple[float, dict[str, float]]:
    """Score of one backorder and the points behind it (tier, urgent, waiting, slack).

    Higher goes first. Slack points grow by ``weight_slack`` per day once the promised date is
    within ``SLACK_HORIZON_DAYS`` (and keep growing after it has passed); no promise, no points.
    """
    parts = {
        "tier": float(weights["weight_tier"]) * TIER_SHARE.get(tier, 0.0),
        "urgent": float(weights["weight_urgent"]) if priority == "urgent" else 0.0,
        "waiting": float(weights["weight_days_waiting"]) * max(float(days_waiting), 0.0),
        "slack": 0.0
        if days_to_promise is None
        else float(weights["weight_slack"]) * max(SLACK_HORIZON_DAYS - float(days_to_promise), 0.0),
    }
    parts = {key: round(value, 4) for key, value in parts.items()}
    return round(sum(parts.values()), 4), parts
