"""Synthetic demand histories with known seasons, for tests and the benchmark."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.demand import PANDAS_PERIOD


def seasonal_history(
    n_items: int, n_periods: int, freq: str = "W", seed: int = 7, start: str = "2023-01-02"
) -> pd.DataFrame:
    """A long frame (item, date, qty, category) of Poisson demand with yearly seasons.

    Items differ in level (some intermittent), in how much summer and December lift them,
    and a third of them start late, so the fallback path is exercised too.
    """
    rng = np.random.default_rng(seed)
    periods = pd.period_range(start, periods=n_periods, freq=PANDAS_PERIOD[freq]).start_time
    months = np.asarray(periods.month)
    level = rng.lognormal(mean=0.5, sigma=1.2, size=n_items)
    summer = rng.uniform(0, 1.5, size=n_items)
    december = rng.uniform(0, 2.0, size=n_items)
    lift = (
        1
        + summer[:, None] * np.isin(months, (6, 7, 8))[None, :]
        + december[:, None] * (months == 12)[None, :]
    )
    if freq == "D":
        weekday = np.asarray(periods.day_of_week)
        lift = lift * np.where(weekday >= 5, 0.3, 1.2)[None, :]
    qty = rng.poisson(level[:, None] * lift)
    first = np.where(rng.random(n_items) < 0.3, rng.integers(0, n_periods, n_items), 0)
    item, col = np.nonzero(np.arange(n_periods)[None, :] >= first[:, None])
    categories = np.array(["Dry goods", "Dairy", "Produce", "Beverages"])
    return pd.DataFrame(
        {
            "item": item,
            "date": periods[col],
            "qty": qty[item, col],
            "category": categories[item % len(categories)],
        }
    )
