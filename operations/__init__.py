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
from operations.catalogue import set_product_prices
from operations.customers import (
    mark_answered,
    record_communication,
    record_feedback,
    send_backorder_update,
)
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
from operations.substitution import SwapResult, swap_to_substitute
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
    "SwapResult",
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
    "mark_answered",
    "mark_delivered",
    "mark_read",
    "notify",
    "place_order",
    "priority_score",
    "receive_po",
    "record_communication",
    "record_feedback",
    "report_short_pick",
    "reset_password",
    "send_backorder_update",
    "send_po",
    "set_po_expected_date",
    "set_product_prices",
    "set_setting",
    "set_thresholds",
    "set_user_active",
    "set_user_roles",
    "ship_order",
    "swap_to_substitute",
    "update_po_line",
]
