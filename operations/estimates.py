"""When will a short quantity reach the customer? The one function behind every backorder date.

The dates come from the forecasting package's available-to-promise walk
(:mod:`models.promise`): free stock, then open purchase orders at their expected dates shifted
by the supplier's learned delay, consumed by the backorders ahead in the queue; beyond them the
next reorder plus the supplier's lead time; then picking days and the carrier's transit to the
customer's region. Before any model is trained the quoted lead and transit times are used.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from models.promise import Estimate, estimate_backorder

__all__ = ["Estimate", "expected_date"]


def expected_date(
    session: Session,
    product_id: int,
    qty_needed: int,
    today: dt.date,
    *,
    ahead: int | None = None,
    customer_id: int | None = None,
) -> Estimate:
    """Likely and late-case delivery date for ``qty_needed`` more units, with the reason.

    ``ahead`` is the number of units queued before this request (default: every open backorder
    of the product); ``customer_id`` picks the carrier transit time to that customer's region.
    """
    return estimate_backorder(session, product_id, qty_needed, customer_id, today, ahead=ahead)
