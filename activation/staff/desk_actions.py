"""Service desk actions on one activation. Each needs the role, a reason, and writes an audit event.

The desk never sees a code or a Temporary Access Pass: these actions only supersede, delete or re-issue.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from activation import audit, invites, notices
from activation.deps import Deps
from activation.errors import ActivationError, StateError
from activation.graph.errors import GraphError, TokenError
from activation.models import Activation, ActivationState, HrStatus, Invite, OtpChallenge, Person
from activation.staff import access
from activation.staff.auth import StaffMember
from activation.staff.status_words import StateInWords, describe, latest_invite
from activation.staff.verification import Clearance, needs_verification
from activation.window import reopen_if_closed, zone_for

REASON_MIN_LENGTH = 5
REASON_MAX_LENGTH = 500


class DeskAction(enum.StrEnum):
    UNLOCK = "unlock"
    RESEND_INVITE = "resend-invite"
    REVOKE_TAP = "revoke-tap"
    RESET = "reset"
    CANCEL = "cancel"


AUDIT_ACTIONS = {
    DeskAction.UNLOCK: "desk.unlock", DeskAction.RESEND_INVITE: "desk.resend_invite",
    DeskAction.REVOKE_TAP: "desk.revoke_tap", DeskAction.RESET: "desk.reset", DeskAction.CANCEL: "desk.cancel",
}


class ActionRefused(StateError):
    """The action does not apply to this activation now; `why` is shown to the agent."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class VerificationRequired(ActionRefused):
    """An account-handing action reached perform() without a cleared request (activation.staff.approvals)."""


class InvalidReason(ActivationError):
    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class ActionFailed(ActivationError):
    """An outside system failed (Graph, mail). `done` says whether our own change was made anyway."""

    def __init__(self, why: str, done: bool) -> None:
        super().__init__(why)
        self.why = why
        self.done = done


@dataclass(frozen=True)
class ActionPreview:
    person_id: int
    employee_id: str
    name: str
    status: StateInWords
    refused_because: str | None


@dataclass(frozen=True)
class ActionDone:
    message: str


def check_reason(reason: str) -> str:
    reason = " ".join(reason.split())
    if len(reason) < REASON_MIN_LENGTH:
        raise InvalidReason(f"Give a reason of at least {REASON_MIN_LENGTH} characters.")
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidReason(f"Keep the reason under {REASON_MAX_LENGTH} characters.")
    return reason


def _state(person: Person) -> ActivationState:
    return person.activation.state if person.activation is not None else ActivationState.PENDING


def why_not(action: DeskAction, person: Person) -> str | None:
    """None when the action applies to this person's activation now, else a plain explanation."""
    state = _state(person)
    can_mail = person.hr_status is HrStatus.ACTIVE and person.entra_object_id and person.personal_email
    if action is DeskAction.UNLOCK and state not in (ActivationState.LOCKED, ActivationState.FAILED):
        return "Only a locked or failed activation can be unlocked."
    if action is DeskAction.RESEND_INVITE:
        if state not in invites.INVITABLE_STATES:
            return "An invite can only be resent before activation (unlock a locked one first)."
        if not can_mail:
            return "No account or personal email on record, or HR says this person has left."
    if action is DeskAction.REVOKE_TAP and not person.entra_object_id:
        return "There is no Entra account on record for this person."
    if action is DeskAction.RESET:
        if state is ActivationState.CANCELLED:
            return "The activation is cancelled."
        if not can_mail:
            return "No account or personal email on record, or HR says this person has left."
    if action is DeskAction.CANCEL and state in (ActivationState.CANCELLED, ActivationState.COMPLETED):
        return "The activation is already finished or cancelled."
    return None


def preview(session: Session, deps: Deps, member: StaffMember, person_id: int, action: DeskAction,
            context: audit.RequestContext = audit.NO_REQUEST) -> ActionPreview:
    person = access.desk_person(session, deps, member, person_id, AUDIT_ACTIONS[action], context)
    zone = zone_for(person.time_zone, deps.settings.policy).key
    status = describe(person, person.activation, latest_invite(session, person.id), deps.clock.now(), zone,
                      for_desk=True)
    return ActionPreview(person.id, person.employee_id, person.display_name, status, why_not(action, person))


