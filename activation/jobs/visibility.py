"""Background work in words, for the desk dashboard: what is waiting, what failed and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from activation.jobs import ledger
from activation.models import Job

FAILED_SINCE = timedelta(days=7)

KIND_WORDS = {
    "mail.lost_link": "New-link email a starter asked for",
    "mail.manager_notice": "Manager's \"your starter has activated\" email",
    "mail.invite": "Invite email",
    "provisioning.push": "HR push (provisioning run)",
    "provisioning.reconcile": "Reading Microsoft's provisioning results",
    "schedule.reconcile": "Scheduled reconcile",
    "schedule.invites_send": "Scheduled invites",
    "schedule.expire": "Closing expired activation windows, forgetting week-old scheduled runs",
    "schedule.provision_drop_folder": "HR files from the drop folder",
}


@dataclass(frozen=True)
class JobLine:
    job_id: int
    what: str
    state: str
    attempts: str
    reason: str
    when: datetime | None  # next attempt (waiting) or when it gave up (failed)
    run_id: int | None


@dataclass(frozen=True)
class BackgroundWork:
    queued: int
    running: int
    retrying: list[JobLine]
    failed: list[JobLine]


def _line(job: Job, when: datetime | None) -> JobLine:
    run_id = job.payload.get("run_id") if isinstance(job.payload, dict) else None
    return JobLine(job.id, KIND_WORDS.get(job.kind, job.kind), job.state.value, f"{job.attempts} of {job.max_attempts}",
                   job.last_error or "", when, run_id if isinstance(run_id, int) else None)


def background_work(session: Session, now: datetime) -> BackgroundWork:
    work = ledger.summary(session, since=now - FAILED_SINCE)
    return BackgroundWork(work.queued, work.running, [_line(j, j.not_before) for j in work.retrying],
                          [_line(j, j.finished_at) for j in work.failed])
