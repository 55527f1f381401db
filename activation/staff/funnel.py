"""The desk's funnel: invited -> code sent -> TAP issued -> credential registered, with the drop-off at
each step and the median time from the first invite to the first credential. Also who has a pass but
no credential yet, with the time left on the pass.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from activation import audit
from activation.deps import Deps
from activation.models import Activation, AuditEvent, Invite, Person
from activation.staff import access
from activation.staff.auth import StaffMember

MAX_WAITING = 100


@dataclass(frozen=True)
class Step:
    name: str
    count: int
    drop_off: float | None  # share lost since the previous step (None for the first)


@dataclass(frozen=True)
class NoCredential:
    person_id: int
    employee_id: str
    name: str
    words: str  # "TAP unused, 1 h 20 min left" / "no credential yet: signed in with the TAP, 40 min left"


@dataclass(frozen=True)
class Funnel:
    steps: list[Step]
    median_invite_to_credential: timedelta | None
    measured: int  # how many people the median is over
    waiting: list[NoCredential]

    @property
    def median_words(self) -> str:
        return duration_words(self.median_invite_to_credential)


def _left(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def funnel(session: Session, deps: Deps, member: StaffMember,
           context: audit.RequestContext = audit.NO_REQUEST) -> Funnel:
    access.require_desk(session, deps, member, "desk.funnel", context)
    return compute(session, deps.clock.now())


def compute(session: Session, now: datetime) -> Funnel:
    first_invite = dict(session.execute(
        select(Invite.person_id, func.min(func.coalesce(Invite.sent_at, Invite.issued_at))).group_by(Invite.person_id)
    ).all())
    code_sent = set(session.scalars(select(Activation.person_id).where(Activation.codes_sent > 0)))
    code_sent |= set(session.scalars(select(Activation.person_id).where(Activation.verified_at.is_not(None))))
    tap_people = set(session.scalars(
        select(AuditEvent.person_id).where(AuditEvent.action == "tap.issued", AuditEvent.outcome == "success",
                                           AuditEvent.person_id.is_not(None)).distinct()
    ))
    credentials = dict(session.execute(
        select(Activation.person_id, Activation.credential_at).where(Activation.credential_at.is_not(None))
    ).all())
    counts = [("invited", len(first_invite)), ("code sent", len(code_sent)), ("TAP issued", len(tap_people)),
              ("credential registered", len(credentials))]
    steps: list[Step] = []
    for index, (name, count) in enumerate(counts):
        before = counts[index - 1][1] if index else None
        drop = None if before is None else (0.0 if before == 0 else max(0.0, (before - count) / before))
        steps.append(Step(name, count, drop))
    durations = [(credentials[p] - first_invite[p]).total_seconds() for p in credentials if first_invite.get(p)]
    median = timedelta(seconds=statistics.median(durations)) if durations else None
    return Funnel(steps, median, len(durations), _waiting(session, now, tap_people))


def duration_words(delta: timedelta | None) -> str:
    """`1 s`, `4 min 10 s`, `2 h 5 min`, `3 d 4 h`: a median a reader takes in at a glance."""
    if delta is None:
        return "not measured yet"
    seconds = int(round(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def _waiting(session: Session, now: datetime, tap_people: set[int]) -> list[NoCredential]:
    """People who were issued a pass (not adopted workers) and have no credential yet."""
    rows = session.execute(
        select(Person, Activation).join(Activation, Activation.person_id == Person.id)
        .where(Activation.completed_at.is_not(None), Activation.credential_at.is_(None),
               Activation.frozen_at.is_(None), Person.id.in_(tap_people))
        .order_by(Activation.tap_expires_at.desc(), Person.id).limit(MAX_WAITING)
    ).all()
    waiting = []
    for person, activation in rows:
        expires = activation.tap_expires_at
        live = expires is not None and expires > now
        if activation.tap_used_at is not None:
            words = "no credential yet: signed in with the TAP" + (f", {_left(expires - now)} left" if live
                                                                  else ", the pass has expired")
        elif live:
            words = f"TAP unused, {_left(expires - now)} left"  # type: ignore[operator]
        else:
            words = "no credential yet: the TAP was never used and has expired or was revoked"
        waiting.append(NoCredential(person.id, person.employee_id, person.display_name, words))
    return waiting
