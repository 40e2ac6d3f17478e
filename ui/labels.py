"""Names people read instead of the keys the code uses: settings, model metrics, audit changes."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from data.settings import SETTINGS

# Setting key -> how the Admin page names it. A key missing here reads as its words.
SETTING_LABELS: dict[str, str] = {
    "service_level": "Service level (chance of no stock-out in a lead time)",
    "import_max_mb": "Import: largest file (MB)",
    "weight_tier": "Priority weight: gold tier",
    "weight_urgent": "Priority weight: urgent order",
    "weight_days_waiting": "Priority weight: per day waiting",
    "weight_slack": "Priority weight: per day past the promise",
    "low_stock_ratio": "Low-stock ratio (x reorder point)",
    "default_lead_time_days": "Default supplier lead time (days)",
    "pick_days": "Days from stock to dispatch",
    "refresh_seconds": "Live page refresh (seconds)",
    "mail_enabled": "Send notifications by mail",
    "mail_host": "Mail server host",
    "mail_port": "Mail server port",
    "mail_from": "Mail sender address",
    "mail_max_attempts": "Mail attempts before giving up",
}

# Metric names the model runs record -> what the Models tab calls them.
METRIC_LABELS: dict[str, str] = {
    "rmsse": "Scaled squared error (RMSSE)",
    "mase": "Scaled absolute error (MASE)",
    "wape": "Weighted absolute error (WAPE)",
    "bias": "Bias",
    "mae": "Mean absolute error",
    "mae_days": "Mean absolute error (days)",
    "bias_days": "Bias (days)",
    "coverage_p90": "P90 coverage",
    "n": "Cases",
    "method": "Method",
}
METHOD_LABELS: dict[str, str] = {
    "model": "Larder's demand model",
    "seasonal_naive": "Seasonal naive (same week last season)",
    "naive": "Naive (last value)",
    "croston_sba": "Croston, Syntetos-Boylan corrected",
    "tsb": "Teunter-Syntetos-Babai (TSB)",
}
_MOVING_AVERAGE = re.compile(r"^moving_average_(\d+)$")
_PINBALL = re.compile(r"^pinball_p?(\d+(?:\.\d+)?)$")
NOTHING = "—"


def words(key: str) -> str:
    """``default_lead_time_days`` -> "Default lead time days"."""
    text = key.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def setting_label(key: str) -> str:
    """The readable name of a setting (its own label when the setting declares one)."""
    spec = SETTINGS.get(key)
    declared = getattr(spec, "label", None) if spec is not None else None
    return declared or SETTING_LABELS.get(key) or words(key)


def metric_label(name: str) -> str:
    """``rmsse`` -> "Scaled squared error (RMSSE)"; ``pinball_p90`` -> "Quantile loss, P90"."""
    if name in METRIC_LABELS:
        return METRIC_LABELS[name]
    match = _PINBALL.match(name)
    if match:
        level = float(match.group(1))
        level = level * 100 if level < 1 else level
        return f"Quantile loss, P{level:g}"
    return words(name)


def method_label(name: str) -> str:
    """``moving_average_4`` -> "Moving average of 4 periods"."""
    match = _MOVING_AVERAGE.match(str(name))
    if match:
        return f"Moving average of {match.group(1)} periods"
    return METHOD_LABELS.get(name) or words(str(name))


def _as_mapping(value: Any) -> Mapping | None:
    if value is None or value == "":
        return None
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {"value": value}
        return parsed if isinstance(parsed, Mapping) else {"value": parsed}
    return {"value": value}


def _shown(value: Any) -> str:
    if value is None or value == "":
        return NOTHING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_shown(v) for v in value) or NOTHING
    if isinstance(value, Mapping):
        return ", ".join(f"{words(str(k)).lower()} {_shown(v)}" for k, v in value.items())
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def describe_change(before: Any, after: Any) -> str:
    """An audit entry's change as "field: before -> after; ..." (JSON text or dicts accepted).

    A new thing lists its fields ("field: value"); a removed one its old values ("field: value
    -> —"); fields that did not change are left out.
    """
    old, new = _as_mapping(before), _as_mapping(after)
    if old is None and new is None:
        return ""
    if old is None:
        return "; ".join(f"{words(str(k))}: {_shown(v)}" for k, v in new.items())
    if new is None:
        return "; ".join(f"{words(str(k))}: {_shown(v)} -> {NOTHING}" for k, v in old.items())
    parts = []
    for key in dict.fromkeys([*old, *new]):
        was, now = old.get(key), new.get(key)
        if was != now:
            parts.append(f"{words(str(key))}: {_shown(was)} -> {_shown(now)}")
    return "; ".join(parts) or "no change"
