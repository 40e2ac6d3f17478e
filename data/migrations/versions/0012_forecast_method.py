"""forecast method: which demand method serves each product's forecast

Revision ID: f1
Revises: i1
"""

import sqlalchemy as sa
from alembic import op

revision = "f1"
down_revision = "i1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("forecasts") as batch:
        batch.add_column(sa.Column("method", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("forecasts") as batch:
        batch.drop_column("method")
