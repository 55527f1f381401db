"""Invites: a signed link to a random invite id; the row decides whether it is still valid."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, joinedload

from activation import audit
from activation.deps import Deps
from activation.errors import ActivationError
from activation.mail.message import MailDeliveryError
from activation.models import Activation, ActivationState, ActorType, HrStatus, Invite, Person
from activation.tokens import TokenInvalid, TokenService
from activation.window import format_date, format_local, reopen_if_closed, window_for, window_state

# States in which a fresh invite makes sense: not yet activated, not cancelled.
INVITABLE_STATES = frozenset({
    ActivationState.PENDING, ActivationState.INVITED, ActivationState.CODE_SENT, ActivationState.EXPIRED,
    ActivationState.VERIFIED, ActivationState.ENABLED,
})

# Every starter page starts with this query: built once, with a bound parameter (see codes.py).
_OPEN_INVITE = (select(Invite).options(joinedload(Invite.person).joinedload(Person.activation))
                .where(Invite.id == bindparam("invite_id")))


class InviteProblem(ActivationError):
    """The link cannot be used. `reason` picks the calm page: unknown, expired, superseded, used, cancelled."""

    def __init__(self, reason: str, person: Person | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.person = person


class InviteNotSent(ActivationError):
    def __init__(self, person: Person, reason: str, retry_after: float | None = None) -> None:
        super().__init__(f"{person.employee_id}: {reason}")
        self.person = person
        self.reason = reason
        self.retry_after = retry_after  # from a throttled mail service: when to try again


@dataclass(frozen=True)
class OpenInvite:
    invite: Invite
    person: Person
    activation: Activation


def token_service(deps: Deps) -> TokenService:
    return TokenService(deps.settings.secret_key, "invite")


def invite_link(deps: Deps, invite: Invite) -> str:
    return f"{deps.settings.portal.public_url.rstrip('/')}/a/{token_service(deps).dumps(invite.id)}"


def ensure_activation(session: Session, person: Person) -> Activation:
    if person.activation is None:
        person.activation = Activation(state=ActivationState.PENDING, failed_code_count=0, codes_sent=0)
        session.add(person.activation)
        session.flush()
    return person.activation


def issue(session: Session, deps: Deps, person: Person, actor: audit.Actor,
          context: audit.RequestContext = audit.NO_REQUEST, reason: str | None = None) -> Invite:
    """A new invite for `person`; every older one is superseded. Not committed, not sent."""
    now = deps.clock.now()
    session.execute(
        update(Invite)
        .where(Invite.person_id == person.id, Invite.superseded_at.is_(None), Invite.used_at.is_(None))
        .values(superseded_at=now)
        .execution_options(synchronize_session=False)
    )
    invite = Invite(
        id=secrets.token_urlsafe(24), person_id=person.id, issued_at=now,
        expires_at=now + timedelta(days=deps.settings.policy.invite_lifetime_days), issued_by=actor.id or "system",
    )
    session.add(invite)
    activation = ensure_activation(session, person)
    if activation.state in INVITABLE_STATES:
        activation.state = ActivationState.INVITED
        activation.resume_until = None
        activation.step_lease_until = None
    details = {"invite_expires_at": invite.expires_at.isoformat()}
    if actor.type is ActorType.STAFF:  # staff re-inviting someone whose window has closed reopen it
        reopened = reopen_if_closed(person, activation, deps.settings.policy, now)
        if reopened is not None:
            details["window_reopened_until"] = reopened.isoformat()
    deps.audit(session, action="invite.issued", actor=actor, person=person, context=context, reason=reason,
               details=details)
    return invite


def send(session: Session, deps: Deps, invite: Invite, person: Person, actor: audit.Actor,
         context: audit.RequestContext = audit.NO_REQUEST) -> None:
    """Email the invite to the personal address. Commits; raises InviteNotSent if the mail failed."""
    if not person.personal_email:
        raise InviteNotSent(person, "no personal email address in HR data")
    # Commit first: a mail backend may write through its own connection (the outbox does), and
    # SQLite allows one writer at a time.
    session.commit()
    window = window_for(person.start_date, person.time_zone, deps.settings.policy)
    email = deps.renderer.render(
        "invite", to=person.personal_email, given_name=person.preferred_name or person.given_name,
        link=invite_link(deps, invite), window_opens=window.describe_opening(),
        expires=format_local(invite.expires_at, window.time_zone), start_date=format_date(person.start_date),
    )
    try:
        deps.mailer.send(email)
    except MailDeliveryError as exc:
        deps.audit(session, action="invite.sent", actor=actor, person=person, outcome="failure",
                   reason=str(exc), context=context)
        if invite.sent_at is None:
            _undo_supersede(session, invite)
        session.commit()
        raise InviteNotSent(person, f"the email could not be sent ({exc})", exc.retry_after) from None
    invite.sent_at = deps.clock.now()
    deps.audit(session, action="invite.sent", actor=actor, person=person, context=context)
    session.commit()


def _undo_supersede(session: Session, invite: Invite) -> None:
    """A new invite that never reached the starter must not kill the link they already have."""
    session.execute(
        update(Invite)
        .where(Invite.person_id == invite.person_id, Invite.id != invite.id,
               Invite.superseded_at == invite.issued_at, Invite.sent_at.is_not(None))
        .values(superseded_at=None)
        .execution_options(synchronize_session=False)
    )
    invite.superseded_at = invite.issued_at


def open_invite(session: Session, deps: Deps, token: str, *, allow_completed: bool = False) -> OpenInvite:
    """Resolve a link to its invite, or raise InviteProblem. Changes nothing (mail scanners open links).

    `allow_completed` is for the optional password step right after the result page.
    """
    return open_invite_by_id(session, deps, invite_id_from_token(deps, token), allow_completed=allow_completed)


def invite_id_from_token(deps: Deps, token: str) -> str:
    """The invite a link names, checked by its signature alone: a forged link costs no database work."""
    try:
        return token_service(deps).loads(token)
    except TokenInvalid:
        raise InviteProblem("unknown") from None


def open_invite_by_id(session: Session, deps: Deps, invite_id: str, *, allow_completed: bool = False) -> OpenInvite:
    """open_invite once the link's signature has been checked (invite_id_from_token)."""
    # One query for the invite, its person and their activation: every starter page starts here.
    invite = session.scalars(_OPEN_INVITE, {"invite_id": invite_id}).first()
    if invite is None:
        raise InviteProblem("unknown")
    person = invite.person
    activation = person.activation
    if person.hr_status is HrStatus.TERMINATED or activation is None or activation.state is ActivationState.CANCELLED:
        raise InviteProblem("cancelled", person)
    if activation.state is ActivationState.COMPLETED:
        if allow_completed:
            return OpenInvite(invite, person, activation)
        raise InviteProblem("completed", person)
    if invite.superseded_at is not None:
        raise InviteProblem("superseded", person)
    if invite.used_at is not None:
        raise InviteProblem("used", person)
    if invite.expires_at <= deps.clock.now():
        raise InviteProblem("expired", person)
    return OpenInvite(invite, person, activation)


