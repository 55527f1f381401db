"""indexes for lookups that read whole tables (issue 15): lower(person.personal_email) for the
lost-link lookup, audit_event.request_id for a job's "done already?" check

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
    op.create_index("ix_audit_event_request_id", "audit_event", ["request_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_event_request_id", table_name="audit_event")
    op.drop_index("ix_person_personal_email_lower", table_name="person")
