"""Reading the outbox: the demo's stand-in for the starter's personal inbox."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from activation.models import OutboxMessage


def recent(session: Session, *, to: str | None = None, limit: int = 100) -> Sequence[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(max(1, min(limit, 500)))
    if to:
        query = query.where(OutboxMessage.to_address == to.strip().lower())
    return session.scalars(query).all()


def message(session: Session, message_id: int) -> OutboxMessage | None:
    return session.get(OutboxMessage, message_id)
