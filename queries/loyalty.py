"""Loyalty impact for marketing: customers who met backorders against those who did not.

Per customer the database sums orders, backorders and feedback over the chosen window (a few
thousand rows, one per customer); the groups are compared here. Exposure is an association with
retention and satisfaction, not proof that backorders caused the difference.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
from sqlalchemy import Connection, Engine, Float, and_, case, cast, func, or_, select
from sqlalchemy.orm import aliased

from data.schema import (
    Backorder,
    Customer,
    Feedback,
    Order,
    OrderLine,
    SalesRep,
    utcnow,
)
from data.settings import get_setting
from queries import days_between, reading

# Words in a comment that point at late or missing goods.
LATE_OR_MISSING_WORDS = (
    "late",
    "missing",
    "backorder",
    "waiting",
    "delay",
    "out of stock",
    "short",
)
NEGATIVE_SENTIMENT = 0.0  # below this a comment counts as negative
RECENT_DAYS = 90
WORST_COMMENTS = 15
WIN_BACK_VALUE_DAYS = 365

EXPOSURE_HELP = (
    "Exposed: the customer had at least one order line go short (backordered or cancelled for "
    "lack of stock) in the window. Days waited: from each backorder's creation to when it was "
    "filled or cancelled (or today, if still open). Promises broken: backorders filled after "
    "their promised date, or still open past it."
)
ASSOCIATION_NOTE = (
    "These are associations, not proof of cause: customers who order more also meet more "
    "backorders, and segments differ. Compare within a segment and mind the group sizes."
)
RETENTION_HELP = (
    "Share of customers who ordered again within {days} days after their first backorder "
    "(exposed) or their first order (not exposed) in the window; only customers whose reference "
    "day is at least {days} days ago count."
)
REPUTATION_HELP = (
    "Brand reputation index, 0-100: the mean of three scores each put on 0-100: NPS "
    "((NPS + 100) / 2), CSAT ((average CSAT - 1) / 4 x 100) and sentiment ((average sentiment + "
    "1) / 2 x 100). A missing part (no scored comments yet) is left out of the mean."
)
NPS_HELP = "Promoters (9-10) minus detractors (0-6), as a share of NPS answers, x 100."
SENTIMENT_UNSCORED = (
    "Sentiment shows — until the sentiment model has scored the feedback comments ({comments} "
    "waiting). It scores them when the models are trained: the worker's retrain-models job "
    "does it by itself, or run `python -m models.train --only sentiment`."
)


def retention_days(engine: Engine | Connection) -> int:
    """Days within which a customer must order again to count as retained (a setting)."""
    with reading(engine) as conn:
        return int(get_setting(conn, "retention_days"))


def _window(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return dt.datetime.combine(start, dt.time()), dt.datetime.combine(
        end + dt.timedelta(days=1), dt.time()
    )


def customer_exposure(
    engine: Engine | Connection,
    start: dt.date,
    end: dt.date,
    *,
    retention_days: int,
    segments: Sequence[str] = (),
    now: dt.datetime | None = None,
) -> pd.DataFrame:
    """One row per customer who ordered in the window, with exposure, retention and feedback;
    only the customers of ``segments`` when given (chosen in the database).

    Names and contacts are left to :func:`win_back_list`, which needs them for a few customers:
    reading three more texts for every customer cost more than comparing the groups.
    """
    now = now or utcnow()
    lo, hi = _window(start, end)

    def in_window(o, customer_id):
        return and_(o.customer_id == customer_id, o.placed_at >= lo, o.placed_at < hi)

    waited_until = func.coalesce(Backorder.closed_at, now)
    broken = case(
        (
            and_(
                Backorder.promised_date.is_not(None),
                or_(
                    # A promised date is a date already (no date() of it for every row).
                    and_(Backorder.status == "filled", func.date(Backorder.closed_at)
                         > Backorder.promised_date),
                    and_(Backorder.status == "open", Backorder.promised_date < now.date()),
                ),
            ),
            1,
        ),
        else_=0,
    )  # fmt: skip
    # Per customer, from the customers, in one pass: the window's first order sought in the
    # (customer_id, placed_at) index, and the window's backorders sought in the customer's
    # (customer_id, created_at, ...) index, which holds every column summed here. They come in
    # customer order, so grouping them sorts nothing (the outer join keeps that order on
    # SQLite) and no backorder row is read. Read by their creation time, a year of the large
    # demo's backorders (some 34,000) was sorted by customer first: twice the time. Kept
    # (MATERIALIZED: computed once, not again wherever it is used).
    mine = aliased(Order, name="mine")
    first = select(
        Customer.id.label("customer_id"),
        Customer.segment,
        select(func.min(mine.placed_at)).where(in_window(mine, Customer.id)).scalar_subquery()
        .label("first_order"),
        func.count(Backorder.customer_id).label("lines_backordered"),
        func.min(Backorder.created_at).label("first_backorder"),
        func.sum(broken).label("promises_broken"),
        func.sum(days_between(engine, waited_until, Backorder.created_at)).label("days_waited"),
    ).outerjoin(
        Backorder,
        and_(
            Backorder.customer_id == Customer.id,
            Backorder.created_at >= lo,
            Backorder.created_at < hi,
        ),
    )  # fmt: skip
    if segments:
        first = first.where(Customer.segment.in_(tuple(segments)))
    first = first.group_by(Customer.id).cte("first_orders").prefix_with("MATERIALIZED")
    # Only those who ordered in the window have their orders counted (by seeks in the
    # (customer_id, placed_at) index) and their last order sought, a third of the customers
    # fewer on the large demo. Grouping the window's orders read each order row (some 150,000
    # in a year of the large demo), twice the time.
    orders = (
        select(
            first,
            select(func.count())
            .where(in_window(mine, first.c.customer_id))
            .scalar_subquery()
            .label("orders"),
            select(func.max(mine.placed_at))
            .where(in_window(mine, first.c.customer_id))
            .scalar_subquery()
            .label("last_order"),
        )
        .where(first.c.first_order.is_not(None))
        .cte("window_orders")
    )
    reference = func.coalesce(orders.c.first_backorder, orders.c.first_order)
    # The first order after the reference day: one index seek per customer (min over the
    # customer's orders after it), not every later order of every customer grouped.
    later = aliased(Order, name="later")
    next_order = (
        select(func.min(later.placed_at))
        .where(later.customer_id == orders.c.customer_id, later.placed_at > reference)
        .scalar_subquery()
    )
    # Read from the (customer_id, created_at, csat, nps, sentiment) index alone, in customer order.
    feedback = (
        select(
            Feedback.customer_id,
            cast(func.avg(Feedback.csat), Float).label("csat"),
            func.count(Feedback.nps).label("nps_answers"),
            func.sum(case((Feedback.nps >= 9, 1), else_=0)).label("promoters"),
            func.sum(case((Feedback.nps <= 6, 1), else_=0)).label("detractors"),
            cast(func.avg(Feedback.sentiment), Float).label("sentiment"),
        )
        .where(Feedback.created_at >= lo, Feedback.created_at < hi)
        .group_by(Feedback.customer_id)
        .subquery()
    )
    statement = (
        select(
            orders.c.customer_id,
            orders.c.segment,
            orders.c.orders,
            orders.c.first_order,
            orders.c.last_order,
            orders.c.lines_backordered,
            func.coalesce(orders.c.days_waited, 0.0).label("days_waited"),
            func.coalesce(orders.c.promises_broken, 0).label("promises_broken"),
            reference.label("reference"),
            next_order.label("next_order"),
            feedback.c.csat,
            func.coalesce(feedback.c.nps_answers, 0).label("nps_answers"),
            func.coalesce(feedback.c.promoters, 0).label("promoters"),
            func.coalesce(feedback.c.detractors, 0).label("detractors"),
            feedback.c.sentiment,
        )
        .select_from(orders)
        .outerjoin(feedback, feedback.c.customer_id == orders.c.customer_id)
    )
    # The driver's own tuples, dates parsed a column at once (text on SQLite): SQLAlchemy's
    # rows convert each value one by one. Most of this read is the query itself.
    with reading(engine) as conn:
        result = conn.execute(statement)
        columns = list(result.keys())
        rows = result.cursor.fetchall() if result.cursor is not None else []
        result.close()
    df = pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)
    for column in ("first_order", "last_order", "reference", "next_order"):
        df[column] = pd.to_datetime(df[column], format="ISO8601")
    df["exposed"] = df["lines_backordered"] > 0
    df["cohort"] = df["first_order"].dt.to_period("M").astype(str)
    gap = (df["last_order"] - df["first_order"]).dt.total_seconds() / 86400
    df["repeat_interval_days"] = (gap / (df["orders"] - 1)).where(df["orders"] > 1)
    horizon = pd.Timestamp(now) - pd.Timedelta(days=retention_days)
    df["can_judge"] = df["reference"] <= horizon
    again = (df["next_order"] - df["reference"]).dt.total_seconds() / 86400
    df["retained"] = (again <= retention_days).fillna(False).astype(bool)
    return df


GROUP_FIGURES = [
    "customers",
    "lines_backordered",
    "days_waited",
    "promises_broken",
    "repeat_interval_days",
    "csat",
    "sentiment",
    "nps_answers",
    "promoters",
    "detractors",
]


def compare_groups(customers: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """Exposed against not exposed (optionally per segment or cohort): sizes and outcomes."""
    if customers.empty:
        return pd.DataFrame()
    keys = ["exposed"] if by is None else [by, "exposed"]
    # One reduction per kind of figure (not one per column): a third of the time.
    grouped = customers.groupby(keys)
    sums = grouped[["lines_backordered", "promises_broken", "nps_answers", "promoters",
                    "detractors"]].sum()  # fmt: skip
    means = grouped[["days_waited", "csat", "sentiment"]].mean()
    out = pd.concat(
        [
            grouped["customer_id"].count().rename("customers"),
            sums,
            means,
            grouped["repeat_interval_days"].median(),
        ],
        axis=1,
    )[GROUP_FIGURES]
    judged = customers[customers["can_judge"]].groupby(keys)
    retention = pd.concat(
        [judged["customer_id"].count().rename("judged"), judged["retained"].sum()], axis=1
    )
    out = out.join(retention, how="left").reset_index()
    out["judged"] = out["judged"].fillna(0).astype(int)
    out["retention"] = out["retained"] / out["judged"].where(out["judged"] > 0)
    out["nps"] = (
        (out["promoters"] - out["detractors"])
        / out["nps_answers"].where(out["nps_answers"] > 0)
        * 100
    )
    out["group"] = out["exposed"].map({True: "Met backorders", False: "No backorders"})
    return out


def reputation_index(
    nps: float | None, csat: float | None, sentiment: float | None
) -> float | None:
    """The brand reputation index (0-100) from NPS (-100..100), CSAT (1-5), sentiment (-1..1)."""
    parts = []
    if nps is not None and not pd.isna(nps):
        parts.append((nps + 100) / 2)
    if csat is not None and not pd.isna(csat):
        parts.append((csat - 1) / 4 * 100)
    if sentiment is not None and not pd.isna(sentiment):
        parts.append((sentiment + 1) / 2 * 100)
    return sum(parts) / len(parts) if parts else None


def _mentions_late_or_missing():
    comment = func.lower(Feedback.comment)
    return or_(*[comment.like(f"%{word}%") for word in LATE_OR_MISSING_WORDS])


def feedback_by_month(engine: Engine | Connection, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per month: answers, CSAT, NPS, sentiment, negative comments and those about late goods."""
    lo, hi = _window(start, end)
    negative = and_(Feedback.sentiment < NEGATIVE_SENTIMENT, Feedback.comment != "")
    with reading(engine) as conn:
        month = (
            func.to_char(Feedback.created_at, "YYYY-MM")
            if conn.dialect.name == "postgresql"
            else func.strftime("%Y-%m", Feedback.created_at)
        )
        statement = (
            select(
                month.label("month"),
                func.count().label("answers"),
                cast(func.avg(Feedback.csat), Float).label("csat"),
                func.count(Feedback.nps).label("nps_answers"),
                func.sum(case((Feedback.nps >= 9, 1), else_=0)).label("promoters"),
                func.sum(case((Feedback.nps <= 6, 1), else_=0)).label("detractors"),
                cast(func.avg(Feedback.sentiment), Float).label("sentiment"),
                func.sum(case((negative, 1), else_=0)).label("negative"),
                func.sum(case((and_(negative, _mentions_late_or_missing()), 1), else_=0)).label(
                    "negative_late"
                ),
            )
            .where(Feedback.created_at >= lo, Feedback.created_at < hi)
            .group_by(month)
            .order_by(month)
        )
        df = pd.read_sql(statement, conn)
    df["nps"] = (
        (df["promoters"] - df["detractors"]) / df["nps_answers"].where(df["nps_answers"] > 0) * 100
    )
    df["late_share"] = df["negative_late"] / df["negative"].where(df["negative"] > 0)
    df["reputation"] = [
        reputation_index(n, c, s)
        for n, c, s in zip(df["nps"], df["csat"], df["sentiment"], strict=True)
    ]
    return df


