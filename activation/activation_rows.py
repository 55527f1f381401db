"""Version-checked writes of an activation row with statements against the table, for the hot paths.

The unit of work's bookkeeping for a row or two cost about a third more CPU than the statements
(docs/benchmarks.md, 2026-12-06); these keep what the mapper gave: the version is checked and bumped,
a moved version raises StaleDataError, and the loaded object shows the written values as committed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql.dml import Update

from activation.models import Activation

COLUMNS = Activation.__table__.c


def versioned_update(**values: Any) -> Update:
    """UPDATE activation SET values WHERE id = :for_activation AND version = :seen_version, bumping the
    version, RETURNING the new version and updated_at (for `write`)."""
    return (update(Activation.__table__)
            .where(COLUMNS.id == bindparam("for_activation"), COLUMNS.version == bindparam("seen_version"))
            .values(**values, version=COLUMNS.version + 1)
            .returning(COLUMNS.version, COLUMNS.updated_at))


def write(session: Session, activation: Activation, statement: Update, params: dict[str, Any],
          **written: Any) -> None:
    """Run a `versioned_update` statement for `activation` and show `written` on it as committed.
    A version that moved means someone else changed the row meanwhile: StaleDataError, as the mapper
    would raise, and nothing is written."""
    row = session.execute(statement, {"for_activation": activation.id, "seen_version": activation.version,
                                      **params}).one_or_none()
    if row is None:
        raise StaleDataError(f"activation {activation.id} changed while this step ran")
    for name, value in {**written, "version": row.version, "updated_at": row.updated_at}.items():
        set_committed_value(activation, name, value)
