"""Revenue at risk, shared by the Overview and Backorder cost: open backorders' value per
customer segment and days waited, times the chance of cancellation learnt from closed ones.

The chances change only when a backorder closes, so they are a read of their own. Both are
keyed by the backorders, not by every order: the open value reads each backorder's line for its
price, which is fixed when the order is placed (data/changes.py, "Facts fixed at insert"), so
an order that goes through in full re-reads neither.
"""

from __future__ import annotations

import pandas as pd

from queries import overview as ov
from ui.db import live_read


@live_read("backorders")
def chances(engine) -> pd.DataFrame:
    return ov.cancellation_chances(engine)


@live_read("backorders", "catalogue", "customers", fixed=("orders",))
def at_risk(engine, f: ov.Filters) -> ov.RiskTotals:
    return ov.revenue_at_risk(engine, f, chances=chances(engine))
