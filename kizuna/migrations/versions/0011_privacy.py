"""Privacy: erasure marker, consent records, audit log, daily delivery counts

Revision ID: 0011
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import kizuna.models

revision = "0011"
down_revision = "0003"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString
UTC_DATETIME = kizuna.models.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", UTC_DATETIME(), nullable=True))
    op.create_table(
        "consent_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("channel", String(length=16), nullable=False),
        sa.Column("event", String(length=16), nullable=False),
        sa.Column("version", String(), nullable=True),
        sa.Column("at", UTC_DATETIME(), nullable=False),
        sa.Column("address_hash", String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("consent_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_record_subscriber_id"), ["subscriber_id"])
        batch_op.create_index(batch_op.f("ix_consent_record_address_hash"), ["address_hash"])
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTC_DATETIME(), nullable=False),
        sa.Column("actor", String(length=120), nullable=False),
        sa.Column("action", String(length=32), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("detail", String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_entry_at"), ["at"])
        batch_op.create_index(batch_op.f("ix_audit_entry_subscriber_id"), ["subscriber_id"])
    op.create_table(
        "delivery_count",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", String(length=16), nullable=False),
        sa.Column("track", String(length=16), nullable=False),
        sa.Column("variant", String(length=16), nullable=False),
        sa.Column("status", String(length=16), nullable=False),
        sa.Column("municipality_code", String(length=6), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "channel", "track", "variant", "status", "municipality_code"
        ),
    )


def downgrade() -> None:
    op.drop_table("delivery_count")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entry_subscriber_id"))
        batch_op.drop_index(batch_op.f("ix_audit_entry_at"))
    op.drop_table("audit_entry")
    with op.batch_alter_table("consent_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_record_address_hash"))
        batch_op.drop_index(batch_op.f("ix_consent_record_subscriber_id"))
    op.drop_table("consent_record")
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