def unscored_comments(engine: Engine | Connection) -> int:
    """Feedback comments the sentiment model has not scored yet (their sentiment is empty)."""
    statement = (
        select(func.count())
        .select_from(Feedback)
        .where(Feedback.comment != "", Feedback.sentiment.is_(None))
    )
    with reading(engine) as conn:
        return int(conn.execute(statement).scalar_one())


def worst_recent_comments(
    engine: Engine | Connection, *, now: dt.datetime | None = None, limit: int = WORST_COMMENTS
) -> pd.DataFrame:
    """The most negative scored comments of the last ``RECENT_DAYS`` days, with their orders."""
    now = now or utcnow()
    statement = (
        select(
            Feedback.created_at.label("date"),
            Customer.name.label("customer"),
            Customer.segment,
            Order.number.label("order_number"),
            Feedback.csat,
            Feedback.nps,
            Feedback.sentiment,
            Feedback.comment,
        )
        .join(Customer, Customer.id == Feedback.customer_id)
        .outerjoin(Order, Order.id == Feedback.order_id)
        .where(
            Feedback.created_at >= now - dt.timedelta(days=RECENT_DAYS),
            Feedback.sentiment.is_not(None),
            Feedback.comment != "",
        )
        .order_by(Feedback.sentiment, Feedback.created_at.desc())
        .limit(limit)
    )
    with reading(engine) as conn:
        return pd.read_sql(statement, conn, parse_dates=["date"])


