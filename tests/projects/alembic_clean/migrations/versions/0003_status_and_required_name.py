"""orders.status, customers.name required (batch mode: portable)

Revision ID: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(20), nullable=False, server_default="new"))
    with op.batch_alter_table("customers") as batch_op:
        batch_op.alter_column("name", existing_type=sa.String(50), nullable=False)
