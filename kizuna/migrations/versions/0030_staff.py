"""Staff console: staff members, one-time password links, resident lists awaiting confirmation

Revision ID: 0030
Revises: 0020
Create Date: 2026-11-22
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import kizuna.models

revision = "0030"
down_revision = "0020"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString
UTC_DATETIME = kizuna.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "staff_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_code", String(length=6), nullable=False),
        sa.Column("email", String(length=254), nullable=False),
        sa.Column("password_hash", String(), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", UTC_DATETIME(), nullable=True),
        sa.Column("session_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME(), nullable=False),
        sa.ForeignKeyConstraint(["municipality_code"], ["municipality.code"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    with op.batch_alter_table("staff_member", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_member_municipality_code"), ["municipality_code"]
        )
    op.create_table(
        "staff_password_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", String(length=64), nullable=False),
        sa.Column("expires_at", UTC_DATETIME(), nullable=False),
        sa.Column("used_at", UTC_DATETIME(), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_member.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("staff_password_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_password_link_staff_id"), ["staff_id"])
    op.create_table(
        "staff_upload",
        sa.Column("id_hash", String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("municipality_code", String(length=6), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTC_DATETIME(), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_member.id"]),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    with op.batch_alter_table("staff_upload", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_upload_staff_id"), ["staff_id"])


def downgrade() -> None:
    op.drop_table("staff_upload")
    op.drop_table("staff_password_link")
    op.drop_table("staff_member")
