"""Revenue at risk, shared by the Overview and Backorder cost: open backorders' value per
customer segment and days waited, times the chance of cancellation learnt from closed ones.

The chances change only when a backorder closes, so they are a read of their own, keyed by
backorders alone: an order that goes through in full re-reads the open value, not them.
"""

from __future__ import annotations

import pandas as pd

from queries import overview as ov
from ui.db import live_read


@live_read("backorders")
def chances(engine) -> pd.DataFrame:
    return ov.cancellation_chances(engine)


@live_read("backorders", "catalogue", "customers", "orders")
def at_risk(engine, f: ov.Filters) -> ov.RiskTotals:
    return ov.revenue_at_risk(engine, f, chances=chances(engine))
