"""The `job` table: one row per piece of background work, the source of truth for its state.

Every function takes a session and plain values and commits its own small transaction (except `add`,
which joins the caller's transaction, so a job exists exactly when the change that asked for it does).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached

from activation.models import Job, JobState

MAX_ERROR_CHARS = 500
_JOB_COLUMNS = [column for column in Job.__table__.columns if column.key != "id"]
_INSERT_JOB = insert(Job.__table__).returning(Job.__table__.c.id)
# Built once, with bound parameters (see codes.py). RETURNING the row (populate_existing) gives the
# claimed job from the same UPDATE, without reading it again.
_CLAIM = (update(Job)
          .where(Job.id == bindparam("for_job"))
          .where(or_(Job.state == JobState.QUEUED,
                     (Job.state == JobState.RUNNING) & (Job.lease_until < bindparam("now"))))
          .where(or_(Job.not_before.is_(None), Job.not_before <= bindparam("now")))
          .values(state=JobState.RUNNING, attempts=Job.attempts + 1, lease_until=bindparam("lease_until"),
                  updated_at=bindparam("now"))
          .returning(Job)
          .execution_options(synchronize_session=False, populate_existing=True))


def add(session: Session, kind: str, payload: dict[str, Any] | None = None, *, now: datetime,
        key: str | None = None, max_attempts: int = 5, not_before: datetime | None = None) -> Job:
    """A new queued job, or the existing one with the same kind and key (idempotent submission)."""
    if key is not None:
        existing = session.scalars(select(Job).where(Job.kind == kind, Job.key == key)).first()
        if existing is not None:
            return existing
    job = Job(kind=kind, key=key or secrets.token_hex(12), state=JobState.QUEUED, payload=payload or {},
              attempts=0, max_attempts=max_attempts, created_at=now, updated_at=now, not_before=not_before)
    if key is None:
        # A random key meets no other: no savepoint needed, only the id (a lost-link request). One plain
        # INSERT RETURNING the id, then the object joins the session as the row it is (as audit rows
        # are written: the unit of work's flush cost more than the statement).
        values = {column.key: getattr(job, column.key) for column in _JOB_COLUMNS}
        job.id = session.execute(_INSERT_JOB, values).scalar_one()
        make_transient_to_detached(job)
        session.add(job)
        return job
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:  # another process added the same key first
        return session.scalars(select(Job).where(Job.kind == kind, Job.key == key)).one()
    return job


def claim(session: Session, job_id: int, *, now: datetime, lease_seconds: int) -> Job | None:
    """Take the job for this consumer (compare-and-set), or None when it is done, failed or busy."""
    claimed = session.scalars(_CLAIM, {"for_job": job_id, "now": now,
                                       "lease_until": now + timedelta(seconds=lease_seconds)}).first()
    session.commit()
    return claimed


def succeed(session: Session, job: Job, *, now: datetime, result: dict[str, Any] | None = None) -> None:
    job.state, job.finished_at, job.updated_at, job.lease_until = JobState.DONE, now, now, None
    job.last_error = None
    job.result = result
    session.commit()


def retry_later(session: Session, job: Job, *, now: datetime, reason: str, delay: float,
                counts_as_attempt: bool = True) -> bool:
    """Queue the job again after `delay` seconds; False (and failed) when it is out of attempts."""
    if not counts_as_attempt:
        job.attempts = max(0, job.attempts - 1)
    if job.attempts >= job.max_attempts:
        fail(session, job, now=now, reason=f"gave up after {job.attempts} attempt(s): {reason}")
        return False
    job.state, job.updated_at, job.lease_until = JobState.QUEUED, now, None
    job.not_before = now + timedelta(seconds=delay)
    job.last_error = reason[:MAX_ERROR_CHARS]
    session.commit()
    return True


def fail(session: Session, job: Job, *, now: datetime, reason: str) -> None:
    job.state, job.finished_at, job.updated_at, job.lease_until = JobState.FAILED, now, now, None
    job.last_error = reason[:MAX_ERROR_CHARS]
    session.commit()


PERIODIC_PREFIX = "schedule."
PERIODIC_KEEP = timedelta(days=7)


def prune_finished_periodic(session: Session, *, now: datetime, keep: timedelta = PERIODIC_KEEP) -> int:
    """Forget periodic firings that finished well before `now` (the schedule adds one a minute, and
    nothing else ever reads an old one); failed ones stay for the desk. Returns how many. Commits."""
    pruned = session.execute(
        delete(Job).where(Job.kind.startswith(PERIODIC_PREFIX), Job.state == JobState.DONE,
                          Job.finished_at < now - keep)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return pruned


def due(session: Session, *, now: datetime, limit: int = 200) -> list[int]:
    """Queued jobs whose time has come, and running ones whose lease has expired (a consumer died)."""
    query = (
        select(Job.id)
        .where(or_((Job.state == JobState.QUEUED) & or_(Job.not_before.is_(None), Job.not_before <= now),
                   (Job.state == JobState.RUNNING) & (Job.lease_until < now)))
        .order_by(Job.id).limit(limit)
    )
    return list(session.scalars(query))


@dataclass(frozen=True)
class WorkSummary:
    """What the desk dashboard shows: how much is waiting, and what failed, with the reason."""

    queued: int
    running: int
    retrying: list[Job]  # queued again after a failed attempt: the reason is the last error
    failed: list[Job]


def summary(session: Session, *, since: datetime, limit: int = 20) -> WorkSummary:
    counts = dict(session.execute(
        select(Job.state, func.count()).where(Job.state.in_((JobState.QUEUED, JobState.RUNNING)))
        .group_by(Job.state)).all())
    retrying = list(session.scalars(
        select(Job).where(Job.state == JobState.QUEUED, Job.last_error.is_not(None))
        .order_by(Job.updated_at.desc()).limit(limit)))
    failed = list(session.scalars(
        select(Job).where(Job.state == JobState.FAILED, Job.updated_at >= since)
        .order_by(Job.updated_at.desc()).limit(limit)))
    return WorkSummary(int(counts.get(JobState.QUEUED, 0)), int(counts.get(JobState.RUNNING, 0)), retrying, failed)
