"""How the desk proves who is calling before an action that can hand over an account (DESIGN section 7).

The callers who talked help desks into accounts (MGM 2023, M&S 2025) knew names, employee ids and
manager names. So an account-handing action needs one configured verification, recorded with the
agent: a callback to the phone number HR holds (the desk sees it masked), the manager's approval in
the portal, or an identity check done elsewhere (recorded with its reference). Privileged people
need a second agent, and nobody acts on their own account.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from activation.config import DeskSettings
from activation.deps import Deps
from activation.errors import ActivationError
from activation.graph.errors import GraphError, TokenError
from activation.masking import mask_phone
from activation.models import Person
from activation.staff.auth import StaffMember

logger = logging.getLogger(__name__)

# Desk actions (DeskAction values) that can hand an account to whoever is on the phone.
ACCOUNT_HANDING_ACTIONS = frozenset({"unlock", "resend-invite", "reset", "new-tap"})
REFERENCE_MIN_LENGTH = 3
REFERENCE_MAX_LENGTH = 128


class Method(enum.StrEnum):
    CALLBACK = "callback"
    MANAGER = "manager"
    ID_CHECK = "id_check"


METHOD_WORDS = {
    Method.CALLBACK: "Call back the phone number HR holds",
    Method.MANAGER: "Ask the manager to approve in the portal",
    Method.ID_CHECK: "Identity checked elsewhere (in person, ID service)",
}
# The same, as done: what a request's page says about how the caller was verified.
VERIFIED_WORDS = {
    Method.CALLBACK: "Called back on the phone number HR holds",
    Method.MANAGER: "The manager's approval in the portal",
    Method.ID_CHECK: "Identity checked elsewhere (in person, ID service)",
}


class VerificationInvalid(ActivationError):
    """The verification given does not meet the rules; `why` is shown to the agent."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


@dataclass(frozen=True)
class Clearance:
    """Handed to desk_actions.perform by approvals only, once a request's conditions all hold."""

    request_id: int
    person_id: int
    action: str


@dataclass(frozen=True)
class CallerCheck:
    """What the desk may see while verifying: never the full phone number, never the email."""

    methods: tuple[Method, ...]
    masked_phone: str | None
    manager_known: bool
    privileged_because: str | None
    self_action: bool


def needs_verification(action: str) -> bool:
    return action in ACCOUNT_HANDING_ACTIONS


def configured_methods(settings: DeskSettings) -> tuple[Method, ...]:
    return tuple(Method(name) for name in settings.verification_methods)


def manager_of(session: Session, person: Person) -> Person | None:
    if not person.manager_employee_id:
        return None
    manager = session.scalars(select(Person).where(Person.employee_id == person.manager_employee_id)).first()
    return manager if manager is not None and manager.entra_object_id else None


def is_self(session: Session, member: StaffMember, person: Person) -> bool:
    """The agent's own account: same object id, or the agent's HR record has this employee id."""
    if person.entra_object_id and person.entra_object_id == member.oid:
        return True
    mine = session.scalars(select(Person.employee_id).where(Person.entra_object_id == member.oid)).first()
    return mine is not None and mine == person.employee_id


def privileged_because(deps: Deps, person: Person) -> str | None:
    """Why this person needs two agents: the HR flag, a configured job title, or a configured group."""
    desk = deps.settings.desk
    if person.hr_privileged:
        return "HR flags this person as privileged"
    titles = {title.casefold() for title in desk.privileged_job_titles}
    if person.job_title and person.job_title.casefold() in titles:
        return "job title is on the privileged list"
    if desk.privileged_groups and person.entra_object_id:
        try:
            groups = deps.graph.member_of(person.entra_object_id)
        except (GraphError, TokenError) as exc:
            # Fail closed: when we cannot tell, treat the person as privileged.
            logger.warning("privileged-group check for %s failed (%s)", person.employee_id, type(exc).__name__)
            return "group membership could not be read, so a second agent is needed"
        if set(desk.privileged_groups) & {group.id for group in groups}:
            return "member of a privileged group"
    return None


def caller_check(session: Session, deps: Deps, member: StaffMember, person: Person) -> CallerCheck:
    methods = configured_methods(deps.settings.desk)
    return CallerCheck(
        methods=methods,
        masked_phone=mask_phone(person.mobile) if person.mobile else None,
        manager_known=manager_of(session, person) is not None,
        privileged_because=privileged_because(deps, person),
        self_action=is_self(session, member, person),
    )


def check_method(session: Session, deps: Deps, person: Person, method: str, *, called_back: bool,
                 reference: str | None) -> tuple[Method, str | None]:
    """The method as recorded (with its reference), or VerificationInvalid naming what is missing."""
    try:
        chosen = Method(method)
    except ValueError:
        raise VerificationInvalid("Choose how you verified the caller.") from None
    if chosen not in configured_methods(deps.settings.desk):
        raise VerificationInvalid("That verification method is not allowed here.")
    reference = " ".join((reference or "").split()) or None
    if chosen is Method.CALLBACK:
        if not person.mobile:
            raise VerificationInvalid("HR holds no phone number for this person: choose another method.")
        if not called_back:
            raise VerificationInvalid("Call the number HR holds and confirm that you did.")
    if chosen is Method.ID_CHECK and (
        reference is None or not REFERENCE_MIN_LENGTH <= len(reference) <= REFERENCE_MAX_LENGTH
    ):
        raise VerificationInvalid(
            f"Give the identity check's reference ({REFERENCE_MIN_LENGTH}-{REFERENCE_MAX_LENGTH} characters)."
        )
    if chosen is Method.MANAGER and manager_of(session, person) is None:
        raise VerificationInvalid("The manager is unknown or has no work account: choose another method.")
    return chosen, reference[:REFERENCE_MAX_LENGTH] if reference else None
