"""API keys: expiry and rotation with an overlap for the previous key

Revision ID: 0011_issue11
Revises: 0016_issue16
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_issue11"
down_revision: str | None = "0016_issue16"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_client", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("previous_key_prefix", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("previous_key_hash", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("previous_valid_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_api_client_previous_key_prefix"), ["previous_key_prefix"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_client", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_client_previous_key_prefix"))
        batch_op.drop_column("previous_valid_until")
        batch_op.drop_column("previous_key_hash")
        batch_op.drop_column("previous_key_prefix")
        batch_op.drop_column("rotated_at")
        batch_op.drop_column("expires_at")