def win_back_list(
    engine: Engine | Connection,
    customers: pd.DataFrame,
    *,
    retention_days: int,
    now: dt.datetime | None = None,
) -> pd.DataFrame:
    """Exposed customers who have not ordered for ``retention_days`` since their last order.

    Value: what they ordered in the last ``WIN_BACK_VALUE_DAYS`` days (their lines only).
    """
    now = now or utcnow()
    quiet_since = pd.Timestamp(now) - pd.Timedelta(days=retention_days)
    lost = customers[customers["exposed"] & (customers["last_order"] < quiet_since)]
    if lost.empty:
        return pd.DataFrame(
            columns=["customer", "segment", "email", "phone", "sales_rep", "last_order",
                     "lines_backordered", "days_waited", "promises_broken", "value"]
        )  # fmt: skip
    ids = [int(i) for i in lost["customer_id"]]
    since = now - dt.timedelta(days=WIN_BACK_VALUE_DAYS)
    statement = (
        select(
            Order.customer_id,
            cast(func.sum(OrderLine.qty_ordered * OrderLine.unit_price), Float).label("value"),
        )
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(Order.customer_id.in_(ids), Order.placed_at >= since)
        .group_by(Order.customer_id)
    )
    contacts = (
        select(
            Customer.id.label("customer_id"),
            Customer.name.label("customer"),
            Customer.email,
            Customer.phone,
            SalesRep.name.label("sales_rep"),
        )
        .outerjoin(SalesRep, SalesRep.id == Customer.sales_rep_id)
        .where(Customer.id.in_(ids))
    )
    with reading(engine) as conn:
        value = pd.read_sql(statement, conn)
        contact = pd.read_sql(contacts, conn)
    out = lost.merge(value, on="customer_id", how="left").merge(
        contact, on="customer_id", how="left"
    )
    out["value"] = out["value"].fillna(0.0)
    return out.sort_values("value", ascending=False)[
        ["customer", "segment", "email", "phone", "sales_rep", "last_order", "lines_backordered",
         "days_waited", "promises_broken", "value"]
    ].reset_index(drop=True)  # fmt: skip
