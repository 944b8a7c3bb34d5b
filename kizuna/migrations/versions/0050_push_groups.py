"""Municipalities' own messages beside ours; one LINE request for several deliveries;
one index fewer on the outbox

Revision ID: 0050
Revises: 0020
Create Date: 2026-11-22
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import kizuna.models

revision = "0050"
down_revision = "0020"
branch_labels = None
depends_on = None

LIVE = sa.text(kizuna.models.LIVE_DELIVERY)
PUSH_KEY_SET = sa.text(kizuna.models.PUSH_KEY_SET)


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("from_municipality", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("push_key", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True)
        )
        batch_op.add_column(
            sa.Column("multicast", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.drop_index("uq_delivery_day", sqlite_where=LIVE, postgresql_where=LIVE)
        batch_op.drop_index("ix_delivery_subscriber_id")  # uq_delivery leads with the column
        batch_op.create_index(
            "uq_delivery_day",
            ["subscriber_id", "child_id", "local_date", "from_municipality"],
            unique=True,
            sqlite_where=LIVE,
            postgresql_where=LIVE,
        )
        batch_op.create_index(
            "ix_delivery_push_key",
            ["push_key"],
            sqlite_where=PUSH_KEY_SET,
            postgresql_where=PUSH_KEY_SET,
        )


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_push_key")
        batch_op.drop_index("uq_delivery_day")
        batch_op.create_index("ix_delivery_subscriber_id", ["subscriber_id"])
        batch_op.create_index(
            "uq_delivery_day",
            ["subscriber_id", "child_id", "local_date"],
            unique=True,
            sqlite_where=LIVE,
            postgresql_where=LIVE,
        )
        batch_op.drop_column("multicast")
        batch_op.drop_column("push_key")
        batch_op.drop_column("from_municipality")
