"""Catalogue changes: a product's list price and cost."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Engine

from data.db import write_session
from data.schema import Product
from operations import audit
from operations.errors import NotFound, ValidationError
from operations.transactions import write_operation
from operations.validation import actor_name, excerpt, identifier

MAX_MONEY = Decimal("9999999999.99")  # Numeric(12, 2)


def money(value: Any, what: str) -> Decimal:
    """A non-negative amount with at most two decimals."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        raise ValidationError(f"{what} must be an amount of money, not {excerpt(value)}.")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError(f"{what} must be an amount of money, not {excerpt(value)}.") from None
    if not amount.is_finite():
        raise ValidationError(f"{what} must be an amount of money, not {excerpt(value)}.")
    if amount < 0:
        raise ValidationError(f"{what} cannot be below zero (got {amount}).")
    if amount > MAX_MONEY:
        raise ValidationError(f"{what} is too large (got {amount}).")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValidationError(f"{what} has more than two decimals (got {amount}).")
    return amount.quantize(Decimal("0.01"))


@write_operation
def set_product_prices(
    engine: Engine,
    *,
    product_id: int,
    actor: str,
    price: Any = None,
    cost: Any = None,
) -> None:
    """Change a product's list price and/or unit cost."""
    actor = actor_name(actor)
    product_id = identifier(product_id, "Product")
    if price is None and cost is None:
        raise ValidationError("Give a new price, a new cost, or both.")
    price = None if price is None else money(price, "The price")
    cost = None if cost is None else money(cost, "The cost")
    with write_session(engine) as session:
        product = session.get(Product, product_id, with_for_update={"key_share": True})
        if product is None:
            raise NotFound(f"Product {product_id} does not exist.")
        before = {"price": product.price, "cost": product.cost}
        if price is not None:
            product.price = price
        if cost is not None:
            product.cost = cost
        audit.record(
            session,
            actor=actor,
            action="set_product_prices",
            entity="product",
            entity_id=product.id,
            before=before,
            after={"price": product.price, "cost": product.cost},
        )
