"""Every tunable setting, declared once as data with its default and a line of help.

Values live in the ``settings`` table (as ``{"v": value}``); a key never written there has its
default. Reads go through :func:`get_setting` / :func:`all_settings`; changes go through the
write side (``operations.admin.set_setting``), which validates and audits them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from data.schema import Setting


@dataclass(frozen=True)
class SettingSpec:
    key: str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None


SETTINGS: dict[str, SettingSpec] = {
    spec.key: spec
    for spec in (
        SettingSpec(
            "service_level",
            0.95,
            "Target probability of not running out during a lead time.",
            0.5,
            0.999,
        ),
        SettingSpec(
            "weight_tier",
            3.0,
            "Priority points for a gold customer (silver gets half, bronze none).",
            0,
            100,
        ),
        SettingSpec("weight_urgent", 2.0, "Priority points for an order marked urgent.", 0, 100),
        SettingSpec(
            "weight_days_waiting", 0.2, "Priority points per day a backorder has waited.", 0, 100
        ),
        SettingSpec(
            "weight_slack",
            0.5,
            "Priority points per day the promised date is already past (or near).",
            0,
            100,
        ),
        SettingSpec(
            "low_stock_ratio",
            1.0,
            "A product is 'low' when available <= this x reorder point.",
            0,
            10,
        ),
        SettingSpec(
            "default_lead_time_days", 7, "Lead time assumed for a supplier with no history.", 1, 365
        ),
        SettingSpec("pick_days", 1, "Working days from stock to dispatch.", 0, 30),
        SettingSpec("refresh_seconds", 5, "How often live pages refresh themselves.", 2, 600),
        SettingSpec("mail_enabled", False, "Send notifications by mail from the outbox."),
        SettingSpec("mail_host", "127.0.0.1", "SMTP host for outgoing mail."),
        SettingSpec("mail_port", 25, "SMTP port for outgoing mail.", 1, 65535),
        SettingSpec("mail_from", "larder@example.com", "Sender address of outgoing mail."),
        SettingSpec("mail_max_attempts", 5, "Attempts before a mail is marked failed.", 1, 50),
        SettingSpec(
            "response_target_hours",
            4.0,
            "Customer service answers an inbound question within this many hours.",
            0.25,
            168,
        ),
    )
}


def get_setting(conn: Connection, key: str) -> Any:
    """The current value of ``key`` (its default when never set)."""
    spec = SETTINGS[key]
    stored = conn.execute(select(Setting.value).where(Setting.key == key)).scalar_one_or_none()
    return spec.default if stored is None else stored["v"]


def all_settings(conn: Connection) -> dict[str, Any]:
    """Every setting, stored values over defaults."""
    values = {key: spec.default for key, spec in SETTINGS.items()}
    for key, value in conn.execute(select(Setting.key, Setting.value)):
        if key in values:
            values[key] = value["v"]
    return values
