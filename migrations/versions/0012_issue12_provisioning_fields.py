"""provisioning: CSV2SCIM fields (user name, cost center, division, work address and phone), manager_pending

Revision ID: 0012_issue12
Revises: 0011_issue11
Create Date: 2026-12-02 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_issue12"
down_revision: str | None = "0011_issue11"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT_COLUMNS = (
    ("user_name", 256), ("cost_center", 128), ("division", 128), ("street_address", 256), ("locality", 128),
    ("postal_code", 32), ("work_phone", 32),
)


def upgrade() -> None:
    with op.batch_alter_table("person") as batch:
        for name, length in _TEXT_COLUMNS:
            batch.add_column(sa.Column(name, sa.String(length=length), nullable=True))
        batch.add_column(sa.Column("manager_pending", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("person") as batch:
        batch.drop_column("manager_pending")
        for name, _ in reversed(_TEXT_COLUMNS):
            batch.drop_column(name)
