"""What a customer sees before ordering: the catalogue with live availability, and alternatives."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Connection, Engine, Float, Select, cast, func, literal, select
from sqlalchemy.orm import Session

from data.schema import Order, OrderLine, Product, Stock, Substitute, utcnow
from data.settings import get_setting
from models.promise import estimate_backorder
from models.substitutes import rank_substitutes
from queries import reading
from queries.search import clean_search

DEFAULT_LIMIT = 50
# An alternative's price may differ from the original's by at most this share.
ALTERNATIVE_PRICE_BAND = 0.5
ALTERNATIVES_SHOWN = 3

CATALOGUE_COLUMNS = [
    "product_id",
    "sku",
    "name",
    "category",
    "use",
    "unit",
    "pack_size",
    "price",
    "allergens",
    "available",
    "availability",
    "expected_date",
]


def _available_column():
    """Available units per product (summed over warehouses) as a correlated scalar."""
    return (
        select(func.coalesce(func.sum(Stock.on_hand - Stock.reserved), 0))
        .where(Stock.product_id == Product.id)
        .correlate(Product)
        .scalar_subquery()
    )


def _product_select() -> Select:
    return select(
        Product.id.label("product_id"),
        Product.sku,
        Product.name,
        Product.category,
        Product.use,
        Product.unit,
        Product.pack_size,
        cast(Product.price, Float).label("price"),
        Product.allergens,
        cast(Product.cost, Float).label("cost"),
        Product.reorder_point,
        _available_column().label("available"),
    ).where(Product.active.is_(True))


def allergen_set(allergens: str | None) -> frozenset[str]:
    """The allergens of a product as a set ("" means none)."""
    return frozenset(a.strip().lower() for a in (allergens or "").split(",") if a.strip())


def _label(
    conn: Connection,
    df: pd.DataFrame,
    ratio: float,
    today: dt.date,
    customer_id: int | None,
) -> pd.DataFrame:
    """Add the availability label and, for what is out, the expected delivery of one more unit."""
    labels: list[str] = []
    dates: list[dt.date | None] = []
    session = Session(bind=conn)
    try:
        for row in df.itertuples(index=False):
            if row.available <= 0:
                estimate = estimate_backorder(session, int(row.product_id), 1, customer_id, today)
                labels.append(f"Backorder — expected {estimate.likely:%d %b %Y}")
                dates.append(estimate.likely)
            elif row.available <= row.reorder_point * ratio:
                labels.append("Low")
                dates.append(None)
            else:
                labels.append("In stock")
                dates.append(None)
    finally:
        session.close()
    df = df.copy()
    df["availability"] = labels
    df["expected_date"] = dates
    return df


def search_catalogue(
    engine: Engine | Connection,
    *,
    text: str | None = None,
    category: str | None = None,
    limit: int = DEFAULT_LIMIT,
    today: dt.date | None = None,
    customer_id: int | None = None,
) -> pd.DataFrame:
    """Active products matching ``text`` (name, SKU or use) and ``category``, with availability.

    With ``customer_id`` the expected dates include the transit time to that customer's region.
    """
    today = today or utcnow().date()
    statement = _product_select()
    needle = clean_search(text)
    if needle:
        statement = statement.where(
            Product.name.icontains(needle, autoescape=True)
            | Product.sku.icontains(needle, autoescape=True)
            | Product.use.icontains(needle, autoescape=True)
        )
    if category:
        statement = statement.where(Product.category == category)
    statement = statement.order_by(Product.name, Product.sku).limit(max(1, int(limit)))
    with reading(engine) as conn:
        ratio = float(get_setting(conn, "low_stock_ratio"))
        df = pd.read_sql(statement, conn)
        df = _label(conn, df, ratio, today, customer_id)
    return df[CATALOGUE_COLUMNS]


def cart_check(
    engine: Engine | Connection,
    lines: list[tuple[str, int]],
    *,
    today: dt.date | None = None,
    customer_id: int | None = None,
) -> pd.DataFrame:
    """For each (sku, qty) of a cart: what is available now, what would be short, and until when.

    Read-only: a preview before ordering. The order itself reserves in one transaction, so the
    outcome may differ if someone else orders in between (the confirmation shows what happened).
    """
    today = today or utcnow().date()
    columns = [
        "product_id",
        "sku",
        "name",
        "category",
        "price",
        "qty",
        "available",
        "short",
        "expected_date",
        "reason",
    ]
    if not lines:
        return pd.DataFrame(columns=columns)
    wanted: dict[str, int] = {}
    for sku, qty in lines:
        wanted[sku] = wanted.get(sku, 0) + int(qty)
    statement = _product_select().where(Product.sku.in_(sorted(wanted)))
    rows = []
    with reading(engine) as conn:
        found = pd.read_sql(statement, conn).set_index("sku")
        session = Session(bind=conn)
        try:
            for sku, qty in wanted.items():
                if sku not in found.index:
                    continue
                product = found.loc[sku]
                available = max(int(product["available"]), 0)
                short = max(qty - available, 0)
                when, reason = None, ""
                if short:
                    # The free units count as supply in the estimate, so ask for the whole
                    # line: the short part comes after this order has taken what is free.
                    estimate = estimate_backorder(
                        session, int(product["product_id"]), qty, customer_id, today
                    )
                    when, reason = estimate.likely, estimate.reason
                rows.append(
                    {
                        "product_id": int(product["product_id"]),
                        "sku": sku,
                        "name": product["name"],
                        "category": product["category"],
                        "price": float(product["price"]),
                        "qty": qty,
                        "available": available,
                        "short": short,
                        "expected_date": when,
                        "reason": reason,
                    }
                )
        finally:
            session.close()
    return pd.DataFrame(rows, columns=columns)


ALTERNATIVE_COLUMNS = [
    "product_id",
    "sku",
    "name",
    "price",
    "price_difference",
    "unit",
    "pack_size",
    "allergens",
    "available",
    "why",
]


def alternatives(
    engine: Engine | Connection,
    product_id: int,
    qty_needed: int,
    customer_id: int | None = None,
    *,
    limit: int = ALTERNATIVES_SHOWN,
) -> pd.DataFrame:
    """In-stock products that can stand in for ``product_id``, best first.

    A candidate serves the same use (always: a listed substitute of another use is not offered)
    and is either listed or of the same category; it must have at least ``qty_needed``
    available, contain no allergen the original does not, and (unless listed) cost within 50 %
    of the original. Ranked: listed substitutes first, then by
    the score of ``models.substitutes.rank_substitutes`` (closest price, margin, accepted by
    this customer before). Callers depend only on this function and its columns.
    """
    with reading(engine) as conn:
        original = conn.execute(
            select(
                Product.category, Product.use, cast(Product.price, Float), Product.allergens
            ).where(Product.id == product_id)
        ).one_or_none()
        if original is None:
            return pd.DataFrame(columns=ALTERNATIVE_COLUMNS)
        category, use, price, allergens = original
        listed = (
            select(Substitute.substitute_id)
            .where(Substitute.product_id == product_id)
            .scalar_subquery()
        )
        is_listed = Product.id.in_(listed)
        available = _available_column()
        low, high = price * (1 - ALTERNATIVE_PRICE_BAND), price * (1 + ALTERNATIVE_PRICE_BAND)
        statement = (
            _product_select()
            .add_columns(is_listed.label("listed"))
            .where(
                Product.id != product_id,
                available >= qty_needed,
                Product.use == use,
                is_listed
                | (
                    (Product.category == category)
                    & (Product.price >= low)
                    & (Product.price <= high)
                ),
            )
        )
        if customer_id is not None:
            bought = (
                select(func.count())
                .select_from(OrderLine)
                .join(Order, Order.id == OrderLine.order_id)
                .where(Order.customer_id == customer_id, OrderLine.product_id == Product.id)
                .correlate(Product)
                .scalar_subquery()
            )
        else:
            bought = literal(0)
        df = pd.read_sql(statement.add_columns(bought.label("bought_before")), conn)
    if df.empty:
        return pd.DataFrame(columns=ALTERNATIVE_COLUMNS)
    allowed = allergen_set(allergens)
    df = df[[allergen_set(a) <= allowed for a in df["allergens"]]].copy()
    if df.empty:
        return pd.DataFrame(columns=ALTERNATIVE_COLUMNS)
    df["price_difference"] = (df["price"] - price).round(2)
    df["listed"] = df["listed"].astype(bool)
    df["why"] = [
        "listed substitute" if listed else ("you ordered it before" if bought else "same use")
        for listed, bought in zip(df["listed"], df["bought_before"], strict=True)
    ]
    # Eligibility was decided above; the forecasting package's ranking only orders them (price
    # closeness, margin, accepted before). Every candidate is in stock now, hence today's date.
    today = utcnow().date()
    scored = rank_substitutes(
        {"product_id": product_id, "use": use, "price": price, "allergens": allergens},
        df.assign(use=use, available_date=pd.Timestamp(today)),
        today,
        accepted_before=set(df.loc[df["bought_before"] > 0, "product_id"].astype(int)),
    )
    df = scored.sort_values(["listed", "score", "sku"], ascending=[False, False, True])
    return df.head(limit).reset_index(drop=True)[ALTERNATIVE_COLUMNS]
