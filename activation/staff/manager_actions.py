"""Managers: "My new starters" and resending an invite, for their own reports only (from HR data)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from activation import audit, invites
from activation.deps import Deps
from activation.errors import ActivationError, StateError
from activation.masking import mask_email
from activation.models import HrStatus, Invite, Person
from activation.staff import access, directory
from activation.staff.auth import StaffMember
from activation.staff.status_words import StateInWords, describe, latest_invite, short_time
from activation.window import format_date

RESEND_COOLDOWN = timedelta(minutes=5)
RECENT_START_DAYS = 90
MAX_REPORTS = 500


class ResendCooldown(ActivationError):
    def __init__(self, minutes_left: int) -> None:
        super().__init__(f"wait {minutes_left} min")
        self.minutes_left = minutes_left


class ResendFailed(ActivationError):
    """The email could not be sent; the failure is audited."""


@dataclass(frozen=True)
class StarterRow:
    person_id: int
    employee_id: str
    name: str
    start_date: str
    status: StateInWords
    masked_email: str
    can_resend: bool
    resend_wait_minutes: int = 0  # > 0: an invite went out moments ago; resend possible after that
    resend_after: str = ""  # when, in the manager's time zone
    on_premises: bool = False  # mastered in on-premises AD: the service desk switches it on


@dataclass(frozen=True)
class MyStarters:
    known_manager: bool  # False: no HR record carries this user's object id
    rows: list[StarterRow]


@dataclass(frozen=True)
class InviteResent:
    name: str
    masked_email: str


def _zone(session: Session, deps: Deps, member: StaffMember) -> str:
    me = access.signed_in_person(session, member)
    return (me.time_zone if me is not None else None) or deps.settings.policy.default_time_zone


def _row(session: Session, deps: Deps, person: Person, zone: str) -> StarterRow:
    invite = latest_invite(session, person.id)
    now = deps.clock.now()
    status = describe(person, person.activation, invite, now, zone)
    activated = person.activation is not None and person.activation.completed_at is not None
    on_prem = not activated and bool(directory.on_premises_mastered(session, deps, person.entra_object_id))
    wait = cooldown_minutes(invite, now)
    return StarterRow(
        person_id=person.id, employee_id=person.employee_id, name=person.display_name,
        start_date=format_date(person.start_date), status=status,
        masked_email=mask_email(person.personal_email) if person.personal_email else "none on record",
        can_resend=_resendable(person) and not on_prem and wait == 0,
        resend_wait_minutes=wait if _resendable(person) and not on_prem else 0,
        resend_after=short_time(invite.issued_at + RESEND_COOLDOWN, zone) + f" {zone}" if invite and wait else "",
        on_premises=on_prem,
    )


def cooldown_minutes(invite: Invite | None, now: datetime) -> int:
    """Whole minutes (rounded up) until a manager may resend; 0 when they may now."""
    if invite is None or invite.issued_at + RESEND_COOLDOWN <= now:
        return 0
    return math.ceil((invite.issued_at + RESEND_COOLDOWN - now).total_seconds() / 60)


def about_minutes(minutes: int) -> str:
    """`in about 1 minute`, `in about 4 minutes`."""
    return f"in about {minutes} minute" + ("" if minutes == 1 else "s")


def _resendable(person: Person) -> bool:
    state = person.activation.state if person.activation is not None else None
    return (person.hr_status is HrStatus.ACTIVE and bool(person.entra_object_id) and bool(person.personal_email)
            and state in invites.INVITABLE_STATES)


def my_starters(session: Session, deps: Deps, member: StaffMember) -> MyStarters:
    """The signed-in manager's recent and upcoming joiners, soonest start first."""
    mine = access.manager_employee_id(session, deps, member)
    if mine is None:
        return MyStarters(False, [])
    since: date = deps.clock.now().date() - timedelta(days=RECENT_START_DAYS)
    people = session.scalars(
        select(Person).where(Person.manager_employee_id == mine, Person.start_date >= since)
        .order_by(Person.start_date, Person.display_name).limit(MAX_REPORTS)
    ).all()
    zone = _zone(session, deps, member)
    return MyStarters(True, [_row(session, deps, person, zone) for person in people])


def resend_preview(session: Session, deps: Deps, member: StaffMember, person_id: int,
                   context: audit.RequestContext = audit.NO_REQUEST) -> StarterRow:
    """What the confirmation page shows; the same access check as the action."""
    person = access.report_of(session, deps, member, person_id, "manager.resend_invite", context)
    return _row(session, deps, person, _zone(session, deps, member))


def resend_invite(session: Session, deps: Deps, member: StaffMember, person_id: int,
                  context: audit.RequestContext = audit.NO_REQUEST) -> InviteResent:
    """A new invite (the old one superseded) emailed to the report's personal address. Commits."""
    person = access.report_of(session, deps, member, person_id, "manager.resend_invite", context)
    action = "manager.resend_invite"
    if not _resendable(person):
        deps.audit(session, action=action, actor=member.actor, person=person, outcome="refused",
                   reason="not resendable: already activated, cancelled, or no account or personal email yet",
                   context=context)
        session.commit()
        raise StateError("this invite cannot be resent now")
    latest = latest_invite(session, person.id)
    now = deps.clock.now()
    left = cooldown_minutes(latest, now)
    if left:
        deps.audit(session, action=action, actor=member.actor, person=person, outcome="refused",
                   reason="cooldown", context=context)
        session.commit()
        raise ResendCooldown(left)
    invite = invites.issue(session, deps, person, member.actor, context, reason="resent by manager")
    session.flush()
    try:
        invites.send(session, deps, invite, person, member.actor, context)
    except invites.InviteNotSent:
        deps.audit(session, action=action, actor=member.actor, person=person, outcome="failure",
                   reason="email could not be sent", context=context)
        session.commit()
        raise ResendFailed() from None
    deps.audit(session, action=action, actor=member.actor, person=person, reason="resent by manager",
               context=context)
    session.commit()
    return InviteResent(person.display_name, mask_email(person.personal_email or ""))
