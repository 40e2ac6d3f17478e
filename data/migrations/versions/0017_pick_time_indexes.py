"""pick time indexes: the picking figures read their window of picks and packs by index

Revision ID: c1
Revises: b2
"""

from alembic import op

revision = "c1"
down_revision = "b2"
branch_labels = None
depends_on = None

INDEXES = {"ix_pick_tasks_picked_at": "picked_at", "ix_pick_tasks_packed_at": "packed_at"}


def upgrade() -> None:
    for name, column in INDEXES.items():
        op.create_index(op.f(name), "pick_tasks", [column])


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(op.f(name), table_name="pick_tasks")
