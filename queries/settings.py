"""Reads of the settings: every declared setting with its current value and who set it last."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from data.schema import Setting
from data.settings import SETTINGS


@dataclass(frozen=True)
class SettingRow:
    key: str
    value: Any
    default: Any
    help: str
    minimum: float | None
    maximum: float | None
    updated_at: dt.datetime | None
    updated_by: str | None

    @property
    def is_default(self) -> bool:
        return self.value == self.default


def setting_rows(conn: Connection) -> list[SettingRow]:
    """One row per declared setting (in declaration order), stored values over defaults."""
    stored = {
        key: (value, at, by)
        for key, value, at, by in conn.execute(
            select(Setting.key, Setting.value, Setting.updated_at, Setting.updated_by)
        )
    }
    rows = []
    for key, spec in SETTINGS.items():
        value, at, by = stored.get(key, (None, None, None))
        rows.append(
            SettingRow(
                key=key,
                value=spec.default if value is None else value["v"],
                default=spec.default,
                help=spec.help,
                minimum=spec.minimum,
                maximum=spec.maximum,
                updated_at=at,
                updated_by=by,
            )
        )
    return rows
