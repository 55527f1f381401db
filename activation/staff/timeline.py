"""The desk's person page: HR facts, account facts, activation state, and the audit timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from activation import audit
from activation.deps import Deps
from activation.models import Activation, ActorType, AuditEvent, Person
from activation.staff import access, directory
from activation.staff.action_words import action_words, outcome_words
from activation.staff.auth import StaffMember
from activation.staff.desk_actions import DeskAction, why_not
from activation.staff.status_words import StateInWords, describe, labelled_time, latest_invite
from activation.window import zone_for

TIMELINE_LIMIT = 500


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    when: str
    what: str
    action: str
    who: str
    outcome: str
    outcome_words: str
    reason: str


@dataclass(frozen=True)
class PersonPage:
    person: Person
    activation: Activation | None
    status: StateInWords
    invite_expires: str
    manager_name: str
    timeline: list[TimelineEntry]
    time_zone: str = "UTC"
    actions: tuple[DeskAction, ...] = ()  # only those that fit the state now
    on_premises_mastered: bool | None = None  # the portal cannot switch such an account on
    tap_expires: str = ""


def describe_actor(event: AuditEvent, names: dict[str, str]) -> str:
    if event.actor_type is ActorType.STAFF:
        oid = event.actor_id or "unknown"
        return f"{names[oid]} (staff, {oid})" if oid in names else f"staff {oid}"
    if event.actor_type is ActorType.STARTER:
        return "the starter"
    return event.actor_type.value


def fitting_actions(person: Person) -> tuple[DeskAction, ...]:
    """The actions offered on the person page: those that apply now, and "revoke pass" only when we
    issued one that is still on record (the action itself stays reachable for a pass made elsewhere)."""
    has_pass = person.activation is not None and bool(person.activation.tap_method_id)
    return tuple(action for action in DeskAction
                 if why_not(action, person) is None and (action is not DeskAction.REVOKE_TAP or has_pass))


def person_page(session: Session, deps: Deps, member: StaffMember, person_id: int,
                context: audit.RequestContext = audit.NO_REQUEST) -> PersonPage:
    person = access.desk_person(session, deps, member, person_id, "desk.person", context)
    zone = zone_for(person.time_zone, deps.settings.policy).key
    now = deps.clock.now()
    invite = latest_invite(session, person.id)
    events = list(reversed(audit.events(session, person_id=person.id, limit=TIMELINE_LIMIT)))
    staff_ids = {e.actor_id for e in events if e.actor_type is ActorType.STAFF and e.actor_id}
    names = dict(session.execute(
        select(Person.entra_object_id, Person.display_name).where(Person.entra_object_id.in_(staff_ids))
    ).all()) if staff_ids else {}
    manager = session.scalars(
        select(Person).where(Person.employee_id == person.manager_employee_id)
    ).first() if person.manager_employee_id else None
    timeline = [
        TimelineEntry(at=e.at, when=labelled_time(e.at, zone), what=action_words(e.action, e.outcome),
                      action=e.action, who=describe_actor(e, names), outcome=e.outcome,
                      outcome_words=outcome_words(e.outcome), reason=e.reason or "")
        for e in events
    ]
    activation = person.activation
    mastered = None
    if activation is None or activation.completed_at is None:  # before day one: can the portal switch it on?
        mastered = directory.on_premises_mastered(session, deps, person.entra_object_id)
    return PersonPage(
        person=person, activation=activation,
        status=describe(person, activation, invite, now, zone, for_desk=True),
        time_zone=zone,
        actions=fitting_actions(person),
        on_premises_mastered=mastered,
        tap_expires=labelled_time(activation.tap_expires_at, zone) if activation and activation.tap_expires_at else "",
        invite_expires=labelled_time(invite.expires_at, zone) if invite is not None and invite.superseded_at is None
        else "",
        manager_name=(f"{manager.display_name} ({manager.employee_id})" if manager is not None
                      else person.manager_employee_id or ""),
        timeline=timeline,
    )
