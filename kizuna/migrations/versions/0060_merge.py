"""Join the branches written in parallel (staff console, family, push groups)

Revision ID: 0060
Revises: 0030, 0040, 0050
Create Date: 2026-11-22
"""

revision = "0060"
down_revision = ("0030", "0040", "0050")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
