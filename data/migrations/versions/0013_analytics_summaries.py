"""summaries for the analytics pages, filled from what is there: closed backorders per segment
and days waited (backorder_closures), the cost ledger per week, kind, category and segment
(backorder_cost_weekly), outbound deliveries per week (delivery_weekly); backorders indexed by
their creation time

Revision ID: a9
Revises: f1
"""

import sqlalchemy as sa
from alembic import op

revision = "a9"
down_revision = "f1"
branch_labels = None
depends_on = None

WAIT_BUCKETS = (0, 8, 15, 31)  # as data.summaries.WAIT_BUCKETS when this was written


def upgrade() -> None:
    op.create_table(
        "backorder_closures",
        sa.Column("segment", sa.String(length=30), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("closed", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("segment", "bucket", name=op.f("pk_backorder_closures")),
    )
    # An existing database starts with its closed backorders counted once; the write side
    # keeps the counts after.
    bind = op.get_bind()
    columns = ("segment", "bucket", "closed", "cancelled")
    closures = sa.table("backorder_closures", *(sa.column(c) for c in columns))
    b = sa.table(
        "backorders",
        *(
            sa.column(c)
            for c in ("customer_id", "status", "created_at", "closed_at", "cancel_reason")
        ),
    )
    c = sa.table("customers", sa.column("id"), sa.column("segment"))
    if bind.dialect.name == "postgresql":
        closed_at = b.c.closed_at

        def later(days):
            return b.c.created_at + sa.func.make_interval(0, 0, 0, days)
    else:
        closed_at = sa.func.julianday(b.c.closed_at)

        def later(days):
            return sa.func.julianday(b.c.created_at, f"+{days} days")

    bucket = sa.case(
        *[(closed_at >= later(d), i) for i, d in reversed(list(enumerate(WAIT_BUCKETS))) if d],
        else_=0,
    )
    sums = (
        sa.select(
            c.c.segment,
            bucket.label("bucket"),
            sa.func.count().label("closed"),
            sa.func.sum(sa.case((b.c.status == "cancelled", 1), else_=0)).label("cancelled"),
        )
        .select_from(b.join(c, c.c.id == b.c.customer_id))
        .where(
            b.c.status.in_(("filled", "cancelled")),
            b.c.closed_at.is_not(None),
            sa.func.coalesce(b.c.cancel_reason, "").not_like("cancel_short%"),
        )
        .group_by(c.c.segment, bucket)
    )
    bind.execute(closures.insert().from_select(list(columns), sums.subquery().select()))

    op.create_table(
        "backorder_cost_weekly",
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("segment", sa.String(length=30), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "week", "kind", "category", "segment", name=op.f("pk_backorder_cost_weekly")
        ),
    )
    k = sa.table(
        "backorder_costs", sa.column("at"), sa.column("backorder_id"), sa.column("kind"),
        sa.column("amount"),
    )  # fmt: skip
    b = sa.table("backorders", sa.column("id"), sa.column("product_id"), sa.column("customer_id"))
    p = sa.table("products", sa.column("id"), sa.column("category"))
    if bind.dialect.name == "postgresql":
        week = sa.cast(sa.func.date_trunc("week", k.c.at), sa.Date)
    else:
        week = sa.func.date(k.c.at, "weekday 0", "-6 days")
    columns = ("week", "kind", "category", "segment", "amount", "entries")
    weekly = sa.table("backorder_cost_weekly", *(sa.column(c) for c in columns))
    sums = (
        sa.select(
            week.label("week"),
            k.c.kind,
            p.c.category,
            c.c.segment,
            sa.func.sum(k.c.amount).label("amount"),
            sa.func.count().label("entries"),
        )
        .select_from(
            k.join(b, b.c.id == k.c.backorder_id)
            .join(p, p.c.id == b.c.product_id)
            .join(c, c.c.id == b.c.customer_id)
        )
        .group_by(week, k.c.kind, p.c.category, c.c.segment)
    )
    bind.execute(weekly.insert().from_select(list(columns), sums.subquery().select()))


    op.create_table(
        "delivery_weekly",
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("delivered", sa.Integer(), nullable=False),
        sa.Column("on_time", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("week", name=op.f("pk_delivery_weekly")),
    )
    s = sa.table(
        "shipments", sa.column("direction"), sa.column("delivered_at"), sa.column("promised_date")
    )
    if bind.dialect.name == "postgresql":
        week = sa.cast(sa.func.date_trunc("week", s.c.delivered_at), sa.Date)
    else:
        week = sa.func.date(s.c.delivered_at, "weekday 0", "-6 days")
    on_time = sa.case((sa.func.date(s.c.delivered_at) <= s.c.promised_date, 1), else_=0)
    sums = (
        sa.select(week.label("week"), sa.func.count(), sa.func.sum(on_time))
        .where(
            s.c.direction == "outbound",
            s.c.delivered_at.is_not(None),
            s.c.promised_date.is_not(None),
        )
        .group_by(week)
    )
    deliveries = sa.table(
        "delivery_weekly", sa.column("week"), sa.column("delivered"), sa.column("on_time")
    )
    bind.execute(
        deliveries.insert().from_select(
            ["week", "delivered", "on_time"], sums.subquery().select()
        )
    )
    op.create_index(op.f("ix_backorders_created_at"), "backorders", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_backorders_created_at"), table_name="backorders")
    op.drop_table("delivery_weekly")
    op.drop_table("backorder_cost_weekly")
    op.drop_table("backorder_closures")
