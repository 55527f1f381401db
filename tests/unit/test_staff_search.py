"""Desk search: wildcards match literally, results are bounded and paginated, on every database backend."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from activation.models import HrStatus, Person
from activation.staff import search
from activation.staff.auth import DESK_ROLE, StaffMember
from tests.unit.starter_support import make_flow

DANA = StaffMember("oid-dana", "Dana Desk", "dana@contoso.example", frozenset({DESK_ROLE}))


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [("50%", "50\\%"), ("a_b", "a\\_b"), ("back\\slash", "back\\\\slash"), ("plain", "plain"), ("\\%", "\\\\\\%")],
)
def test_escape_like(raw: str, escaped: str) -> None:
    assert search.escape_like(raw) == escaped


def add(session: Session, employee_id: str, name: str, email: str) -> None:
    given, _, family = name.partition(" ")
    session.add(Person(employee_id=employee_id, given_name=given, family_name=family, display_name=name,
                       personal_email=email, start_date=date(2026, 3, 2), hr_status=HrStatus.ACTIVE))


def test_wildcards_and_escape_characters_match_literally(db_session: Session, make_settings) -> None:  # type: ignore[no-untyped-def]
    flow = make_flow(db_session, make_settings())
    add(db_session, "E1", "Grace Hopper", "grace@home.example")
    add(db_session, "E2", "Percy 100% Sure", "percy_s@home.example")
    add(db_session, "E3", "Back Slash", "back\\slash@home.example")
    db_session.commit()

    def names(query: str) -> list[str]:
        return [row.name for row in search.search_people(db_session, flow.deps, DANA, query).rows]

    assert names("%") == ["Percy 100% Sure"]
    assert names("_") == ["Percy 100% Sure"]
    assert names("\\") == ["Back Slash"]
    assert names("GRACE") == ["Grace Hopper"]  # case-insensitive
    assert names("e1") == ["Grace Hopper"]
    assert names("home.example") == ["Back Slash", "Grace Hopper", "Percy 100% Sure"]
    assert names("'; DROP TABLE person; --") == []
    assert names("   ") == []


def test_results_are_paginated_and_bounded(db_session: Session, make_settings) -> None:  # type: ignore[no-untyped-def]
    flow = make_flow(db_session, make_settings())
    for n in range(60):
        add(db_session, f"E{n:03}", f"Person {n:03}", f"p{n}@home.example")
    db_session.commit()
    first = search.search_people(db_session, flow.deps, DANA, "person", page=1)
    last = search.search_people(db_session, flow.deps, DANA, "person", page=3)
    beyond = search.search_people(db_session, flow.deps, DANA, "person", page=10_000)
    assert (first.total, first.pages, len(first.rows), first.has_next, first.has_previous) == (60, 3, 25, True, False)
    assert len(last.rows) == 10 and not last.has_next
    assert beyond.page == search.MAX_PAGE and beyond.rows == []
    assert len(search.search_people(db_session, flow.deps, DANA, "x" * 500).query) == search.MAX_QUERY_LENGTH
