"""Who may see and act on whom. Checked on every request from live data, never cached from sign-in.

- Service desk: the `ServiceDesk` app role from the ID token, kept in the server-side session.
- Manager: only from HR data. The signed-in user's Person (found by `entra_object_id == oid`) gives
  their employeeId, else the directory does (`staff/directory.py`, cached for minutes in the shared
  database); their reports are the people whose `manager_employee_id` equals it.
Every refusal is audited before it is raised.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from activation import audit
from activation.deps import Deps
from activation.errors import ActivationError
from activation.models import Person
from activation.staff import directory
from activation.staff.auth import StaffMember


class AccessDenied(ActivationError):
    """`status` is what the portal answers: 403 (no role) or 404 (not yours to see, or no such person)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _deny(session: Session, deps: Deps, member: StaffMember, *, status: int, reason: str, what: str,
          person: Person | None, context: audit.RequestContext) -> AccessDenied:
    deps.audit(session, action="staff.access_denied", actor=member.actor, person=person, outcome="denied",
               reason=reason, context=context, details={"what": what})
    session.commit()
    return AccessDenied(status, reason)


def require_desk(session: Session, deps: Deps, member: StaffMember, what: str,
                 context: audit.RequestContext = audit.NO_REQUEST) -> None:
    if not member.is_desk:
        raise _deny(session, deps, member, status=403, reason="not in the ServiceDesk role", what=what,
                    person=None, context=context)


def desk_person(session: Session, deps: Deps, member: StaffMember, person_id: int, what: str,
                context: audit.RequestContext = audit.NO_REQUEST) -> Person:
    """A person for a desk page or action: role first, then existence."""
    require_desk(session, deps, member, what, context)
    person = session.get(Person, person_id)
    if person is None:
        raise AccessDenied(404, "no such person")
    return person


def signed_in_person(session: Session, member: StaffMember) -> Person | None:
    """The HR record of the signed-in user, by immutable object id."""
    return session.scalars(select(Person).where(Person.entra_object_id == member.oid)).first()


def manager_employee_id(session: Session, deps: Deps, member: StaffMember) -> str | None:
    """Our HR record first; else the directory's employeeId (raises DirectoryUnavailable if Graph fails)."""
    me = signed_in_person(session, member)
    if me is not None:
        return me.employee_id
    return directory.employee_id(session, deps, member.oid)


def report_of(session: Session, deps: Deps, member: StaffMember, person_id: int, what: str,
              context: audit.RequestContext = audit.NO_REQUEST) -> Person:
    """The person, if (and only while) HR says the signed-in user is their manager; else 404, audited."""
    person = session.get(Person, person_id)
    mine = manager_employee_id(session, deps, member)
    if person is None or mine is None or person.manager_employee_id != mine:
        raise _deny(session, deps, member, status=404, reason="not one of this manager's reports", what=what,
                    person=person, context=context)
    return person
