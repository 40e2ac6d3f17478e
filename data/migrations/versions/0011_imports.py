"""imports: saved column mappings, applied import files, external numbers of orders and POs

Revision ID: i1
Revises: w1
"""

import sqlalchemy as sa
from alembic import op

revision = "i1"
down_revision = "w1"
branch_labels = None
depends_on = None

KINDS = "kind IN ('suppliers', 'products', 'customers', 'stock', 'purchase_orders', 'orders')"


def upgrade() -> None:
    op.create_table(
        "import_mappings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=60), nullable=False),
        sa.CheckConstraint(KINDS, name=op.f("ck_import_mappings_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_mappings")),
        sa.UniqueConstraint("kind", "name", name=op.f("uq_import_mappings_kind")),
    )
    op.create_table(
        "import_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(KINDS, name=op.f("ck_import_batches_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_batches")),
        sa.UniqueConstraint("kind", "sha256", name=op.f("uq_import_batches_kind")),
    )
    for table in ("orders", "purchase_orders"):
        op.add_column(table, sa.Column("external_ref", sa.String(length=40), nullable=True))
        op.create_index(
            op.f(f"ix_{table}_external_ref"), table, ["external_ref"], unique=True
        )


def downgrade() -> None:
    for table in ("orders", "purchase_orders"):
        op.drop_index(op.f(f"ix_{table}_external_ref"), table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("external_ref")
    op.drop_table("import_batches")
    op.drop_table("import_mappings")
