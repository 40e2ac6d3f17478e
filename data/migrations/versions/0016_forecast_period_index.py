"""forecast period index: the newest forecast summed per period read from an index alone

Revision ID: b2
Revises: b1
"""

from alembic import op

revision = "b2"
down_revision = "b1"
branch_labels = None
depends_on = None

COLUMNS = ["model_run_id", "period_start", "product_id", "p50", "p90"]


def upgrade() -> None:
    op.create_index(op.f("ix_forecasts_run_period"), "forecasts", COLUMNS)


def downgrade() -> None:
    op.drop_index(op.f("ix_forecasts_run_period"), table_name="forecasts")
