"""Run one job from its ledger row: claim it, call its handler, record what happened.

Bounded: at most `max_attempts` attempts with exponential backoff and jitter (or the delay a cause
asks for, such as Retry-After); pacing waits do not use up an attempt. Errors are recorded with a
reason fit for the desk; an unexpected exception is recorded by type only (details go to the log).
"""

from __future__ import annotations

import dataclasses
import logging
import random
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from activation.audit import RequestContext
from activation.deps import Deps
from activation.errors import ActivationError
from activation.graph.errors import GraphTransientError
from activation.jobs import ledger
from activation.jobs.errors import GiveUp, Paced, RetryLater
from activation.jobs.handlers import Handler, backoff_seconds, request_id
from activation.mail.message import MailDeliveryError
from activation.models import JobState

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    job_id: int
    state: JobState | None  # None: not claimed (done already, failed, or another consumer has it)
    retry_at: datetime | None = None


def run_job(session: Session, deps: Deps, job_id: int, handlers: dict[str, Handler]) -> Outcome:
    settings = deps.settings.queue
    job = ledger.claim(session, job_id, now=deps.clock.now(), lease_seconds=settings.lease_seconds)
    if job is None:
        return Outcome(job_id, None)
    handler = handlers.get(job.kind)
    if handler is None:
        ledger.fail(session, job, now=deps.clock.now(), reason=f"no handler for job kind {job.kind!r}")
        return Outcome(job_id, JobState.FAILED)
    job_deps = dataclasses.replace(deps, context=RequestContext(request_id=request_id(job),
                                                                client_ip=job.payload.get("client_ip")))
    delay: float | None = None
    try:
        result = handler(session, job_deps, job)
    except Paced as paced:
        session.rollback()
        delay = paced.delay or 60
        # An operator asking why an email is late finds the answer here, not only in the job's row.
        logger.info("job %s (%s) waits %.0f s: %s", job_id, job.kind, delay, paced.reason)
        ledger.retry_later(session, job, now=deps.clock.now(), reason=paced.reason, delay=delay,
                           counts_as_attempt=False)
        return Outcome(job_id, job.state, job.not_before)
    except RetryLater as exc:
        reason, delay = exc.reason, exc.delay
    except (GraphTransientError, MailDeliveryError) as exc:
        reason = str(exc)
    except GiveUp as exc:
        session.rollback()
        ledger.fail(session, job, now=deps.clock.now(), reason=str(exc))
        return Outcome(job_id, JobState.FAILED)
    except OperationalError:
        # The database itself is away: nothing can be recorded now. The lease runs out and the sweep
        # re-queues the job once the database is back.
        session.rollback()
        logger.warning("job %s (%s) stopped: the database is unavailable; it will run again", job_id, job.kind)
        raise
    except ActivationError as exc:  # a domain refusal: written to be safe to show
        reason = str(exc)
    except Exception as exc:
        logger.exception("job %s (%s) failed", job_id, job.kind)
        reason = f"unexpected {type(exc).__name__}; see the worker log for job {job_id}"
    else:
        ledger.succeed(session, job, now=deps.clock.now(), result=result)
        return Outcome(job_id, JobState.DONE)
    session.rollback()
    if delay is None:
        delay = backoff_seconds(settings.retry_delay_seconds, job.attempts) * random.uniform(0.8, 1.2)  # noqa: S311
    logger.info("job %s (%s) attempt %s failed: %s", job_id, job.kind, job.attempts, reason)
    ledger.retry_later(session, job, now=deps.clock.now(), reason=reason, delay=delay)
    return Outcome(job_id, job.state, job.not_before if job.state is JobState.QUEUED else None)


def run_due(session: Session, deps: Deps, handlers: dict[str, Handler], *, limit: int = 200) -> list[Outcome]:
    """Run every job that is due now, in this process (tests, `activation worker --once`)."""
    return [run_job(session, deps, job_id, handlers) for job_id in ledger.due(session, now=deps.clock.now(),
                                                                               limit=limit)]