def perform(session: Session, deps: Deps, member: StaffMember, person_id: int, action: DeskAction, reason: str,
            *, new_invite: bool = False, context: audit.RequestContext = audit.NO_REQUEST,
            clearance: Clearance | None = None) -> ActionDone:
    """Run one desk action after the role check, the reason check and the state guard. Commits.

    Actions that can hand over an account also need the `clearance` that only
    `activation.staff.approvals` gives, once the caller is verified (and a second agent agreed).
    """
    audit_action = AUDIT_ACTIONS[action]
    person = access.desk_person(session, deps, member, person_id, audit_action, context)
    reason = check_reason(reason)
    refused = why_not(action, person)
    if refused:
        deps.audit(session, action=audit_action, actor=member.actor, person=person, outcome="refused",
                   reason=reason, context=context, details={"refused": refused})
        session.commit()
        raise ActionRefused(refused)
    if needs_verification(action.value) and (
        clearance is None or (clearance.person_id, clearance.action) != (person.id, action.value)
    ):
        deps.audit(session, action=audit_action, actor=member.actor, person=person, outcome="refused",
                   reason=reason, context=context, details={"refused": "no verification of the caller"})
        session.commit()
        raise VerificationRequired("Verify the caller first: this action can hand over an account.")
    steps: dict[DeskAction, Callable[..., ActionDone]] = {
        DeskAction.UNLOCK: _unlock, DeskAction.RESEND_INVITE: _resend_invite, DeskAction.REVOKE_TAP: _revoke_tap,
        DeskAction.RESET: _reset, DeskAction.CANCEL: _cancel,
    }
    try:
        done = steps[action](session, deps, member, person, reason, new_invite, context)
    except ActionFailed as failed:
        if failed.done:
            notices.after_desk_action(session, deps, person, action.value)
        raise
    except StaleDataError:
        session.rollback()
        raise ActionRefused("Someone else changed this activation a moment ago. Reload and try again.") from None
    notices.after_desk_action(session, deps, person, action.value)  # issue 16: starter and manager hear of it
    return done


def _close_codes(session: Session, activation: Activation, now: datetime) -> None:
    session.execute(
        update(OtpChallenge)
        .where(OtpChallenge.activation_id == activation.id, OtpChallenge.consumed_at.is_(None),
               OtpChallenge.superseded_at.is_(None))
        .values(superseded_at=now).execution_options(synchronize_session=False)
    )


def _back_to_invited(session: Session, activation: Activation, now: datetime) -> None:
    _close_codes(session, activation, now)
    activation.state = ActivationState.INVITED
    activation.failed_code_count = 0
    activation.lock_reason = None
    activation.failure_reason = None
    activation.last_code_sent_at = None
    activation.resume_until = None
    activation.step_lease_until = None


def _valid_invite(session: Session, deps: Deps, person: Person) -> Invite | None:
    invite = latest_invite(session, person.id)
    if invite is None or invite.superseded_at or invite.used_at or invite.expires_at <= deps.clock.now():
        return None
    return invite


def _send_new_invite(session: Session, deps: Deps, member: StaffMember, person: Person, reason: str,
                     context: audit.RequestContext) -> None:
    """Issue (superseding the old one) and email; our own changes are committed before the mail goes."""
    invite = invites.issue(session, deps, person, member.actor, context, reason=reason)
    session.flush()
    try:
        invites.send(session, deps, invite, person, member.actor, context)
    except invites.InviteNotSent:
        raise ActionFailed("Done, but the invite email could not be sent. Try “Resend invite” shortly.",
                           done=True) from None


