"""Notices the starter can answer: after every desk action and every completed activation, the starter
(personal email) and the manager hear what happened, when and by whom (a role, never an agent's name),
with a signed, single-use "this wasn't me" link valid for `desk.notice_link_days`.

The link is itsdangerous over a random notice id with its own salt; the `starter_notice` row decides
validity (expiry, single use). Opening it (GET) changes nothing, because mail scanners open links;
pressing the button (POST) freezes the activation: the TAP is deleted, the account disabled and its
sessions revoked through Graph, the activation locked for the desk, and all of it audited.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from activation import audit
from activation.deps import Deps
from activation.graph.errors import GraphError, NotFound, TokenError
from activation.mail.message import MailDeliveryError
from activation.models import ActivationState, Invite, OtpChallenge, Person, StarterNotice
from activation.tokens import TokenInvalid, TokenService
from activation.window import format_local, zone_for

logger = logging.getLogger(__name__)

ACTIVATED = "activation.completed"
EVENT_WORDS = {
    "unlock": "unlock the activation of the work account",
    "resend-invite": "send a new activation link",
    "reset": "reset the activation and send a new link",
    "new-tap": "issue a new Temporary Access Pass",
    "revoke-tap": "revoke the Temporary Access Pass",
    "cancel": "cancel the activation",
}
_STARTER_WHAT = {
    "unlock": ("Your account activation was unlocked", "Your work account activation was unlocked, so new codes "
               "can be requested with your activation link."),
    "resend-invite": ("A new activation link was sent", "A new activation link for your work account was sent to "
                      "this address. Earlier links no longer work."),
    "reset": ("Your account activation was reset", "Your work account activation was reset and a new activation "
              "link was sent to this address."),
    "new-tap": ("A new Temporary Access Pass was issued", "A new Temporary Access Pass was issued for your work "
                "account."),
    "revoke-tap": ("Your Temporary Access Pass was revoked", "The Temporary Access Pass for your work account was "
                   "revoked: it can no longer be used to sign in."),
    "cancel": ("Your account activation was cancelled", "The activation of your work account was cancelled: "
               "the activation link no longer works."),
    ACTIVATED: ("Your work account was activated", "Your work account was activated and a Temporary Access Pass "
                "was issued to sign in for the first time."),
}
_ACTIVATED_BY = ("the activation page, after a code sent to this address", "the starter, on the activation page")
FROZEN_REASON = "the starter reported “this wasn't me”: check with them before unlocking"


class NoticeLinkInvalid(TokenInvalid):
    """Tampered, unknown, expired or already used: every case gets the same calm page."""


@dataclass(frozen=True)
class FreezeResult:
    graph_complete: bool  # False when a Graph step failed (the desk sees which one)


def token_service(deps: Deps) -> TokenService:
    return TokenService(deps.settings.secret_key, "wasnt-me")


def after_desk_action(session: Session, deps: Deps, person: Person, action: str) -> int:
    return _notify(session, deps, person, action, starter_by="the IT service desk, on request",
                   manager_by="a service desk agent, on request")


def new_notice(deps: Deps, person: Person, event: str) -> StarterNotice:
    """A notice row for one recipient (not yet added to a session); its link is `link_to(deps, notice)`."""
    now = deps.clock.now()
    return StarterNotice(id=secrets.token_urlsafe(24), person_id=person.id, event=event, created_at=now,
                         expires_at=now + timedelta(days=deps.settings.desk.notice_link_days))


def link_to(deps: Deps, notice: StarterNotice) -> str:
    return f"{deps.settings.portal.public_url.rstrip('/')}/not-me/{token_service(deps).dumps(notice.id)}"


def check_link(session: Session, deps: Deps, token: str) -> StarterNotice:
    """The live notice behind a link, or NoticeLinkInvalid. Reads only."""
    try:
        notice_id = token_service(deps).loads(token)
    except TokenInvalid:
        raise NoticeLinkInvalid("notice link invalid") from None
    notice = session.get(StarterNotice, notice_id)
    if notice is None or notice.used_at is not None or notice.expires_at <= deps.clock.now():
        raise NoticeLinkInvalid("notice link expired or used")
    return notice


def freeze(session: Session, deps: Deps, token: str, context: audit.RequestContext = audit.NO_REQUEST) -> FreezeResult:
    """The starter (or manager) pressed "this wasn't me". Single use; commits; never says whose account."""
    notice = check_link(session, deps, token)
    now = deps.clock.now()
    taken = session.execute(
        update(StarterNotice).where(StarterNotice.id == notice.id, StarterNotice.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    if not taken:
        raise NoticeLinkInvalid("notice link already used")
    person = session.get(Person, notice.person_id)
    assert person is not None  # the row cascades with the person
    failed = _freeze_in_entra(deps, person)
    activation = person.activation
    if activation is not None:
        session.execute(update(OtpChallenge).where(OtpChallenge.activation_id == activation.id,
                                                   OtpChallenge.consumed_at.is_(None),
                                                   OtpChallenge.superseded_at.is_(None))
                        .values(superseded_at=now).execution_options(synchronize_session=False))
        if activation.state is not ActivationState.CANCELLED:  # a cancelled one stays cancelled
            activation.state = ActivationState.LOCKED
        activation.lock_reason = FROZEN_REASON
        activation.frozen_at = now
        activation.tap_method_id = None
        activation.tap_expires_at = None
        activation.resume_until = None
        if failed:
            activation.failure_reason = f"after “this wasn't me”, Graph did not complete: {', '.join(failed)}"
    session.execute(update(Invite).where(Invite.person_id == person.id, Invite.superseded_at.is_(None),
                                         Invite.used_at.is_(None))
                    .values(superseded_at=now).execution_options(synchronize_session=False))
    if not failed:
        person.account_enabled = False
    deps.audit(session, action="activation.frozen", actor=audit.Actor.starter(person.employee_id), person=person,
               outcome="success" if not failed else "failure", reason=FROZEN_REASON, context=context,
               details={"notice_event": notice.event, "graph_failed": failed})
    session.commit()
    logger.warning("activation for %s frozen after a \"this wasn't me\" link", person.employee_id)
    return FreezeResult(graph_complete=not failed)


def _freeze_in_entra(deps: Deps, person: Person) -> list[str]:
    """Delete the TAP, disable the account, revoke sessions. Each step tried; failures named, not raised."""
    user_id = person.entra_object_id
    if not user_id:
        return []
    failed: list[str] = []
    try:
        for tap in deps.graph.list_taps(user_id):
            deps.graph.delete_tap(user_id, tap.id)
    except NotFound:
        pass
    except (GraphError, TokenError):
        failed.append("delete the Temporary Access Pass")
    for step, call in (("disable the account", deps.graph.disable_user),
                       ("revoke sign-in sessions", deps.graph.revoke_sessions)):
        try:
            call(user_id)
        except (GraphError, TokenError):
            failed.append(step)
    return failed


@dataclass(frozen=True)
class PendingNotice:
    """A notice row added to the session, waiting for its email (sent by `send_notices` after the commit)."""

    notice: StarterNotice
    address: str
    greeting_name: str
    by_whom: str
    for_manager: bool
    time_zone: str | None


def prepare_after_activation(session: Session, deps: Deps, person: Person, *,
                             manager_too: bool = True) -> list[PendingNotice]:
    """The notice rows after a completed activation, added to the caller's transaction (the one that
    completes it); once it commits, `send_notices(..., ACTIVATED, pending)` emails them. `manager_too=False`
    when the manager's queued "has activated" email carries their link instead."""
    return _prepare(session, deps, person, ACTIVATED, starter_by=_ACTIVATED_BY[0], manager_by=_ACTIVATED_BY[1],
                    manager_too=manager_too)


