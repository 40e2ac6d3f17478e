"""The write side: every change to Larder's database goes through a function here.

Each operation takes the engine first and keyword-only arguments, validates its input before
writing (the shared checks in :mod:`operations.validation`), runs in one transaction and raises
a :class:`LarderError` (database unchanged) when it refuses; a busy database is retried and then
refused with :class:`Busy` (:mod:`operations.transactions`), so no driver exception reaches a
caller. Every change names its ``actor`` in the audit log.
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
from operations.customers import (
    mark_answered,
    record_communication,
    record_feedback,
    send_backorder_update,
)
from operations.errors import (
    Busy,
    ConfirmationNeeded,
    InvalidState,
    LarderError,
    NotFound,
    StorageRefused,
    ValidationError,
)
from operations.estimates import Estimate, expected_date
from operations.imports import apply_import, save_import_mapping
from operations.notifications import mark_read, notify
from operations.orders import PlacedLine, PlacedOrder, cancel_line, cancel_order, place_order
from operations.promises import reestimate_all_backorders
from operations.purchasing import (
    ReceiveResult,
    add_po_line,
    approve_po,
    cancel_po,
    draft_purchase_orders,
    receive_po,
    remove_po_line,
    send_po,
    set_po_expected_date,
    set_po_expected_dates,
    update_po_line,
    update_po_lines,
)
from operations.shipments import TRACKING_EVENTS, record_tracking_event
from operations.substitution import SwapResult, swap_to_substitute
from operations.warehouse import (
    adjust_stock,
    check_scan,
    confirm_pack,
    confirm_pick,
    mark_delivered,
    report_short_pick,
    set_thresholds,
    ship_order,
)
from operations.weekly_report import queue_weekly_report

__all__ = [
    "queue_weekly_report",
    "Busy",
    "ConfirmationNeeded",
    "Estimate",
    "InvalidState",
    "LarderError",
    "NotFound",
    "PlacedLine",
    "PlacedOrder",
    "ReceiveResult",
    "StorageRefused",
    "TRACKING_EVENTS",
    "SwapResult",
    "ValidationError",
    "add_po_line",
    "adjust_stock",
    "apply_import",
    "approve_po",
    "cancel_line",
    "cancel_order",
    "cancel_po",
    "check_scan",
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
    "reestimate_all_backorders",
    "record_backorder_cost",
    "record_communication",
    "record_feedback",
    "record_tracking_event",
    "remove_po_line",
    "report_short_pick",
    "reset_password",
    "save_import_mapping",
    "send_backorder_update",
    "send_po",
    "set_po_expected_date",
    "set_po_expected_dates",
    "set_product_prices",
    "set_setting",
    "set_thresholds",
    "set_user_active",
    "set_user_roles",
    "ship_order",
    "swap_to_substitute",
    "update_po_line",
    "update_po_lines",
]
