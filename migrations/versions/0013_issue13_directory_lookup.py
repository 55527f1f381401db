"""directory_lookup: what the directory said about a user (employeeId, on-premises sync), cached briefly

Revision ID: 0013_issue13
Revises: 0012_issue12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_issue13"
down_revision: str | None = "0012_issue12"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "directory_lookup",
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("employee_id", sa.String(length=64), nullable=True),
        sa.Column("on_premises_sync_enabled", sa.Boolean(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("object_id", name=op.f("pk_directory_lookup")),
    )


def downgrade() -> None:
    op.drop_table("directory_lookup")
