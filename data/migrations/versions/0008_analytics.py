"""backorder rollup (order lines per week, category, segment, root cause); open-backorder index;
handling cost kind

Revision ID: a1
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "a1"
down_revision = "r1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    money = sa.Numeric(precision=14, scale=2)
    op.create_table(
        "backorder_rollup",
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("segment", sa.String(length=30), nullable=False),
        sa.Column("root_cause", sa.String(length=30), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("value", money, nullable=False),
        sa.Column("cost", money, nullable=False),
        sa.Column("bo_lines", sa.Integer(), nullable=False),
        sa.Column("bo_units", sa.Integer(), nullable=False),
        sa.Column("bo_value", money, nullable=False),
        sa.Column("bo_filled_units", sa.Integer(), nullable=False),
        sa.Column("lost_units", sa.Integer(), nullable=False),
        sa.Column("lost_value", money, nullable=False),
        sa.Column("lost_cost", money, nullable=False),
        sa.Column("cancelled_units", sa.Integer(), nullable=False),
        sa.Column("cancelled_value", money, nullable=False),
        sa.Column("cancelled_cost", money, nullable=False),
        sa.PrimaryKeyConstraint(
            "week", "category", "segment", "root_cause", name=op.f("pk_backorder_rollup")
        ),
    )
    op.create_index(op.f("ix_backorders_status"), "backorders", ["status"], unique=False)
    # Administrative handling joins the backorder cost kinds.
    with op.batch_alter_table("backorder_costs", recreate="always") as batch:
        batch.drop_constraint(op.f("ck_backorder_costs_kind"), type_="check")
        batch.create_check_constraint(
            op.f("ck_backorder_costs_kind"),
            "kind IN ('expedite', 'split_freight', 'credit', 'handling')",
        )


def downgrade() -> None:
    with op.batch_alter_table("backorder_costs", recreate="always") as batch:
        batch.drop_constraint(op.f("ck_backorder_costs_kind"), type_="check")
        batch.create_check_constraint(
            op.f("ck_backorder_costs_kind"), "kind IN ('expedite', 'split_freight', 'credit')"
        )
    op.drop_index(op.f("ix_backorders_status"), table_name="backorders")
    op.drop_table("backorder_rollup")
