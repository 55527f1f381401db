"""A staff user's employeeId from the directory, for managers the HR file never sent.

HR systems often push only joiners, so the signed-in manager may have no row in `person`. Their
employeeId then comes from Microsoft Graph (`GET /users/{oid}?$select=employeeId`), kept for a few
minutes in the shared database (never in worker memory) so every request is re-checked without a
Graph call each time. A change in the directory is seen within `CACHE_SECONDS`.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.orm import Session

from activation.deps import Deps
from activation.errors import ActivationError
from activation.graph.errors import GraphError, NotFound, TokenError
from activation.models import DirectoryLookup

logger = logging.getLogger(__name__)

CACHE_SECONDS = 300


class DirectoryUnavailable(ActivationError):
    """Graph could not be asked just now; the manager page says "try again in a minute"."""


def employee_id(session: Session, deps: Deps, object_id: str) -> str | None:
    """The directory's employeeId for `object_id` (None when the directory has none). Commits the cache."""
    now = deps.clock.now()
    cached = session.get(DirectoryLookup, object_id)
    if cached is not None and cached.checked_at > now - timedelta(seconds=CACHE_SECONDS):
        return cached.employee_id
    try:
        found = deps.graph.get_employee_id(object_id)
    except NotFound:
        found = None
    except (GraphError, TokenError) as exc:
        logger.warning("directory lookup of a staff user's employeeId failed: %s", type(exc).__name__)
        raise DirectoryUnavailable() from None
    if cached is None:
        session.add(DirectoryLookup(object_id=object_id, employee_id=found, checked_at=now))
    else:
        cached.employee_id, cached.checked_at = found, now
    session.commit()
    return found
