"""Calendar features of a catering year: day of week, season, December parties, school terms,
and public holidays.

Public holidays come from the ``holidays`` package (pinned in requirements.txt) for one
country: ``LARDER_HOLIDAY_COUNTRY`` (an ISO code such as GB, US, DE), else Great Britain.
"""

from __future__ import annotations

import os
from functools import lru_cache

import holidays
import numpy as np
import pandas as pd

DEFAULT_HOLIDAY_COUNTRY = "GB"
HOLIDAY_COUNTRY_ENV = "LARDER_HOLIDAY_COUNTRY"


def holiday_country(country: str | None = None) -> str:
    """The country whose public holidays the features mark."""
    return (country or os.environ.get(HOLIDAY_COUNTRY_ENV) or DEFAULT_HOLIDAY_COUNTRY).upper()


@lru_cache(maxsize=32)
def _holiday_days(country: str, first_year: int, last_year: int) -> np.ndarray:
    """The public holidays of ``country`` in those years, as sorted datetime64[D]."""
    days = holidays.country_holidays(country, years=range(first_year, last_year + 1))
    return np.array(sorted(days), dtype="datetime64[D]")


def holiday_days(dates: pd.DatetimeIndex, country: str | None = None) -> np.ndarray:
    """Public holidays around ``dates`` (a year either side), as sorted datetime64[D]."""
    if len(dates) == 0:
        return np.array([], dtype="datetime64[D]")
    return _holiday_days(
        holiday_country(country), int(dates.year.min()) - 1, int(dates.year.max()) + 1
    )


def holidays_within(
    dates: pd.DatetimeIndex, days: int, country: str | None = None, shift: int = 0
) -> np.ndarray:
    """How many public holidays fall in [date + shift, date + shift + days) for each date."""
    known = holiday_days(dates, country)
    start = np.asarray(dates.values.astype("datetime64[D]")) + shift
    lo = np.searchsorted(known, start, side="left")
    hi = np.searchsorted(known, start + days, side="left")
    return (hi - lo).astype(float)


# School holidays (English-style, approximate and the same every year): (month, day) ranges.
SCHOOL_HOLIDAYS = (
    ((1, 1), (1, 4)),  # end of the Christmas break
    ((2, 14), (2, 21)),  # February half term
    ((4, 1), (4, 14)),  # Easter
    ((5, 25), (5, 31)),  # May half term
    ((7, 22), (9, 3)),  # summer
    ((10, 24), (10, 31)),  # October half term
    ((12, 20), (12, 31)),  # Christmas
)
SUMMER_MONTHS = (6, 7, 8)  # the wedding and event season


def in_school_term(dates: pd.DatetimeIndex) -> np.ndarray:
    """True on dates outside the school holidays above."""
    key = dates.month * 100 + dates.day
    holiday = np.zeros(len(dates), dtype=bool)
    for (m1, d1), (m2, d2) in SCHOOL_HOLIDAYS:
        holiday |= (key >= m1 * 100 + d1) & (key <= m2 * 100 + d2)
    return ~holiday


def calendar_features(
    dates: pd.DatetimeIndex, freq: str, country: str | None = None
) -> dict[str, np.ndarray]:
    """Numeric calendar columns for period start ``dates`` at frequency D, W or M."""
    dates = pd.DatetimeIndex(dates)
    length = {"D": 1, "W": 7, "M": 30}[freq]
    # A week or month is described by a day inside it, not its first day.
    mid = dates + pd.Timedelta(days={"D": 0, "W": 3, "M": 14}[freq])
    out = {
        "month": np.asarray(mid.month, dtype=float),
        "december": np.asarray(mid.month == 12, dtype=float),
        "summer": np.isin(mid.month, SUMMER_MONTHS).astype(float),
    }
    if freq in ("D", "W"):
        out["week_of_year"] = mid.isocalendar().week.to_numpy(dtype=float)
        out["school_term"] = in_school_term(mid).astype(float)
    if freq == "D":
        out["day_of_week"] = np.asarray(dates.day_of_week, dtype=float)
        out["weekend"] = np.asarray(dates.day_of_week >= 5, dtype=float)
    # Public holidays in the period, and in the one before and after (a bank holiday shifts
    # orders to the days around it).
    out["holidays"] = holidays_within(dates, length, country)
    out["holidays_next"] = holidays_within(dates, length, country, shift=length)
    out["holidays_before"] = holidays_within(dates, length, country, shift=-length)
    if freq == "D":
        out["days_to_christmas"] = np.clip(
            (pd.to_datetime(dates.year.astype(str) + "-12-25") - dates).days.to_numpy(), -7, 30
        ).astype(float)
    return out
