"""The composition root of background work: `build_queue(settings, runtime)`.

Huey carries only ledger ids. Its store comes from `[queue] url` / ACTIVATION_QUEUE_URL:
`redis://` (production, staging: shared by every host), `sqlite:///path` (demo, development),
`memory:` (immediate mode: a job runs as soon as its transaction commits; the test environment's default).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey
from huey.consumer import Consumer
from sqlalchemy import event
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from activation.config import Settings
from activation.jobs import ledger
from activation.jobs.handlers import Handler, default_handlers
from activation.jobs.periodic import PeriodicJob, default_schedule, every_minute
from activation.jobs.runner import Outcome, run_job

if TYPE_CHECKING:
    from activation.runtime import Runtime

logger = logging.getLogger(__name__)
QUEUE_NAME = "activation"
PENDING_KEY = "activation.jobs.pending"


def queue_url(settings: Settings) -> str:
    if settings.queue.url:
        return settings.queue.url
    if settings.env == "test":
        return "memory:"
    return f"sqlite:///{Path(settings.instance_dir) / 'queue.db'}"


def build_huey(settings: Settings) -> Huey:
    url = queue_url(settings)
    if url.startswith("memory:"):
        return MemoryHuey(QUEUE_NAME, immediate=True, results=False, utc=True)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(QUEUE_NAME, filename=str(path), results=False, utc=True)
    return RedisHuey(QUEUE_NAME, url=url, results=False, utc=True)


class JobQueue:
    """Submits ledger ids to Huey and runs them; `huey` has every task registered."""

    def __init__(self, huey: Huey, runtime: Runtime, handlers: dict[str, Handler],
                 schedule: Iterable[PeriodicJob]) -> None:
        self.huey = huey
        self.runtime = runtime
        self.handlers = handlers
        self.schedule = list(schedule)
        self._run_task = huey.task(name="activation.run_job")(self._run_and_reschedule)
        huey.periodic_task(every_minute, name="activation.sweep")(self.sweep)
        for periodic in self.schedule:
            huey.periodic_task(periodic.is_due, name=f"activation.periodic.{periodic.kind}")(
                self._periodic_runner(periodic))

    # Submitting

    def enqueue(self, job_id: int, delay_seconds: float | None = None) -> None:
        if delay_seconds and delay_seconds > 0:
            self._run_task.schedule((job_id,), delay=delay_seconds)
        else:
            self._run_task(job_id)

    def enqueue_after_commit(self, session: Session, job_id: int, delay_seconds: float | None = None) -> None:
        """Hand the job to Huey once the caller's transaction commits (never a job for a rolled-back change).

        `after_commit` also fires when a savepoint is released (ledger.add uses one), so the ids wait in
        `session.info` until the outermost transaction has committed.
        """
        pending: list[tuple[int, float | None]] | None = session.info.get(PENDING_KEY)
        if pending is None:
            pending = session.info[PENDING_KEY] = []
            event.listen(session, "after_commit", self._after_commit)
            event.listen(session, "after_soft_rollback", self._after_rollback)
        pending.append((job_id, delay_seconds))

    def _after_commit(self, session: Session) -> None:
        if session.in_nested_transaction():  # a savepoint was released; the outer transaction goes on
            return
        pending = session.info.get(PENDING_KEY) or []
        handed, pending[:] = list(pending), []
        for job_id, delay_seconds in handed:
            try:
                self.enqueue(job_id, delay_seconds)
            except Exception:  # the queue store is away: the row waits for the sweep
                logger.warning("job %s could not be handed to the queue; the sweep will pick it up", job_id)

    @staticmethod
    def _after_rollback(session: Session, previous_transaction: Any) -> None:
        if previous_transaction.parent is None:  # the outermost transaction: its jobs never existed
            (session.info.get(PENDING_KEY) or []).clear()

    # Running

    def run(self, job_id: int) -> Outcome:
        with self.runtime.session_factory() as session:
            return run_job(session, self.runtime.deps(), job_id, self.handlers)

    def _run_and_reschedule(self, job_id: int) -> None:
        try:
            outcome = self.run(job_id)
        except (OperationalError, InterfaceError):
            # The database went away mid-job: the row may still say "running". Look again once its
            # lease is over (Huey's store is not the database, so this message survives the outage).
            logger.warning("job %s: the database is unavailable; trying again after its lease", job_id)
            self.enqueue(job_id, self.runtime.settings.queue.lease_seconds + 1)
            return
        if outcome.retry_at is not None:
            self.enqueue(job_id, max(0.0, (outcome.retry_at - self.runtime.clock.now()).total_seconds()))

    def run_due(self) -> list[Outcome]:
        """Run every due ledger row here and now (tests, and `activation worker --once`)."""
        with self.runtime.session_factory() as session:
            due = ledger.due(session, now=self.runtime.clock.now())
        return [self.run(job_id) for job_id in due]

    def sweep(self) -> int:
        """Hand every due row to Huey: retries whose backoff is over, rows whose nudge was lost, and
        running rows whose lease ran out (their consumer died). Claiming makes a duplicate harmless."""
        with self.runtime.session_factory() as session:
            due = ledger.due(session, now=self.runtime.clock.now())
        for job_id in due:
            self.enqueue(job_id)
        return len(due)

    def fire(self, periodic: PeriodicJob, moment: datetime | None = None) -> Outcome:
        """One firing of a periodic job: a ledger row for its time slot, run at once."""
        moment = moment or self.runtime.clock.now()
        with self.runtime.session_factory() as session:
            job = ledger.add(session, periodic.kind, {}, now=moment, key=periodic.slot(moment),
                             max_attempts=self.runtime.settings.queue.max_attempts)
            session.commit()
            job_id = job.id
        return self.run(job_id)

    def _periodic_runner(self, periodic: PeriodicJob) -> Any:
        def fire() -> None:
            outcome = self.fire(periodic)
            if outcome.retry_at is not None:
                self.enqueue(outcome.job_id, max(0.0, (outcome.retry_at - self.runtime.clock.now()).total_seconds()))

        fire.__name__ = f"periodic_{periodic.kind.replace('.', '_')}"
        return fire

    def consumer(self, *, workers: int | None = None, periodic: bool = True) -> Consumer:
        return self.huey.create_consumer(workers=workers or self.runtime.settings.queue.consumer_workers,
                                         worker_type="thread", periodic=periodic, check_worker_health=True)


def build_queue(settings: Settings, runtime: Runtime, *, handlers: dict[str, Handler] | None = None,
                schedule: Iterable[PeriodicJob] | None = None) -> JobQueue:
    """A Huey instance for these settings with every task and periodic task registered."""
    return JobQueue(build_huey(settings), runtime, handlers if handlers is not None else default_handlers(),
                    schedule if schedule is not None else default_schedule(settings))
