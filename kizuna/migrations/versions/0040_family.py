"""Family: single-use invitations to follow a child

Revision ID: 0040
Revises: 0020
Create Date: 2026-11-22
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import kizuna.models

revision = "0040"
down_revision = "0020"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString
UTC_DATETIME = kizuna.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "family_invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("inviter_id", sa.Integer(), nullable=False),
        sa.Column("role", String(length=16), nullable=False),
        sa.Column("may_report", sa.Boolean(), nullable=False),
        sa.Column("receives_local_info", sa.Boolean(), nullable=False),
        sa.Column("label", String(length=40), nullable=True),
        sa.Column("code_hash", String(length=64), nullable=False),
        sa.Column("expires_at", UTC_DATETIME(), nullable=False),
        sa.Column("used_at", UTC_DATETIME(), nullable=True),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC_DATETIME(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    with op.batch_alter_table("family_invitation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_family_invitation_child_id"), ["child_id"])
        batch_op.create_index(batch_op.f("ix_family_invitation_inviter_id"), ["inviter_id"])
        batch_op.create_index(batch_op.f("ix_family_invitation_subscriber_id"), ["subscriber_id"])


def downgrade() -> None:
    op.drop_table("family_invitation")
