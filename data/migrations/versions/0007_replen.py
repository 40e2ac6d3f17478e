"""communications with suppliers, about a purchase order or a shipment

Revision ID: r1
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "r1"
down_revision = "j1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("communications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("supplier_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("po_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("shipment_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_communications_supplier_id_suppliers"),
            "suppliers",
            ["supplier_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_communications_po_id_purchase_orders"),
            "purchase_orders",
            ["po_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_communications_shipment_id_shipments"),
            "shipments",
            ["shipment_id"],
            ["id"],
        )
        batch_op.create_index(
            "ix_communications_supplier", ["supplier_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("communications", schema=None) as batch_op:
        batch_op.drop_index("ix_communications_supplier")
        batch_op.drop_constraint(
            batch_op.f("fk_communications_shipment_id_shipments"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_communications_po_id_purchase_orders"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_communications_supplier_id_suppliers"), type_="foreignkey"
        )
        batch_op.drop_column("shipment_id")
        batch_op.drop_column("po_id")
        batch_op.drop_column("supplier_id")
