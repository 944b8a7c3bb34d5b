"""Indexes on the child dates that planning selects by

Planning asks only for children whose due, birth or loss date can make a message due today
(kizuna.core.due); with these indexes the database reads those children instead of every
follow (BENCHMARKS.md).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = ("due_date", "birth_date", "loss_date")


def upgrade() -> None:
    with op.batch_alter_table("child", schema=None) as batch_op:
        for column in COLUMNS:
            batch_op.create_index(batch_op.f(f"ix_child_{column}"), [column], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("child", schema=None) as batch_op:
        for column in COLUMNS:
            batch_op.drop_index(batch_op.f(f"ix_child_{column}"))
