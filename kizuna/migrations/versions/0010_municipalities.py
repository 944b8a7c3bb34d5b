"""Municipalities: sender label and contact, API tokens, local information, LINE invitations

Revision ID: 0010
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import kizuna.models

revision = "0010"
down_revision = "0003"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString
UTC_DATETIME = kizuna.models.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("municipality", schema=None) as batch_op:
        # Existing rows get "" (the label then defaults to the name + より).
        batch_op.add_column(sa.Column("sender_label", String(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("contact", String(), nullable=False, server_default=""))
    op.create_table(
        "municipality_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_code", String(length=6), nullable=False),
        sa.Column("label", String(), nullable=False),
        sa.Column("token_hash", String(length=64), nullable=False),
        sa.Column("created_at", UTC_DATETIME(), nullable=False),
        sa.Column("revoked_at", UTC_DATETIME(), nullable=True),
        sa.ForeignKeyConstraint(["municipality_code"], ["municipality.code"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("municipality_token", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_municipality_token_municipality_code"), ["municipality_code"]
        )
    op.create_table(
        "municipality_local_info",
        sa.Column("municipality_code", String(length=6), nullable=False),
        sa.Column("key", String(length=32), nullable=False),
        sa.Column("value", String(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME(), nullable=False),
        sa.ForeignKeyConstraint(["municipality_code"], ["municipality.code"]),
        sa.PrimaryKeyConstraint("municipality_code", "key"),
    )
    op.create_table(
        "line_invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_code", String(length=6), nullable=False),
        sa.Column("code_hash", String(length=64), nullable=False),
        sa.Column("fingerprint", String(length=64), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("variant", String(length=16), nullable=False),
        sa.Column("nickname", String(), nullable=True),
        sa.Column("consent_date", sa.Date(), nullable=True),
        sa.Column("expires_at", UTC_DATETIME(), nullable=False),
        sa.Column("used_at", UTC_DATETIME(), nullable=True),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC_DATETIME(), nullable=False),
        sa.ForeignKeyConstraint(["municipality_code"], ["municipality.code"]),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscriber.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
        sa.UniqueConstraint(
            "municipality_code", "fingerprint", "occurrence", name="uq_line_invitation_row"
        ),
    )
    with op.batch_alter_table("line_invitation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_line_invitation_municipality_code"), ["municipality_code"]
        )


def downgrade() -> None:
    with op.batch_alter_table("line_invitation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_line_invitation_municipality_code"))
    op.drop_table("line_invitation")
    op.drop_table("municipality_local_info")
    with op.batch_alter_table("municipality_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_municipality_token_municipality_code"))
    op.drop_table("municipality_token")
    with op.batch_alter_table("municipality", schema=None) as batch_op:
        batch_op.drop_column("contact")
        batch_op.drop_column("sender_label")
