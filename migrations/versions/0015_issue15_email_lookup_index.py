"""an index on lower(person.personal_email) for the lost-link lookup (issue 15)

Revision ID: 0015_issue15
Revises: 0014_issue14
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_issue15"
down_revision: str | None = "0014_issue14"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_person_personal_email_lower", "person", [sa.text("lower(personal_email)")], unique=False)


def downgrade() -> None:
    op.drop_index("ix_person_personal_email_lower", table_name="person")
