"""The write side: every change to Larder's database goes through a function here.

Each operation takes the engine first and keyword-only arguments, validates its input before
writing, runs in one transaction and raises a :class:`LarderError` (database unchanged) when it
refuses. Every change names its ``actor`` in the audit log.
"""

from operations.admin import (
    create_user,
    hash_password,
    link_user,
    reset_password,
    set_setting,
    set_user_active,
    set_user_roles,
)
from operations.allocation import priority_score
from operations.backorder_costs import record_backorder_cost
from operations.catalogue import set_product_prices
from operations.customers import record_communication, record_feedback
from operations.errors import InvalidState, LarderError, NotFound, ValidationError
from operations.estimates import Estimate, expected_date
from operations.notifications import mark_read, notify
from operations.orders import PlacedLine, PlacedOrder, cancel_line, cancel_order, place_order
from operations.purchasing import (
    ReceiveResult,
    approve_po,
    cancel_po,
    draft_purchase_orders,
    receive_po,
    send_po,
    set_po_expected_date,
    update_po_line,
)
from operations.warehouse import (
    adjust_stock,
    confirm_pack,
    confirm_pick,
    mark_delivered,
    report_short_pick,
    set_thresholds,
    ship_order,
)

__all__ = [
    "Estimate",
    "InvalidState",
    "LarderError",
    "NotFound",
    "PlacedLine",
    "PlacedOrder",
    "ReceiveResult",
    "ValidationError",
    "adjust_stock",
    "approve_po",
    "cancel_line",
    "cancel_order",
    "cancel_po",
    "confirm_pack",
    "confirm_pick",
    "create_user",
    "draft_purchase_orders",
    "expected_date",
    "hash_password",
    "link_user",
    "mark_delivered",
    "mark_read",
    "notify",
    "place_order",
    "priority_score",
    "receive_po",
    "record_backorder_cost",
    "record_communication",
    "record_feedback",
    "report_short_pick",
    "reset_password",
    "send_po",
    "set_po_expected_date",
    "set_product_prices",
    "set_setting",
    "set_thresholds",
    "set_user_active",
    "set_user_roles",
    "ship_order",
    "update_po_line",
]
