"""Join the branches written in parallel (indexes, municipalities, privacy)

Revision ID: 0020
Revises: 0004, 0010, 0011
Create Date: 2026-11-22
"""

revision = "0020"
down_revision = ("0004", "0010", "0011")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
