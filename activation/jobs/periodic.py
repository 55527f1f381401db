"""The schedule: periodic jobs run by the consumer, so nothing needs cron.

Each firing adds a ledger row keyed by its time slot (`schedule.reconcile@2026-03-02T08:10`), so two
consumers on two hosts firing the same slot run it once, and every run is visible with its outcome.

To add a periodic job (as the credential watch was):
1. write a handler `(session, deps, job) -> dict | None` calling your service function, and add it to
   `activation.jobs.handlers.default_handlers()` under a kind such as "credentials.watch";
2. append `PeriodicJob("credentials.watch", every_minutes=5)` in `default_schedule` below (read the
   interval from Settings if operators should tune it).
`build_queue(..., schedule=...)` also takes an explicit list, which is how tests add their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from activation.config import Settings


@dataclass(frozen=True)
class PeriodicJob:
    kind: str  # the ledger kind; `default_handlers()` must have a handler for it
    every_minutes: int  # fires when minutes since midnight UTC are a multiple of this

    def is_due(self, moment: datetime) -> bool:
        return (moment.hour * 60 + moment.minute) % max(1, self.every_minutes) == 0

    def slot(self, moment: datetime) -> str:
        return f"{self.kind}@{moment:%Y-%m-%dT%H:%M}"


def default_schedule(settings: Settings) -> list[PeriodicJob]:
    queue = settings.queue
    schedule = [
        PeriodicJob("schedule.reconcile", queue.reconcile_every_minutes),
        PeriodicJob("schedule.invites_send", queue.invites_send_every_minutes),
        PeriodicJob("schedule.expire", 60),
        # every minute; each user is checked with its own backoff (policy.credential_check_*), so a firing
        # with nobody due costs one query
        PeriodicJob("schedule.credentials_watch", 1),
    ]
    if queue.drop_folder:
        schedule.append(PeriodicJob("schedule.provision_drop_folder", queue.provision_every_minutes))
    return schedule


def every_minute(_moment: datetime) -> bool:
    return True


def validator(job: PeriodicJob) -> Callable[[datetime], bool]:
    return job.is_due
