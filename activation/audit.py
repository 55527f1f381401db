"""The audit trail: who did what to whom, when, why and with what outcome. No secrets, ever."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from activation.models import ActorType, AuditEvent, Person, utcnow
from activation.redaction import redact

MAX_QUERY_ROWS = 10_000
# What the session has recorded and not yet committed, as (action, outcome): metrics count them once
# the transaction commits (activation/metrics.py), and drop them when it rolls back.
PENDING_KEY = "activation.audit.pending"
# One plain INSERT, built once: an audit row is written, never read back or changed in the request,
# so it needs none of the unit of work's bookkeeping (about half the CPU of an ORM add and flush).
_INSERT = insert(AuditEvent.__table__)


@dataclass(frozen=True)
class Actor:
    type: ActorType
    id: str | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorType.SYSTEM, "system")

    @classmethod
    def starter(cls, employee_id: str | None = None) -> Actor:
        return cls(ActorType.STARTER, employee_id)

    @classmethod
    def staff(cls, oid: str) -> Actor:
        """Staff are identified by their immutable Entra object id, never by a name."""
        return cls(ActorType.STAFF, oid)


@dataclass(frozen=True)
class RequestContext:
    """Where an action came from; the portal builds it per request, the CLI uses the default."""

    request_id: str | None = None
    client_ip: str | None = None


NO_REQUEST = RequestContext()


def record(
    session: Session,
    *,
    action: str,
    actor: Actor,
    person: Person | None = None,
    outcome: str = "success",
    reason: str | None = None,
    context: RequestContext = NO_REQUEST,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Write one audit event in the session's transaction; the calling service commits with its own change."""
    session.execute(_INSERT, {
        "at": at or utcnow(),
        "actor_type": actor.type,
        "actor_id": actor.id,
        "action": action,
        "person_id": person.id if person is not None else None,
        "employee_id": person.employee_id if person is not None else None,
        "outcome": outcome,
        "reason": reason,
        "request_id": context.request_id,
        "client_ip": context.client_ip,
        "details": redact(details or {}),
    })
    session.info.setdefault(PENDING_KEY, []).append((action, outcome or "success"))


def events(
    session: Session,
    *,
    person_id: int | None = None,
    employee_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 500,
    newest_first: bool = True,
) -> Sequence[AuditEvent]:
    """Query events with simple filters, bounded by `limit` (at most MAX_QUERY_ROWS + 1, to detect more)."""
    query = select(AuditEvent)
    if person_id is not None:
        query = query.where(AuditEvent.person_id == person_id)
    if employee_id is not None:
        query = query.where(AuditEvent.employee_id == employee_id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if until is not None:
        query = query.where(AuditEvent.at < until)
    order = (AuditEvent.at.desc(), AuditEvent.id.desc()) if newest_first else (AuditEvent.at, AuditEvent.id)
    query = query.order_by(*order).limit(max(1, min(limit, MAX_QUERY_ROWS + 1)))
    return session.scalars(query).all()
