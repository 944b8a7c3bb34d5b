"""LINE bot: registration conversations and handled webhook events

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import kizuna.models

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "line_conversation",
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("step", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("data", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("updated_at", kizuna.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "line_webhook_event",
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("received_at", kizuna.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("line_webhook_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_line_webhook_event_received_at"), ["received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("line_webhook_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_line_webhook_event_received_at"))
    op.drop_table("line_webhook_event")
    op.drop_table("line_conversation")
