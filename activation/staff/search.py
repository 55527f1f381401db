"""Service desk search by name, employee id or email: parameterised, wildcards escaped, paginated."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from activation import audit
from activation.deps import Deps
from activation.models import Activation, Person
from activation.staff import access
from activation.staff.auth import StaffMember

PAGE_SIZE = 25
MAX_PAGE = 40
MAX_QUERY_LENGTH = 100
LIKE_ESCAPE = "\\"


@dataclass(frozen=True)
class SearchRow:
    person_id: int
    employee_id: str
    name: str
    personal_email: str
    upn: str
    state: str


@dataclass(frozen=True)
class SearchPage:
    query: str
    page: int
    total: int
    rows: list[SearchRow]

    @property
    def pages(self) -> int:
        return min(MAX_PAGE, max(1, -(-self.total // PAGE_SIZE)))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def escape_like(text: str) -> str:
    """Make `%`, `_` and the escape character itself match literally."""
    return (text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%")
            .replace("_", LIKE_ESCAPE + "_"))


def search_people(session: Session, deps: Deps, member: StaffMember, query: str, page: int = 1,
                  context: audit.RequestContext = audit.NO_REQUEST) -> SearchPage:
    access.require_desk(session, deps, member, "desk.search", context)
    query = " ".join(query.split())[:MAX_QUERY_LENGTH]
    page = min(max(1, page), MAX_PAGE)
    if not query:
        return SearchPage(query, 1, 0, [])
    pattern = f"%{escape_like(query)}%"
    columns = (Person.display_name, Person.given_name, Person.family_name, Person.preferred_name,
               Person.employee_id, Person.personal_email, Person.upn)
    matches = or_(*(column.ilike(pattern, escape=LIKE_ESCAPE) for column in columns))
    total = session.scalar(select(func.count()).select_from(Person).where(matches)) or 0
    found = session.execute(
        select(Person, Activation.state).outerjoin(Activation).where(matches)
        .order_by(Person.display_name, Person.id).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()
    rows = [SearchRow(p.id, p.employee_id, p.display_name, p.personal_email or "", p.upn or "",
                      state.value if state is not None else "pending") for p, state in found]
    return SearchPage(query, page, total, rows)
