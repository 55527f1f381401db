"""A lost Temporary Access Pass: the starter proves their personal email again and gets a new one.

The rule (DESIGN section 6), checked every time from live data:
- the activation is completed and its window (in the starter's time zone) is still open;
- the service desk has not revoked the pass (then the desk decides, after checking who is calling);
- no method is registered yet. Graph's authentication-methods listing is not wired in this build, so
  the rule applied is the one Graph already tells us: the pass we issued was never used to sign in
  (its `methodUsabilityReason` is not `OneTimeUsed`). A used one-time pass means someone signed in and
  may have registered a method, so the starter is sent to the desk instead. (A multi-use pass cannot be
  told apart; with `tap_usable_once = false` this check only sees a pass removed by Graph.)

A new pass replaces the old one (one TAP per user). Starting the path issues a new invite row (never
emailed: the browser moves to it) so the used link stays used, then emails a fresh code.
"""

from __future__ import annotations

import enum

from sqlalchemy import select
from sqlalchemy.orm import Session

from activation import audit, codes, invites
from activation.deps import Deps
from activation.errors import ActivationError
from activation.graph.auth_methods import STRONG_KINDS
from activation.graph.errors import GraphError, TokenError
from activation.models import ActivationState, AuditEvent, Person
from activation.window import window_state

PASS_EVENTS = ("tap.issued", "tap.reissued", "desk.revoke_tap")


class NewPass(enum.StrEnum):
    AVAILABLE = "available"  # the starter may verify again and get a new pass
    REVOKED = "revoked"  # the desk withdrew it: call the desk
    USED = "used"  # the pass was used to sign in: set-up goes on at My Security Info, or the desk helps
    REGISTERED = "registered"  # a passkey or Authenticator is registered: sign in with it, or ask the desk
    WINDOW_CLOSED = "window_closed"
    UNAVAILABLE = "unavailable"  # Graph could not be asked just now: try again later


class NewPassRefused(ActivationError):
    def __init__(self, status: NewPass) -> None:
        super().__init__(status.value)
        self.status = status


def revoked_by_desk(session: Session, person: Person) -> bool:
    """Is the newest pass event a successful desk revoke?"""
    latest = session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.person_id == person.id, AuditEvent.action.in_(PASS_EVENTS), AuditEvent.outcome == "success")
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(1)
    ).first()
    return latest == "desk.revoke_tap"


def status(session: Session, deps: Deps, person: Person) -> NewPass:
    """May this completed starter get a new pass by themselves now?"""
    activation = person.activation
    if activation is None or activation.completed_at is None:
        return NewPass.UNAVAILABLE
    if revoked_by_desk(session, person):
        return NewPass.REVOKED
    if window_state(person, activation, deps.settings.policy, deps.clock.now()) != "open":
        return NewPass.WINDOW_CLOSED
    if not person.entra_object_id:
        return NewPass.UNAVAILABLE
    if activation.credential_at is not None:  # the watcher already saw a passkey or Authenticator
        return NewPass.REGISTERED
    try:
        passes = deps.graph.list_taps(person.entra_object_id)
        methods = deps.graph.authentication_methods(person.entra_object_id)
    except (GraphError, TokenError):
        return NewPass.UNAVAILABLE
    if any(m.kind in STRONG_KINDS for m in methods):  # DESIGN 6: only while no method is registered yet
        return NewPass.REGISTERED
    if any(p.usability_reason == "OneTimeUsed" for p in passes):
        return NewPass.USED
    return NewPass.AVAILABLE


def start(session: Session, deps: Deps, opened: invites.OpenInvite, browser_id: str,
          context: audit.RequestContext = audit.NO_REQUEST) -> str:
    """Re-check the rule, email a fresh code, and return the token of the invite the browser moves to.

    Raises NewPassRefused, or what codes.request_code raises (cooldown, mail failure). Commits.
    """
    person = opened.person
    verdict = status(session, deps, person)
    if verdict is not NewPass.AVAILABLE or opened.activation.state is not ActivationState.COMPLETED:
        deps.audit(session, action="tap.lost_reported", actor=audit.Actor.starter(person.employee_id), person=person,
                   outcome="refused", reason=verdict.value, context=context)
        session.commit()
        raise NewPassRefused(verdict)
    codes.check_window(deps, opened)
    codes.check_cooldown(deps, opened.activation)
    invite = invites.issue(session, deps, person, audit.Actor.starter(person.employee_id), context,
                           reason="starter lost their Temporary Access Pass")  # handed to this browser, not emailed
    deps.audit(session, action="tap.lost_reported", actor=audit.Actor.starter(person.employee_id), person=person,
               context=context)
    session.commit()
    moved = invites.OpenInvite(invite, person, opened.activation)
    codes.request_code(session, deps, moved, browser_id, context, for_new_pass=True)
    return invites.token_service(deps).dumps(invite.id)
