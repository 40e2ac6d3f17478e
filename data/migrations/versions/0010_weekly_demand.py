"""weekly demand summary (demand_daily per week and product), filled from demand_daily;
indexes for the pages' reads

Revision ID: w1
Revises: s1
"""

import sqlalchemy as sa
from alembic import op

revision = "w1"
down_revision = "s1"
branch_labels = None
depends_on = None

FIGURES = ("lines", "lines_short", "qty_ordered", "qty_short", "revenue")


def upgrade() -> None:
    op.create_table(
        "demand_weekly",
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("lines_short", sa.Integer(), nullable=False),
        sa.Column("qty_ordered", sa.Integer(), nullable=False),
        sa.Column("qty_short", sa.Integer(), nullable=False),
        sa.Column("revenue", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_demand_weekly_product_id_products")
        ),
        sa.PrimaryKeyConstraint("week", "product_id", name=op.f("pk_demand_weekly")),
    )
    # An existing database starts with its history summed once; the write side keeps it after.
    bind = op.get_bind()
    daily = sa.table("demand_daily", sa.column("day"), sa.column("product_id"),
                     *(sa.column(c) for c in FIGURES))  # fmt: skip
    weekly = sa.table("demand_weekly", sa.column("week"), sa.column("product_id"),
                      *(sa.column(c) for c in FIGURES))  # fmt: skip
    if bind.dialect.name == "postgresql":
        week = sa.cast(sa.func.date_trunc("week", daily.c.day), sa.Date)
    else:
        week = sa.func.date(daily.c.day, "weekday 0", "-6 days")
    sums = sa.select(
        week.label("week"),
        daily.c.product_id,
        *(sa.func.sum(daily.c[c]).label(c) for c in FIGURES),
    ).group_by(week, daily.c.product_id)
    bind.execute(
        weekly.insert().from_select(["week", "product_id", *FIGURES], sums.subquery().select())
    )
    op.create_index(
        op.f("ix_shipments_direction_delivered"), "shipments", ["direction", "delivered_at"]
    )
    op.create_index(op.f("ix_backorder_costs_at"), "backorder_costs", ["at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_backorder_costs_at"), table_name="backorder_costs")
    op.drop_index(op.f("ix_shipments_direction_delivered"), table_name="shipments")
    op.drop_table("demand_weekly")
