"""Account-handing desk actions as requests: verified caller, second agent, manager approval, then run.

`request_action` records the verification the agent made (callback, ID check) or asks the manager
(manager approval, by email; the action waits). Privileged people, and everyone in threat mode, need
a second desk agent. Nobody approves their own request or acts on their own account. When every
condition holds the request runs exactly once (compare-and-set on its status) through
`desk_actions.perform` with a `Clearance`, then the starter and the manager get a notice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from activation import audit, notices
from activation.deps import Deps
from activation.errors import ActivationError
from activation.mail.message import MailDeliveryError
from activation.models import DeskRequest, Person
from activation.staff import access, desk_actions, threat_mode, verification
from activation.staff.auth import DESK_ROLE, StaffMember
from activation.staff.desk_actions import DeskAction
from activation.staff.verification import Clearance, Method

logger = logging.getLogger(__name__)

PENDING, RUNNING, DONE, FAILED, DECLINED, EXPIRED = "pending", "running", "done", "failed", "declined", "expired"
MAX_LISTED = 100


class RequestRefused(ActivationError):
    """The request cannot be made or approved; `why` is shown to the staff member."""

    def __init__(self, why: str, status: int = 409) -> None:
        super().__init__(why)
        self.why = why
        self.status = status


@dataclass(frozen=True)
class RequestView:
    id: int
    person_id: int
    employee_id: str
    person_name: str
    action: str
    reason: str
    method: str
    reference: str | None
    requested_by: str
    requested_at: datetime
    expires_at: datetime
    status: str
    waiting_for: tuple[str, ...]  # "the manager", "a second agent"
    second_reason: str | None
    outcome: str | None

    @property
    def verified_by(self) -> str:
        """How the caller was verified, in the words of the form the agent filled in."""
        return verification.VERIFIED_WORDS.get(self.method, self.method.replace("_", " "))


def _view(request: DeskRequest, person: Person) -> RequestView:
    waiting: list[str] = []
    if request.status == PENDING:
        if request.verified_at is None:
            waiting.append("the manager")
        if request.needs_second_agent and request.second_at is None:
            waiting.append("a second agent")
    return RequestView(request.id, person.id, person.employee_id, person.display_name, request.action,
                       request.reason, request.method, request.reference, request.requested_by, request.requested_at,
                       request.expires_at, request.status, tuple(waiting), request.second_reason, request.outcome)


def request_action(session: Session, deps: Deps, member: StaffMember, person_id: int, action: DeskAction,
                   reason: str, *, method: str, called_back: bool = False, reference: str | None = None,
                   new_invite: bool = False, context: audit.RequestContext = audit.NO_REQUEST) -> RequestView:
    """Record the verification and create the request; run it now if nothing else is needed. Commits."""
    audit_action = desk_actions.AUDIT_ACTIONS[action]
    person = access.desk_person(session, deps, member, person_id, audit_action, context)
    reason = desk_actions.check_reason(reason)
    if verification.is_self(session, member, person):
        _refuse(session, deps, member, person, audit_action, reason, context, "an agent never acts on themselves")
        raise RequestRefused("You cannot act on your own account: ask a colleague.", 403)
    refused = desk_actions.why_not(action, person)
    if refused:
        _refuse(session, deps, member, person, audit_action, reason, context, refused)
        raise RequestRefused(refused)
    chosen, reference = verification.check_method(session, deps, person, method, called_back=called_back,
                                                   reference=reference)
    now = deps.clock.now()
    second_reason = verification.privileged_because(deps, person)
    if threat_mode.is_on(session):
        second_reason = "threat mode is on"
    request = DeskRequest(
        person_id=person.id, action=action.value, reason=reason, new_invite=new_invite, requested_by=member.oid,
        requested_at=now, expires_at=now + timedelta(hours=deps.settings.desk.request_lifetime_hours),
        method=chosen.value, reference=reference, needs_second_agent=second_reason is not None,
        second_reason=second_reason, status=PENDING,
    )
    if chosen is not Method.MANAGER:
        request.verified_at, request.verified_by = now, member.oid
    session.add(request)
    session.flush()
    deps.audit(session, action="desk.caller_verified" if request.verified_at else "desk.request_created",
               actor=member.actor, person=person, reason=reason, context=context,
               details={"request": request.id, "desk_action": action.value, "method": chosen.value,
                        "reference": reference, "second_agent_needed": second_reason})
    session.commit()
    if chosen is Method.MANAGER:
        _ask_manager(session, deps, request, person, context)
    return _run_if_ready(session, deps, request, person, context)


def approve_as_second_agent(session: Session, deps: Deps, member: StaffMember, request_id: int,
                            context: audit.RequestContext = audit.NO_REQUEST) -> RequestView:
    request, person = _pending(session, deps, request_id)
    access.require_desk(session, deps, member, "desk.second_approval", context)
    if member.oid == request.requested_by or verification.is_self(session, member, person):
        _refuse(session, deps, member, person, "desk.second_approval", request.reason, context,
                "the second agent must be another person, not the caller's subject")
        raise RequestRefused("A second agent must be someone else: ask a colleague to approve.", 403)
    if not request.needs_second_agent or request.second_at is not None:
        raise RequestRefused("This request does not wait for a second agent.")
    request.second_agent, request.second_at = member.oid, deps.clock.now()
    deps.audit(session, action="desk.second_approval", actor=member.actor, person=person, reason=request.reason,
               context=context, details={"request": request.id, "desk_action": request.action})
    session.commit()
    return _run_if_ready(session, deps, request, person, context)


def approve_as_manager(session: Session, deps: Deps, member: StaffMember, request_id: int,
                       context: audit.RequestContext = audit.NO_REQUEST) -> RequestView:
    request, person = _manager_request(session, deps, member, request_id, context)
    _expire_if_due(session, deps, request)
    if request.status != PENDING:
        raise RequestRefused("This request is no longer waiting.")
    if request.verified_at is not None:
        raise RequestRefused("This request does not wait for you.")
    request.verified_at, request.verified_by = deps.clock.now(), member.oid
    deps.audit(session, action="desk.caller_verified", actor=member.actor, person=person, reason=request.reason,
               context=context, details={"request": request.id, "desk_action": request.action,
                                         "method": Method.MANAGER.value})
    session.commit()
    return _run_if_ready(session, deps, request, person, context)


def decline(session: Session, deps: Deps, member: StaffMember, request_id: int,
            context: audit.RequestContext = audit.NO_REQUEST) -> RequestView:
    """A second agent or the manager says no: the request ends and nothing runs."""
    request, person = _pending(session, deps, request_id)
    manager = verification.manager_of(session, person)
    if not member.is_desk and (manager is None or manager.entra_object_id != member.oid):
        raise access.AccessDenied(404, "not this request's manager or a desk agent")
    request.status, request.finished_at, request.outcome = DECLINED, deps.clock.now(), "Declined."
    deps.audit(session, action="desk.request_declined", actor=member.actor, person=person, reason=request.reason,
               context=context, details={"request": request.id, "desk_action": request.action})
    session.commit()
    return _view(request, person)


def desk_view(session: Session, deps: Deps, member: StaffMember, request_id: int,
              context: audit.RequestContext = audit.NO_REQUEST) -> RequestView:
    access.require_desk(session, deps, member, "desk.request", context)
    request = session.get(DeskRequest, request_id)
    if request is None:
        raise access.AccessDenied(404, "no such request")
    _expire_if_due(session, deps, request)
    return _view(request, session.get(Person, request.person_id))  # type: ignore[arg-type]


def manager_view(session: Session, deps: Deps, member: StaffMember, request_id: int,
                 context: audit.RequestContext = audit.NO_REQUEST) -> RequestView:
    request, person = _manager_request(session, deps, member, request_id, context)
    _expire_if_due(session, deps, request)
    return _view(request, person)


def waiting_for_desk(session: Session, deps: Deps, member: StaffMember,
                     context: audit.RequestContext = audit.NO_REQUEST) -> list[RequestView]:
    """Pending requests, newest first, for the desk dashboard (a second agent picks them up there)."""
    access.require_desk(session, deps, member, "desk.requests", context)
    rows = session.execute(
        select(DeskRequest, Person).join(Person, Person.id == DeskRequest.person_id)
        .where(DeskRequest.status == PENDING, DeskRequest.expires_at > deps.clock.now())
        .order_by(DeskRequest.requested_at.desc(), DeskRequest.id.desc()).limit(MAX_LISTED)
    ).all()
    return [_view(request, person) for request, person in rows]


def waiting_for_person(session: Session, deps: Deps, member: StaffMember, person_id: int,
                       context: audit.RequestContext = audit.NO_REQUEST) -> list[RequestView]:
    """This person's pending requests, for the desk's person page."""
    access.require_desk(session, deps, member, "desk.requests", context)
    rows = session.execute(
        select(DeskRequest, Person).join(Person, Person.id == DeskRequest.person_id)
        .where(DeskRequest.person_id == person_id, DeskRequest.status == PENDING,
               DeskRequest.expires_at > deps.clock.now())
        .order_by(DeskRequest.requested_at.desc(), DeskRequest.id.desc()).limit(MAX_LISTED)
    ).all()
    return [_view(request, person) for request, person in rows]


# -- internals ------------------------------------------------------------------------------------------


def _refuse(session: Session, deps: Deps, member: StaffMember, person: Person, action: str, reason: str,
            context: audit.RequestContext, why: str) -> None:
    deps.audit(session, action=action, actor=member.actor, person=person, outcome="refused", reason=reason,
               context=context, details={"refused": why})
    session.commit()


def _pending(session: Session, deps: Deps, request_id: int) -> tuple[DeskRequest, Person]:
    request = session.get(DeskRequest, request_id)
    if request is None:
        raise access.AccessDenied(404, "no such request")
    _expire_if_due(session, deps, request)
    if request.status != PENDING:
        raise RequestRefused("This request is no longer waiting.")
    return request, session.get(Person, request.person_id)  # type: ignore[return-value]


def _manager_request(session: Session, deps: Deps, member: StaffMember, request_id: int,
                     context: audit.RequestContext) -> tuple[DeskRequest, Person]:
    request = session.get(DeskRequest, request_id)
    if request is None or request.method != Method.MANAGER.value:
        raise access.AccessDenied(404, "no such request")
    person = access.report_of(session, deps, member, request.person_id, "desk.manager_approval", context)
    if member.oid == request.requested_by:
        raise RequestRefused("You asked for this action yourself: another person must approve it.", 403)
    return request, person


def _expire_if_due(session: Session, deps: Deps, request: DeskRequest) -> None:
    if request.status == PENDING and request.expires_at <= deps.clock.now():
        request.status, request.finished_at, request.outcome = EXPIRED, deps.clock.now(), "Lapsed without approval."
        session.commit()


def _ask_manager(session: Session, deps: Deps, request: DeskRequest, person: Person,
                 context: audit.RequestContext) -> None:
    manager = verification.manager_of(session, person)
    if manager is None or not manager.upn:
        return
    link = f"{deps.settings.portal.public_url.rstrip('/')}/staff/approvals/{request.id}"
    email = deps.renderer.render(
        "manager_approval", to=manager.upn, manager_name=manager.preferred_name or manager.given_name,
        starter_name=person.display_name, what=notices.EVENT_WORDS.get(request.action, request.action),
        approval_link=link,
    )
    try:
        deps.mailer.send(email)
    except MailDeliveryError as exc:
        logger.warning("manager approval email for request %s not sent (%s)", request.id, type(exc).__name__)
        deps.audit(session, action="desk.manager_asked", actor=audit.Actor.system(), person=person,
                   outcome="failure", context=context, details={"request": request.id})
    else:
        deps.audit(session, action="desk.manager_asked", actor=audit.Actor.system(), person=person, context=context,
                   details={"request": request.id, "manager_employee_id": manager.employee_id})
    session.commit()


def _run_if_ready(session: Session, deps: Deps, request: DeskRequest, person: Person,
                  context: audit.RequestContext) -> RequestView:
    if request.verified_at is None or (request.needs_second_agent and request.second_at is None):
        return _view(request, person)
    taken = session.execute(
        update(DeskRequest).where(DeskRequest.id == request.id, DeskRequest.status == PENDING)
        .values(status=RUNNING).execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    if not taken:
        session.refresh(request)
        return _view(request, person)
    agent = StaffMember(oid=request.requested_by, name="", username="", roles=frozenset({DESK_ROLE}))
    status = DONE
    try:
        done = desk_actions.perform(session, deps, agent, person.id, DeskAction(request.action), request.reason,
                                    new_invite=request.new_invite, context=context,
                                    clearance=Clearance(request.id, person.id, request.action))
        message = done.message
    except desk_actions.ActionFailed as failed:
        status, message = (DONE if failed.done else FAILED), failed.why
    except (desk_actions.ActionRefused, desk_actions.InvalidReason) as refused:
        status, message = FAILED, refused.why
    session.refresh(request)
    request.status, request.finished_at, request.outcome = status, deps.clock.now(), message
    session.commit()
    if status == DONE:  # desk_actions.perform has sent the starter's and the manager's notices
        threat_mode.check_burst(session, deps, request.requested_by, context)
    return _view(request, person)