@dataclass(frozen=True)
class InviteRunReport:
    sent: list[str]
    failed: list[tuple[str, str]]
    skipped: list[tuple[str, str]]
    expired: list[str] = field(default_factory=list)


OPEN_STATES = (ActivationState.PENDING, ActivationState.INVITED, ActivationState.CODE_SENT,
               ActivationState.VERIFIED, ActivationState.ENABLED)


def expire_closed(session: Session, deps: Deps, *, dry_run: bool = False) -> list[str]:
    """Activations whose window has closed become `expired` (the desk can re-invite, which reopens it)."""
    now = deps.clock.now()
    latest_start = (now - timedelta(days=deps.settings.policy.activation_grace_days)).date()
    candidates = session.scalars(
        select(Person).join(Activation)
        .where(Activation.state.in_(OPEN_STATES), Person.start_date <= latest_start)
        .order_by(Person.employee_id)
    ).all()
    expired = [p for p in candidates if window_state(p, p.activation, deps.settings.policy, now) == "after"]
    if dry_run:
        return [p.employee_id for p in expired]
    for person in expired:
        previous = person.activation.state.value  # type: ignore[union-attr]
        person.activation.state = ActivationState.EXPIRED  # type: ignore[union-attr]
        deps.audit(session, action="activation.expired", actor=audit.Actor.system(), person=person,
                   reason="the activation window closed before the starter activated",
                   details={"previous_state": previous})
    session.commit()
    return [p.employee_id for p in expired]


def due_people(session: Session, deps: Deps, today_utc: datetime) -> list[Person]:
    """Active joiners starting within the lead time (or already started, within the window)."""
    policy = deps.settings.policy
    latest_start = (today_utc + timedelta(days=policy.invite_lead_days + 1)).date()
    earliest_start = (today_utc - timedelta(days=policy.activation_grace_days + 1)).date()
    query = (
        select(Person)
        .outerjoin(Activation)
        .where(Person.start_date <= latest_start, Person.start_date >= earliest_start)
        .where((Activation.id.is_(None)) | (Activation.state == ActivationState.PENDING))
        .order_by(Person.start_date, Person.employee_id)
    )
    return list(session.scalars(query))


def send_due(session: Session, deps: Deps, *, dry_run: bool = False) -> InviteRunReport:
    """Cron entry point: invite every eligible joiner exactly once and say why the others were not."""
    expired = expire_closed(session, deps, dry_run=dry_run)
    sent: list[str] = []
    failed: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    now = deps.clock.now()
    for person in due_people(session, deps, now):
        why_not = _why_not_invitable(person, deps, now)
        if why_not:
            skipped.append((person.employee_id, why_not))
            continue
        if dry_run:
            sent.append(person.employee_id)
            continue
        invite = issue(session, deps, person, audit.Actor.system())
        session.flush()
        try:
            send(session, deps, invite, person, audit.Actor.system())
        except InviteNotSent as exc:
            # Keep the activation pending so the next run tries again; the failure is audited.
            ensure_activation(session, person).state = ActivationState.PENDING
            invite.superseded_at = now
            session.commit()
            failed.append((person.employee_id, exc.reason))
            continue
        sent.append(person.employee_id)
    return InviteRunReport(sent, failed, skipped, expired)


def why_not_invitable(person: Person, deps: Deps, now: datetime) -> str | None:
    """Why `send_due` would skip this person now, or None when they can be invited."""
    return _why_not_invitable(person, deps, now)


def _why_not_invitable(person: Person, deps: Deps, now: datetime) -> str | None:
    if person.hr_status is HrStatus.TERMINATED:
        return "leaver: HR status is terminated"
    if person.end_date is not None and person.end_date < now.date():
        return "leaver: end date has passed"
    if not person.entra_object_id:
        return "no account yet: provisioning has not reported the Entra account (run `activation reconcile`)"
    if person.provisioning_error:
        return f"provisioning failed: {person.provisioning_error}"
    if not person.personal_email:
        return "no personal email address in HR data"
    if window_state(person, person.activation, deps.settings.policy, now) == "after":
        return "activation window has closed; the service desk can re-invite"
    return None
