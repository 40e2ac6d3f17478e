"""Calendar features of a catering year: day of week, season, December parties, school terms."""

from __future__ import annotations

import numpy as np
import pandas as pd

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


def calendar_features(dates: pd.DatetimeIndex, freq: str) -> dict[str, np.ndarray]:
    """Numeric calendar columns for period start ``dates`` at frequency D, W or M."""
    dates = pd.DatetimeIndex(dates)
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
    return out
