"""notification subjects: dedup key and the date a notice announced

Revision ID: n1
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "n1"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dedup_key", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("about_date", sa.Date(), nullable=True))
        batch_op.create_index(
            "ix_notifications_dedup", ["dedup_key", "kind", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_dedup")
        batch_op.drop_column("about_date")
        batch_op.drop_column("dedup_key")
