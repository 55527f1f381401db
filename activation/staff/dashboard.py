"""The desk's front page: counts by state, who needs attention, who starts soon without activating."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from activation import audit
from activation.deps import Deps
from activation.jobs.visibility import BackgroundWork, background_work
from activation.models import Activation, ActivationState, HrStatus, Person
from activation.staff import access
from activation.staff.auth import StaffMember
from activation.staff.status_words import StateInWords, describe, latest_invite
from activation.window import zone_for

MAX_LISTED = 100
NOT_ACTIVATED = (ActivationState.COMPLETED, ActivationState.CANCELLED)


@dataclass(frozen=True)
class DashboardRow:
    person_id: int
    employee_id: str
    name: str
    start_date: date
    status: StateInWords


@dataclass(frozen=True)
class Dashboard:
    today: date
    week_end: date
    counts: list[tuple[str, int]]
    attention: list[DashboardRow]  # locked and failed first
    starting_soon: list[DashboardRow]  # today and this week, not activated
    work: BackgroundWork | None = None  # queued and failed background jobs, with the reason


def summary(session: Session, deps: Deps, member: StaffMember,
            context: audit.RequestContext = audit.NO_REQUEST) -> Dashboard:
    access.require_desk(session, deps, member, "desk.dashboard", context)
    zone = zone_for(None, deps.settings.policy).key
    now = deps.clock.now()
    today = now.astimezone(zone_for(None, deps.settings.policy)).date()
    week_end = today + timedelta(days=6 - today.weekday())
    counted = dict(session.execute(select(Activation.state, func.count()).group_by(Activation.state)).all())
    counts = [(state.value, int(counted.get(state, 0))) for state in ActivationState]

    def rows(people: list[Person]) -> list[DashboardRow]:
        return [DashboardRow(p.id, p.employee_id, p.display_name, p.start_date,
                             describe(p, p.activation, latest_invite(session, p.id), now, zone, for_desk=True))
                for p in people]

    attention = list(session.scalars(
        select(Person).join(Activation)
        .where(Activation.state.in_((ActivationState.LOCKED, ActivationState.FAILED)))
        .order_by(Activation.state.desc(), Person.start_date, Person.id).limit(MAX_LISTED)
    ))
    soon = list(session.scalars(
        select(Person).outerjoin(Activation)
        .where(Person.start_date >= today, Person.start_date <= week_end, Person.hr_status == HrStatus.ACTIVE)
        .where(or_(Activation.id.is_(None), Activation.state.not_in(NOT_ACTIVATED)))
        .order_by(Person.start_date, Person.display_name, Person.id).limit(MAX_LISTED)
    ))
    soon.sort(key=lambda p: (p.activation is None or p.activation.state not in
                             (ActivationState.LOCKED, ActivationState.FAILED), p.start_date, p.display_name))
    return Dashboard(today, week_end, counts, rows(attention), rows(soon), background_work(session, now))
