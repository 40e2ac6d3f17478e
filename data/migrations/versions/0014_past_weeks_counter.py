"""a change counter for summary rows of past weeks (data/changes.py, "The past weeks")

Revision ID: a10
Revises: a9
"""

import sqlalchemy as sa
from alembic import op

revision = "a10"
down_revision = "a9"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("change_counters") as batch:
        batch.add_column(
            sa.Column("past_weeks", sa.BigInteger(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("change_counters") as batch:
        batch.drop_column("past_weeks")
