"""change counters per subject (the versions that key the pages' cached reads)

Revision ID: s1
Revises: a1
"""

import sqlalchemy as sa
from alembic import op

revision = "s1"
down_revision = "a1"
branch_labels = None
depends_on = None

# The subjects when this revision was written (data/changes.py); later ones add a column each.
SUBJECTS = (
    "stock",
    "orders",
    "backorders",
    "purchasing",
    "shipments",
    "picking",
    "catalogue",
    "customers",
    "notifications",
    "outbox",
    "settings",
    "users",
    "audit",
    "models",
    "jobs",
)


def upgrade() -> None:
    op.create_table(
        "change_counters",
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        *(
            sa.Column(subject, sa.BigInteger(), server_default="0", nullable=False)
            for subject in SUBJECTS
        ),
        sa.PrimaryKeyConstraint("shard", name=op.f("pk_change_counters")),
    )


def downgrade() -> None:
    op.drop_table("change_counters")
