"""What the directory says about a user, cached briefly: a manager's employeeId, an account's AD sync.

HR systems often push only joiners, so the signed-in manager may have no row in `person`. Their
employeeId then comes from Microsoft Graph (`GET /users/{oid}?$select=employeeId`), kept for a few
minutes in the shared database (never in worker memory) so every request is re-checked without a
Graph call each time. A change in the directory is seen within `CACHE_SECONDS`. The same cache tells
the desk and the manager, before day one, that an account is mastered in on-premises AD.
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


def on_premises_mastered(session: Session, deps: Deps, object_id: str | None) -> bool | None:
    """Is the account synced from on-premises AD (so Graph cannot enable it)? None when unknown.

    Never raises: a page that shows the flag still works when Graph is down. Commits the cache.
    """
    if not object_id:
        return None
    now = deps.clock.now()
    cached = session.get(DirectoryLookup, object_id)
    if (cached is not None and cached.on_premises_sync_enabled is not None
            and cached.checked_at > now - timedelta(seconds=CACHE_SECONDS)):
        return cached.on_premises_sync_enabled
    try:
        user = deps.graph.get_user(object_id)
    except (GraphError, TokenError) as exc:
        logger.warning("directory lookup of an account's on-premises sync failed: %s", type(exc).__name__)
        return None
    synced = bool(user.on_premises_sync_enabled)
    if cached is None:
        session.add(DirectoryLookup(object_id=object_id, employee_id=user.employee_id,
                                    on_premises_sync_enabled=synced, checked_at=now))
    else:
        cached.employee_id, cached.on_premises_sync_enabled, cached.checked_at = user.employee_id, synced, now
    session.commit()
    return synced
