"""The day-before readiness report: people starting tomorrow who will get stuck, and why (issue 16).

Reasons: no personal email, no account yet, mastered on-premises, outside the TAP policy (or any other
pre-TAP check), manager unknown. Reads Graph once per person (bounded); a Graph failure is a reason too,
so the report never says "ready" when it could not look.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from activation import tap_checks
from activation.deps import Deps
from activation.graph.errors import GraphError, TokenError
from activation.models import Activation, ActivationState, HrStatus, Person
from activation.window import zone_for

MAX_PEOPLE = 500
DONE_STATES = (ActivationState.COMPLETED, ActivationState.CANCELLED)


@dataclass(frozen=True)
class Stuck:
    person_id: int
    employee_id: str
    name: str
    start_date: date
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Readiness:
    day: date
    checked: int
    stuck: list[Stuck]


def tomorrow(session: Session, deps: Deps) -> Readiness:
    """Everyone whose start date is tomorrow in their own time zone and who has not activated."""
    now = deps.clock.now()
    policy = deps.settings.policy
    desk_day = now.astimezone(zone_for(None, policy)).date() + timedelta(days=1)
    candidates = session.scalars(
        select(Person).outerjoin(Activation)
        .where(Person.hr_status == HrStatus.ACTIVE,
               Person.start_date.between(desk_day - timedelta(days=1), desk_day + timedelta(days=1)))
        .where(or_(Activation.id.is_(None), Activation.state.not_in(DONE_STATES)))
        .order_by(Person.start_date, Person.display_name, Person.id).limit(MAX_PEOPLE)
    ).all()
    people = [p for p in candidates
              if p.start_date == now.astimezone(zone_for(p.time_zone, policy)).date() + timedelta(days=1)]
    stuck = []
    for person in people:
        reasons = reasons_for(session, deps, person)
        if reasons:
            stuck.append(Stuck(person.id, person.employee_id, person.display_name, person.start_date, tuple(reasons)))
    return Readiness(desk_day, len(people), stuck)


def reasons_for(session: Session, deps: Deps, person: Person) -> list[str]:
    reasons = []
    if not person.personal_email:
        reasons.append("no personal email from HR")
    manager = None
    if person.manager_employee_id:
        manager = session.scalars(select(Person.id).where(Person.employee_id == person.manager_employee_id)).first()
    if manager is None:
        reasons.append("manager unknown")
    if not person.entra_object_id:
        detail = f" ({person.provisioning_error})" if person.provisioning_error else ""
        reasons.append(f"no Entra account yet{detail}")
        return reasons
    try:
        user = deps.graph.get_user(person.entra_object_id)
        if user.on_premises_sync_enabled:
            reasons.append("mastered in on-premises Active Directory: the portal cannot enable it")
        refused = tap_checks.why_not_issue(deps.graph, person.entra_object_id, deps.settings.policy, deps.tap_policy)
    except (GraphError, TokenError) as exc:
        reasons.append(f"could not be checked in Entra ({type(exc).__name__}); try again later")
        return reasons
    if refused:
        reasons.append(refused)
    return reasons
