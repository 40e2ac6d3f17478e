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

# What a setting's value is; the write side checks every change against it.
SETTING_KINDS = {
    "ratio": "a number within its range",
    "count": "a whole number within its range",
    "port": "a TCP port (1 to 65535)",
    "flag": "on or off",
    "email": "an e-mail address",
    "host": "a host name or IP address",
    "choice": "one of the listed values",
    "login": "a login name (letters, digits and . _ @ + -), or - for none",
    "roles": "role names separated by commas, or - for none",
}


@dataclass(frozen=True)
class SettingSpec:
    key: str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    kind: str | None = None  # None: from the default (bool -> flag, int -> count, float -> ratio)
    choices: tuple[str, ...] = ()  # the allowed values of a "choice" setting

    def __post_init__(self) -> None:
        kind = self.kind
        if kind is None:
            default = self.default
            if isinstance(default, bool):
                kind = "flag"
            elif isinstance(default, int):
                kind = "count"
            elif isinstance(default, float):
                kind = "ratio"
            else:
                raise TypeError(f"setting {self.key}: say which kind of text it holds")
        if kind not in SETTING_KINDS:
            raise TypeError(f"setting {self.key}: unknown kind {kind!r}")
        if (kind == "choice") != bool(self.choices) or (
            self.choices and self.default not in self.choices
        ):
            raise TypeError(
                f"setting {self.key}: a choice needs its values, the default among them"
            )
        object.__setattr__(self, "kind", kind)


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
            0.1,
            10,
        ),
        SettingSpec(
            "default_lead_time_days",
            7,
            "Lead time assumed for a supplier with no history.",
            1,
            365,
            kind="count",
        ),
        SettingSpec(
            "risk_horizon_weeks",
            4,
            "Weeks ahead the backorder-risk score looks (used from the next model training).",
            1,
            26,
            kind="count",
        ),
        SettingSpec("pick_days", 1, "Working days from stock to dispatch.", 0, 30, kind="count"),
        SettingSpec(
            "refresh_seconds", 5, "How often live pages refresh themselves.", 2, 600, kind="count"
        ),
        SettingSpec(
            "mail_enabled", False, "Send notifications by mail from the outbox.", kind="flag"
        ),
        SettingSpec("mail_host", "127.0.0.1", "SMTP host for outgoing mail.", kind="host"),
        SettingSpec("mail_port", 25, "SMTP port for outgoing mail.", 1, 65535, kind="port"),
        SettingSpec(
            "mail_from", "larder@example.com", "Sender address of outgoing mail.", kind="email"
        ),
        SettingSpec(
            "mail_max_attempts", 5, "Attempts before a mail is marked failed.", 1, 50, kind="count"
        ),
        SettingSpec(
            "max_line_units",
            100_000,
            "The most units of one product on an order line, purchase order line, stock count "
            "or threshold; more is refused.",
            1,
            2**31 - 1,
            kind="count",
        ),
        SettingSpec(
            "unusual_size_factor",
            10,
            "An order line or threshold above this many times the product's usual size (its "
            "order-up-to level or largest order line so far) is saved only once confirmed.",
            2,
            1000,
            kind="count",
        ),
        SettingSpec(
            "notice_repeat_hours",
            24,
            "Hours before a rule tells the same people about the same subject again (a product "
            "that stays low, a purchase order that stays overdue).",
            0,
            24 * 30,
        ),
        SettingSpec(
            "notify_low_stock",
            True,
            "Tell purchasing and the warehouse manager when a product's free stock falls to its "
            "low level.",
        ),
        SettingSpec(
            "notify_backorder_created",
            True,
            "Tell the customer and their sales representative when units go on backorder, with "
            "the expected date.",
        ),
        SettingSpec(
            "notify_promise_slipped",
            True,
            "Tell the customer, their sales representative and customer service when a "
            "backorder's new estimate is later than promised (or than last told).",
        ),
        SettingSpec(
            "notify_po_late",
            True,
            "Tell logistics and purchasing when a supplier moves a purchase order to a later date.",
        ),
        SettingSpec(
            "notify_po_overdue",
            True,
            "Tell purchasing and logistics when a purchase order is past its expected date and "
            "not received.",
        ),
        SettingSpec(
            "notify_shipment_late",
            True,
            "Tell the customer, their sales representative and logistics when a shipment's "
            "estimated arrival is after the date promised to the customer.",
        ),
        SettingSpec(
            "notify_delivery_failed",
            True,
            "Tell the customer, their sales representative, logistics and customer service when "
            "a delivery fails.",
        ),
        SettingSpec(
            "notify_negative_feedback",
            True,
            "Tell the sales representative and customer service about a low CSAT or NPS score or "
            "a negative comment.",
        ),
        SettingSpec(
            "notify_short_pick",
            True,
            "Tell the warehouse manager when a picker finds fewer units than booked.",
        ),
        SettingSpec(
            "notify_po_drafted",
            True,
            "Tell purchasing when purchase orders have been drafted for review.",
        ),
        SettingSpec(
            "mail_security",
            "starttls",
            "How the SMTP connection is protected: none, starttls or ssl.",
            kind="choice",
            choices=("none", "starttls", "ssl"),
        ),
        SettingSpec(
            "mail_user",
            "-",
            "SMTP login name ('-' for none); the password comes from LARDER_SMTP_PASSWORD "
            "or smtp_password in the secrets, never from here.",
            kind="login",
        ),
        SettingSpec("mail_timeout_seconds", 30, "Seconds to wait for the SMTP server.", 1, 600),
        SettingSpec(
            "mail_retry_base_seconds",
            60,
            "Wait before the first retry of a message; it doubles per attempt, with jitter.",
            1,
            86400,
        ),
        SettingSpec(
            "mail_retry_max_seconds", 3600, "Longest wait between two attempts.", 1, 604800
        ),
        SettingSpec(
            "webhook_max_attempts", 5, "Attempts before a webhook is marked failed.", 1, 50
        ),
        SettingSpec(
            "webhook_timeout_seconds", 10, "Seconds to wait for a webhook's answer.", 1, 120
        ),
        # Job schedules: one "job_<name>_minutes" per job of `python -m jobs` (0 = by hand only).
        SettingSpec(
            "job_draft_purchase_orders_minutes",
            60,
            "Minutes between scheduled runs drafting purchase orders for products below their "
            "reorder point (0 = only when run by hand).",
            0,
            10080,
        ),
        SettingSpec(
            "job_reestimate_backorders_minutes",
            15,
            "Minutes between scheduled re-estimates of every open backorder's dates "
            "(0 = only when run by hand).",
            0,
            10080,
        ),
        SettingSpec(
            "job_retrain_models_minutes",
            1440,
            "Minutes between scheduled retraining of the forecasting models; a database with no "
            "model run trains at the first chance (0 = only when run by hand).",
            0,
            43200,
        ),
        SettingSpec(
            "job_dispatch_outbox_minutes",
            1,
            "Minutes between runs sending queued mail and webhooks (0 = only when run by hand).",
            0,
            10080,
        ),
        SettingSpec(
            "job_check_overdue_and_late_minutes",
            60,
            "Minutes between checks for overdue purchase orders, shipments predicted late and "
            "slipped promises (0 = only when run by hand).",
            0,
            10080,
        ),
        SettingSpec(
            "job_mail_weekly_report_minutes",
            60,
            "Minutes between checks whether the weekly backorder report is due; it is mailed "
            "once a week, on Monday or at the first check after (0 = only when run by hand).",
            0,
            10080,
        ),
        SettingSpec(
            "weekly_report_roles",
            "owner,warehouse_manager",
            "Roles whose active users receive the weekly backorder report (PDF) by mail: role "
            "names separated by commas, or - for nobody.",
            kind="roles",
        ),
        SettingSpec(
            "backorder_handling_cost",
            2.5,
            "Administrative cost (EUR) booked for every backorder created.",
            0,
            1000,
        ),
        SettingSpec(
            "split_freight_cost",
            9.0,
            "Freight cost (EUR) booked when an order ships in more than one delivery.",
            0,
            10000,
        ),
        SettingSpec(
            "retention_days",
            60,
            "A customer counts as retained when they order again within this many days.",
            1,
            730,
        ),
        SettingSpec(
            "response_target_hours",
            4.0,
            "Customer service answers an inbound question within this many hours.",
            0.25,
            168,
        ),
        SettingSpec(
            "import_max_mb",
            50,
            "Largest file the Admin page's Import (and `python -m operations import`) accepts, "
            "in megabytes.",
            1,
            1000,
        ),
    )
}

JOB_SCHEDULE_PREFIX, JOB_SCHEDULE_SUFFIX = "job_", "_minutes"


def job_schedule_key(job: str) -> str:
    """The setting that holds the minutes between scheduled runs of ``job``."""
    return f"{JOB_SCHEDULE_PREFIX}{job.replace('-', '_')}{JOB_SCHEDULE_SUFFIX}"


def scheduled_jobs() -> list[str]:
    """The job names that have a schedule setting, in declaration order."""
    return [
        key[len(JOB_SCHEDULE_PREFIX) : -len(JOB_SCHEDULE_SUFFIX)].replace("_", "-")
        for key in SETTINGS
        if key.startswith(JOB_SCHEDULE_PREFIX) and key.endswith(JOB_SCHEDULE_SUFFIX)
    ]


def listed_roles(value: str) -> list[str]:
    """The role names of a "roles" setting's value ("owner, admin" -> ["owner", "admin"])."""
    return [] if value.strip() == "-" else [r.strip() for r in value.split(",") if r.strip()]


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
