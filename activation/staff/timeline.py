"""The desk's person page: HR facts, account facts, activation state, and the audit timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from activation import audit
from activation.deps import Deps
from activation.models import Activation, ActorType, AuditEvent, Person
from activation.staff import access
from activation.staff.auth import StaffMember
from activation.staff.status_words import StateInWords, describe, latest_invite, short_time
from activation.window import zone_for

TIMELINE_LIMIT = 500

ACTION_WORDS = {
    "invite.issued": "Invite created",
    "invite.sent": "Invite emailed",
    "code.sent": "Code emailed",
    "code.verify": "Code entered",
    "activation.locked": "Activation locked",
    "account.enabled": "Account switched on",
    "account.step_failed": "Account step failed",
    "tap.issued": "Temporary Access Pass issued (shown to the starter once)",
    "activation.completed": "Activation completed",
    "manager.notified": "Manager notified",
    "manager.resend_invite": "Manager resent the invite",
    "desk.unlock": "Service desk unlocked the activation",
    "desk.resend_invite": "Service desk resent the invite",
    "desk.revoke_tap": "Service desk revoked the Temporary Access Pass",
    "desk.reset": "Service desk reset the activation",
    "desk.cancel": "Service desk cancelled the activation",
    "staff.access_denied": "Staff access refused",
}


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    when: str
    what: str
    action: str
    who: str
    outcome: str
    reason: str


@dataclass(frozen=True)
class PersonPage:
    person: Person
    activation: Activation | None
    status: StateInWords
    invite_expires: str
    manager_name: str
    timeline: list[TimelineEntry]


def describe_actor(event: AuditEvent, names: dict[str, str]) -> str:
    if event.actor_type is ActorType.STAFF:
        oid = event.actor_id or "unknown"
        return f"{names[oid]} (staff, {oid})" if oid in names else f"staff {oid}"
    if event.actor_type is ActorType.STARTER:
        return "the starter"
    return event.actor_type.value


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
        TimelineEntry(at=e.at, when=short_time(e.at, zone), what=ACTION_WORDS.get(e.action, e.action), action=e.action,
                      who=describe_actor(e, names), outcome=e.outcome, reason=e.reason or "")
        for e in events
    ]
    return PersonPage(
        person=person, activation=person.activation,
        status=describe(person, person.activation, invite, now, zone),
        invite_expires=short_time(invite.expires_at, zone) if invite is not None and invite.superseded_at is None
        else "",
        manager_name=(f"{manager.display_name} ({manager.employee_id})" if manager is not None
                      else person.manager_employee_id or ""),
        timeline=timeline,
    )
