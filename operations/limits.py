"""Quantity limits: a hard ceiling for any line, and a confirmation above a product's usual size.

A product's usual size is the largest of its order-up-to level, reorder point, minimum order and
pack size, or of its largest order line so far. A quantity above ``unusual_size_factor`` times
that is accepted only with an explicit confirmation; above ``max_line_units`` never.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data.schema import OrderLine, Product, Setting
from data.settings import SETTINGS
from operations.errors import ConfirmationNeeded, ValidationError

LIMIT_SETTINGS = ("max_line_units", "unusual_size_factor")


def limits(session: Session) -> tuple[int, int]:
    """(hard ceiling in units, unusual-size factor), read in one query."""
    values = {key: SETTINGS[key].default for key in LIMIT_SETTINGS}
    rows = session.execute(
        select(Setting.key, Setting.value).where(Setting.key.in_(LIMIT_SETTINGS))
    )
    for key, value in rows:
        values[key] = value["v"]
    return int(values["max_line_units"]), int(values["unusual_size_factor"])


def check_ceiling(session: Session, qty: int, what: str) -> None:
    """Refuse a quantity above the hard ceiling."""
    ceiling, _ = limits(session)
    if qty > ceiling:
        raise ValidationError(
            f"{what} is {qty:,} units; at most {ceiling:,} are accepted "
            "(the setting max_line_units). Check the number."
        )


def _usual_from_product(product: Product) -> int:
    return max(
        product.order_up_to or 0,
        product.reorder_point or 0,
        product.min_order_qty or 0,
        product.pack_size or 0,
        1,
    )


def _largest_lines(session: Session, product_ids: list[int]) -> dict[int, int]:
    rows = session.execute(
        select(OrderLine.product_id, func.max(OrderLine.qty_ordered))
        .where(OrderLine.product_id.in_(product_ids))
        .group_by(OrderLine.product_id)
    )
    return {pid: int(largest or 0) for pid, largest in rows}


def check_sizes(
    session: Session,
    wanted: Iterable[tuple[Product, int, str]],
    *,
    confirmed: bool,
    settings: dict | None = None,
) -> None:
    """Refuse any ``(product, qty, what)`` above the ceiling, and unusual ones unless confirmed.

    The order history is read only for quantities above what the product's own levels make
    usual, so an ordinary order costs one settings query here (none when the caller passes the
    ``settings`` it has read already).
    """
    if settings is not None:
        ceiling, factor = int(settings["max_line_units"]), int(settings["unusual_size_factor"])
    else:
        ceiling, factor = limits(session)
    wanted = list(wanted)
    for product, qty, what in wanted:
        if qty > ceiling:
            raise ValidationError(
                f"{what} is {qty:,} units; at most {ceiling:,} of {product.sku} are accepted "
                "(the setting max_line_units). Check the number."
            )
    if confirmed:
        return
    suspects = [
        (product, qty, what)
        for product, qty, what in wanted
        if qty > factor * _usual_from_product(product)
    ]
    if not suspects:
        return
    largest = _largest_lines(session, [product.id for product, _, _ in suspects])
    for product, qty, what in suspects:
        usual = max(_usual_from_product(product), largest.get(product.id, 0))
        if qty > factor * usual:
            raise ConfirmationNeeded(
                f"{what} is {qty:,}, more than {factor} times the usual size of {product.sku} "
                f"({usual:,} units). If that is right, confirm the large quantity and try again."
            )