def _unlock(session: Session, deps: Deps, member: StaffMember, person: Person, reason: str, new_invite: bool,
            context: audit.RequestContext) -> ActionDone:
    activation = invites.ensure_activation(session, person)
    if not new_invite and _valid_invite(session, deps, person) is None:
        why = "The current invite is no longer valid: choose to send a new invite."
        deps.audit(session, action="desk.unlock", actor=member.actor, person=person, outcome="refused",
                   reason=reason, context=context, details={"refused": why})
        session.commit()
        raise ActionRefused(why)
    _back_to_invited(session, activation, deps.clock.now())
    details = {"invite": "new" if new_invite else "kept"}
    reopened = reopen_if_closed(person, activation, deps.settings.policy, deps.clock.now())
    if reopened is not None:
        details["window_reopened_until"] = reopened.isoformat()
    deps.audit(session, action="desk.unlock", actor=member.actor, person=person, reason=reason, context=context,
               details=details)
    if new_invite:
        _send_new_invite(session, deps, member, person, reason, context)
        return ActionDone("Unlocked. A new invite is on its way; the old link no longer works.")
    session.commit()
    return ActionDone("Unlocked. The starter can use their current invite link to ask for a new code.")


def _resend_invite(session: Session, deps: Deps, member: StaffMember, person: Person, reason: str,
                   new_invite: bool, context: audit.RequestContext) -> ActionDone:
    deps.audit(session, action="desk.resend_invite", actor=member.actor, person=person, reason=reason,
               context=context)
    _send_new_invite(session, deps, member, person, reason, context)
    return ActionDone("A new invite is on its way; the old link no longer works.")


def _reset(session: Session, deps: Deps, member: StaffMember, person: Person, reason: str, new_invite: bool,
           context: audit.RequestContext) -> ActionDone:
    activation = invites.ensure_activation(session, person)
    previous = activation.state.value
    _back_to_invited(session, activation, deps.clock.now())
    activation.verified_at = None
    deps.audit(session, action="desk.reset", actor=member.actor, person=person, reason=reason, context=context,
               details={"previous_state": previous})
    _send_new_invite(session, deps, member, person, reason, context)
    return ActionDone("The activation is back at “invited” and a new invite is on its way.")


def _cancel(session: Session, deps: Deps, member: StaffMember, person: Person, reason: str, new_invite: bool,
            context: audit.RequestContext) -> ActionDone:
    now = deps.clock.now()
    activation = invites.ensure_activation(session, person)
    previous = activation.state.value
    _close_codes(session, activation, now)
    session.execute(
        update(Invite).where(Invite.person_id == person.id, Invite.superseded_at.is_(None), Invite.used_at.is_(None))
        .values(superseded_at=now).execution_options(synchronize_session=False)
    )
    activation.state = ActivationState.CANCELLED
    activation.resume_until = None
    activation.step_lease_until = None
    deps.audit(session, action="desk.cancel", actor=member.actor, person=person, reason=reason, context=context,
               details={"previous_state": previous})
    session.commit()
    return ActionDone("The activation is cancelled; the invite link no longer works.")


def _revoke_tap(session: Session, deps: Deps, member: StaffMember, person: Person, reason: str, new_invite: bool,
                context: audit.RequestContext) -> ActionDone:
    user_id = person.entra_object_id or ""
    try:
        methods = deps.graph.list_taps(user_id)
        for method in methods:
            deps.graph.delete_tap(user_id, method.id)
    except (GraphError, TokenError) as exc:
        deps.audit(session, action="desk.revoke_tap", actor=member.actor, person=person, outcome="failure",
                   reason=reason, context=context, details={"error": type(exc).__name__})
        session.commit()
        raise ActionFailed("Microsoft Graph did not complete the request. Try again in a minute.", done=False) from None
    if person.activation is not None:
        person.activation.tap_method_id = None
        person.activation.tap_expires_at = None
    deps.audit(session, action="desk.revoke_tap", actor=member.actor, person=person, reason=reason,
               context=context, details={"methods_removed": len(methods)})
    session.commit()
    if not methods:
        return ActionDone("There was no Temporary Access Pass to revoke.")
    return ActionDone("The Temporary Access Pass is revoked; it can no longer be used to sign in.")
