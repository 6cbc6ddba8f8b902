"""tags, and users.name becomes required

Revision ID: c3
Revises: b2

op.alter_column outside batch mode: PostgreSQL runs the ALTER, SQLite rejects it.
"""
import sqlalchemy as sa
from alembic import op

revision = "c3"
down_revision = "b2"


def upgrade() -> None:
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("label", sa.String(30), nullable=False, unique=True),
    )
    op.alter_column("users", "name", existing_type=sa.String(50), nullable=False)
