"""Catering seasons: how much each customer segment orders on a given day, relative to normal.

Weddings fill the summer for event caterers and hotels, December brings parties, schools buy
in term time and almost nothing in the holidays, and hardly anyone orders on a Sunday.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

# Weekday factors, Monday first.
WEEKDAY = {
    "Restaurant": (1.1, 1.0, 1.0, 1.1, 1.3, 0.7, 0.2),
    "Hotel": (1.0, 1.0, 1.0, 1.1, 1.2, 0.8, 0.4),
    "Event caterer": (1.0, 1.0, 1.1, 1.3, 1.2, 0.5, 0.1),
    "School": (1.3, 1.1, 1.0, 1.0, 0.9, 0.0, 0.0),
    "Hospital": (1.0, 1.0, 1.0, 1.0, 1.0, 0.7, 0.6),
    "Canteen": (1.3, 1.1, 1.0, 1.0, 0.9, 0.1, 0.0),
    "Café": (1.0, 0.9, 1.0, 1.1, 1.3, 1.0, 0.3),
}
YEARLY_GROWTH = 0.05  # the business grows a little every year


def _bump(day_of_year: np.ndarray, centre: float, width: float) -> np.ndarray:
    """A smooth seasonal bump around ``centre`` (day of year), wrapping over New Year."""
    distance = np.abs(day_of_year - centre)
    distance = np.minimum(distance, 365 - distance)
    return np.exp(-0.5 * (distance / width) ** 2)


def _school_holiday(months: np.ndarray, days: np.ndarray) -> np.ndarray:
    """True in English school holidays (approximate, the same every year)."""
    summer = ((months == 7) & (days >= 22)) | (months == 8)
    christmas = ((months == 12) & (days >= 20)) | ((months == 1) & (days <= 4))
    easter = (months == 4) & (days <= 14)
    half_terms = (
        ((months == 10) & (days >= 26))
        | ((months == 2) & (days >= 12) & (days <= 18))
        | ((months == 5) & (days >= 26))
    )
    return summer | christmas | easter | half_terms


def season_factors(segments: tuple[str, ...], dates: list[dt.date]) -> np.ndarray:
    """Demand multiplier per segment (rows) and date (columns); 1.0 is an ordinary weekday."""
    doy = np.array([d.timetuple().tm_yday for d in dates], dtype=float)
    months = np.array([d.month for d in dates])
    mdays = np.array([d.day for d in dates])
    weekdays = np.array([d.weekday() for d in dates])
    years = (np.array([d.toordinal() for d in dates]) - dates[0].toordinal()) / 365.0
    trend = (1 + YEARLY_GROWTH) ** years
    summer = _bump(doy, 200, 35)  # weddings peak mid-July
    december = _bump(doy, 350, 9)  # Christmas parties peak mid-December
    january = _bump(doy, 20, 15)  # the quiet after New Year
    holiday = _school_holiday(months, mdays)
    rows = []
    for segment in segments:
        if segment == "Event caterer":
            f = 0.75 + 1.3 * summer + 1.4 * december - 0.35 * january
        elif segment == "Hotel":
            f = 0.9 + 0.45 * summer + 0.7 * december - 0.25 * january
        elif segment == "Restaurant":
            f = 0.95 + 0.15 * summer + 0.6 * december - 0.25 * january
        elif segment == "School":
            f = np.where(holiday, 0.08, 1.05)
        elif segment == "Hospital":
            f = 1.0 + 0.08 * december + 0.05 * january
        elif segment == "Canteen":
            f = 1.0 - 0.2 * summer - 0.5 * _bump(doy, 360, 5)
        else:  # Café
            f = 0.9 + 0.35 * summer + 0.3 * december - 0.15 * january
        rows.append(np.asarray(f) * np.array(WEEKDAY[segment])[weekdays] * trend)
    return np.vstack(rows)
