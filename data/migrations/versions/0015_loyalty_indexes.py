"""loyalty indexes: the Loyalty impact page's reads answered from indexes alone; each customer's
backorders by creation time with what the exposure figures read of them, and the feedback index
widened with the scores (CSAT, NPS, sentiment)

Revision ID: b1
Revises: a10
"""

from alembic import op

revision = "b1"
down_revision = "a10"
branch_labels = None
depends_on = None

BACKORDER_COLUMNS = ["customer_id", "created_at", "status", "promised_date", "closed_at"]


def upgrade() -> None:
    op.create_index(
        op.f("ix_backorders_customer_created"), "backorders", BACKORDER_COLUMNS
    )
    op.drop_index(op.f("ix_feedback_customer"), table_name="feedback")
    op.create_index(
        op.f("ix_feedback_customer"),
        "feedback",
        ["customer_id", "created_at", "csat", "nps", "sentiment"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_feedback_customer"), table_name="feedback")
    op.create_index(op.f("ix_feedback_customer"), "feedback", ["customer_id", "created_at"])
    op.drop_index(op.f("ix_backorders_customer_created"), table_name="backorders")