def _prepare(session: Session, deps: Deps, person: Person, event: str, *, starter_by: str,
             manager_by: str, manager_too: bool = True) -> list[PendingNotice]:
    manager = None
    if manager_too and person.manager_employee_id:
        manager = session.scalars(select(Person).where(Person.employee_id == person.manager_employee_id)).first()
    pending = []
    if person.personal_email:
        pending.append(PendingNotice(new_notice(deps, person, event), person.personal_email,
                                     person.preferred_name or person.given_name, starter_by, False, person.time_zone))
    if manager is not None and manager.upn:
        pending.append(PendingNotice(new_notice(deps, person, event), manager.upn,
                                     manager.preferred_name or manager.given_name, manager_by, True,
                                     manager.time_zone))
    session.add_all([p.notice for p in pending])
    return pending


def _notify(session: Session, deps: Deps, person: Person, event: str, *, starter_by: str, manager_by: str) -> int:
    """Send the starter's and the manager's notice; best effort (a mail failure is audited). Returns sent."""
    pending = _prepare(session, deps, person, event, starter_by=starter_by, manager_by=manager_by)
    session.commit()  # no write transaction stays open while the mail goes (the outbox writes too)
    return send_notices(session, deps, person, event, pending)


def send_notices(session: Session, deps: Deps, person: Person, event: str, pending: list[PendingNotice]) -> int:
    """Email notices whose rows are committed; audit each (best effort). Returns how many were sent."""
    what_short, what = _STARTER_WHAT.get(event, ("Something changed on your account", "Your work account changed."))
    now = deps.clock.now()
    outcomes: list[tuple[str, dict[str, str]]] = []  # audited after the last mail: no write is open while mail goes
    for item in pending:
        manager_what = f"On {person.display_name}'s new work account: {what[0].lower()}{what[1:]}"
        email = deps.renderer.render(
            "account_notice", to=item.address, greeting_name=item.greeting_name, what_short=what_short,
            what=manager_what if item.for_manager else what, starter_name=person.display_name,
            when=format_local(now, zone_for(item.time_zone, deps.settings.policy).key), by_whom=item.by_whom,
            for_manager=item.for_manager, wasnt_me_link=link_to(deps, item.notice),
            link_days=deps.settings.desk.notice_link_days,
        )
        to = "manager" if item.for_manager else "starter"
        try:
            deps.mailer.send(email)
        except MailDeliveryError as exc:
            outcomes.append(("failure", {"event": event, "to": to, "error": type(exc).__name__}))
        else:
            outcomes.append(("success", {"event": event, "to": to}))
    for outcome, details in outcomes:
        deps.audit(session, action="notice.sent", actor=audit.Actor.system(), person=person, outcome=outcome,
                   details=details)
    if pending:
        session.commit()
    return sum(outcome == "success" for outcome, _ in outcomes)
