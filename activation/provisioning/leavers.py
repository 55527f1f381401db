"""What happens to a leaver besides `active: false`: no way back in through us, and no live sessions or TAP.

Local steps (supersede open invites, cancel the activation) are committed before any Graph call, so
a Graph outage never leaves a leaver with a usable invite. Graph steps (revoke sessions, delete any
Temporary Access Pass) are each audited; a failure is reported to the operator, never fatal to the run.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from activation.audit import Actor
from activation.deps import Deps
from activation.graph.errors import GraphError
from activation.models import ActivationState, HrStatus, Invite, Person

LEAVER_REASON = "leaver: HR status is terminated or the end date has passed"


@dataclass(frozen=True, slots=True)
class LeaverIssue:
    employee_id: str
    step: str  # "find account", "revoke sessions", "delete TAP"
    error: str  # Graph's error text (never a secret)


@dataclass(frozen=True, slots=True)
class LeaverOutcome:
    employee_id: str
    invites_superseded: int
    activation_cancelled: bool
    sessions_revoked: bool
    taps_deleted: int
    issues: tuple[LeaverIssue, ...] = ()


def offboard_leavers(
    session: Session, deps: Deps, employee_ids: list[str], *, actor: Actor, run_id: int
) -> list[LeaverOutcome]:
    """Offboard every listed person we store; commits after each person."""
    outcomes = []
    for start in range(0, len(employee_ids), 500):
        chunk = employee_ids[start:start + 500]
        people = session.scalars(
            select(Person).where(Person.employee_id.in_(chunk)).options(selectinload(Person.activation))
        ).all()
        for person in people:
            outcomes.append(offboard(session, deps, person, actor=actor, run_id=run_id))
    return outcomes


def offboard(session: Session, deps: Deps, person: Person, *, actor: Actor, run_id: int) -> LeaverOutcome:
    now = deps.clock.now()
    details = {"run_id": run_id}
    superseded = session.execute(
        update(Invite)
        .where(Invite.person_id == person.id, Invite.superseded_at.is_(None), Invite.used_at.is_(None))
        .values(superseded_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount or 0
    if superseded:
        deps.audit(session, action="invite.superseded", actor=actor, person=person, reason=LEAVER_REASON,
                   details={**details, "invites": superseded})
    activation = person.activation
    cancelled = False
    if activation is not None and activation.state is not ActivationState.CANCELLED:
        previous = activation.state.value
        activation.state = ActivationState.CANCELLED
        activation.resume_until = activation.step_lease_until = None
        cancelled = True
        deps.audit(session, action="activation.cancelled", actor=actor, person=person, reason=LEAVER_REASON,
                   details={**details, "previous_state": previous})
    session.commit()

    issues: list[LeaverIssue] = []
    revoked, deleted = False, 0
    object_id = _account_id(deps, person, issues)
    if object_id:
        revoked = _revoke_sessions(session, deps, person, object_id, actor, details, issues)
        deleted = _delete_taps(session, deps, person, object_id, actor, details, issues)
    person.offboarding_issue = "; ".join(f"{i.step}: {i.error}" for i in issues)[:2000] or None
    session.commit()
    return LeaverOutcome(person.employee_id, superseded, cancelled, revoked, deleted, tuple(issues))


def retry_offboarding(session: Session, deps: Deps, *, actor: Actor, limit: int = 200) -> list[LeaverOutcome]:
    """Leavers whose Graph clean-up failed earlier (revoke sessions, delete TAP): try again. Commits."""
    people = session.scalars(
        select(Person).where(Person.offboarding_issue.is_not(None), Person.hr_status == HrStatus.TERMINATED)
        .options(selectinload(Person.activation)).order_by(Person.id).limit(limit)
    ).all()
    return [offboard(session, deps, person, actor=actor, run_id=0) for person in people]


def _account_id(deps: Deps, person: Person, issues: list[LeaverIssue]) -> str | None:
    """The leaver's Entra object id: from reconciliation, else looked up by employeeId."""
    if person.entra_object_id:
        return person.entra_object_id
    try:
        user = deps.graph.find_user_by_employee_id(person.employee_id)
    except GraphError as exc:
        issues.append(LeaverIssue(person.employee_id, "find account", str(exc)))
        return None
    return user.id if user is not None else None


def _revoke_sessions(session: Session, deps: Deps, person: Person, object_id: str, actor: Actor,
                     details: dict[str, int], issues: list[LeaverIssue]) -> bool:
    try:
        deps.graph.revoke_sessions(object_id)
    except GraphError as exc:
        issues.append(LeaverIssue(person.employee_id, "revoke sessions", str(exc)))
        deps.audit(session, action="account.sessions_revoked", actor=actor, person=person, outcome="failure",
                   reason=str(exc), details=details)
        return False
    deps.audit(session, action="account.sessions_revoked", actor=actor, person=person, reason=LEAVER_REASON,
               details=details)
    return True


def _delete_taps(session: Session, deps: Deps, person: Person, object_id: str, actor: Actor,
                 details: dict[str, int], issues: list[LeaverIssue]) -> int:
    try:
        taps = deps.graph.list_taps(object_id)
    except GraphError as exc:
        issues.append(LeaverIssue(person.employee_id, "delete TAP", str(exc)))
        deps.audit(session, action="tap.deleted", actor=actor, person=person, outcome="failure",
                   reason=str(exc), details=details)
        return 0
    deleted = 0
    for tap in taps:
        try:
            deps.graph.delete_tap(object_id, tap.id)
        except GraphError as exc:
            issues.append(LeaverIssue(person.employee_id, "delete TAP", str(exc)))
            deps.audit(session, action="tap.deleted", actor=actor, person=person, outcome="failure",
                       reason=str(exc), details={**details, "method_id": tap.id})
            continue
        deleted += 1
        deps.audit(session, action="tap.deleted", actor=actor, person=person, reason=LEAVER_REASON,
                   details={**details, "method_id": tap.id})
    if deleted and person.activation is not None:
        person.activation.tap_method_id = None
        person.activation.tap_expires_at = None
    return deleted
