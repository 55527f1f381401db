"""How a service asks for background work: a ledger row in its own transaction, then a nudge to the queue."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from activation.jobs import ledger
from activation.models import Job

if TYPE_CHECKING:
    from activation.deps import Deps


def submit(session: Session, deps: Deps, kind: str, payload: dict[str, Any] | None = None, *,
           key: str | None = None, delay_seconds: float | None = None, max_attempts: int | None = None) -> Job:
    """Add a job to the caller's transaction; it is handed to the queue once that transaction commits.

    Without a queue in `deps` (a unit test, a one-off command) the row waits for the consumer's sweep.
    Never put a secret in `payload`: it is stored as it is.
    """
    now = deps.clock.now()
    job = ledger.add(session, kind, payload, now=now, key=key,
                     max_attempts=max_attempts or deps.settings.queue.max_attempts,
                     not_before=now + timedelta(seconds=delay_seconds) if delay_seconds else None)
    if deps.jobs is not None:
        deps.jobs.enqueue_after_commit(session, job.id, delay_seconds)
    return job
