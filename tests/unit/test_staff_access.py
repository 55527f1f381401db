"""Who may see and act on whom: role from the session, manager rights from live HR data, refusals audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from activation.models import AuditEvent
from activation.staff import access, manager_actions
from activation.staff.auth import DESK_ROLE, StaffMember
from tests.unit.starter_support import Flow, make_flow

MORGAN = StaffMember("oid-morgan", "Morgan Manager", "morgan@contoso.example", frozenset())
DANA = StaffMember("oid-dana", "Dana Desk", "dana@contoso.example", frozenset({DESK_ROLE}))


@pytest.fixture
def flow(memory_session: Session, make_settings) -> Flow:  # type: ignore[no-untyped-def]
    flow = make_flow(memory_session, make_settings())
    flow.person("M1001", with_account=False, email=None, entra_object_id=MORGAN.oid)
    return flow


def denials(session: Session) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "staff.access_denied")))


def test_a_manager_reaches_their_report(flow: Flow) -> None:
    report = flow.person("E1", manager="M1001")
    assert access.report_of(flow.session, flow.deps, MORGAN, report.id, "test") is report
    assert denials(flow.session) == []


@pytest.mark.parametrize("manager", ["M2000", None])
def test_a_manager_cannot_reach_someone_elses_report(flow: Flow, manager: str | None) -> None:
    other = flow.person("E2", manager=manager)
    with pytest.raises(access.AccessDenied) as denied:
        access.report_of(flow.session, flow.deps, MORGAN, other.id, "manager.resend_invite")
    assert denied.value.status == 404
    [event] = denials(flow.session)
    assert (event.actor_id, event.employee_id, event.outcome) == (MORGAN.oid, "E2", "denied")
    assert event.details == {"what": "manager.resend_invite"}


def test_manager_rights_are_rechecked_from_hr_data_every_time(flow: Flow) -> None:
    report = flow.person("E1", manager="M1001")
    access.report_of(flow.session, flow.deps, MORGAN, report.id, "test")
    report.manager_employee_id = "M2000"
    flow.session.commit()
    with pytest.raises(access.AccessDenied):
        access.report_of(flow.session, flow.deps, MORGAN, report.id, "test")
    assert manager_actions.my_starters(flow.session, flow.deps, MORGAN).rows == []


def test_someone_without_an_hr_record_manages_nobody(flow: Flow) -> None:
    stranger = StaffMember("oid-unknown", "Sam", "sam@contoso.example", frozenset())
    report = flow.person("E1", manager="M1001")
    with pytest.raises(access.AccessDenied):
        access.report_of(flow.session, flow.deps, stranger, report.id, "test")
    assert manager_actions.my_starters(flow.session, flow.deps, stranger).known_manager is False


def test_desk_needs_the_role_from_the_token(flow: Flow) -> None:
    access.require_desk(flow.session, flow.deps, DANA, "desk.search")
    with pytest.raises(access.AccessDenied) as denied:
        access.require_desk(flow.session, flow.deps, MORGAN, "desk.search")
    assert denied.value.status == 403
    assert [(e.actor_id, e.reason) for e in denials(flow.session)] == [(MORGAN.oid, "not in the ServiceDesk role")]


def test_desk_person_is_404_for_nobody_but_403_first_without_the_role(flow: Flow) -> None:
    with pytest.raises(access.AccessDenied) as missing:
        access.desk_person(flow.session, flow.deps, DANA, 9999, "desk.person")
    assert missing.value.status == 404
    with pytest.raises(access.AccessDenied) as no_role:
        access.desk_person(flow.session, flow.deps, MORGAN, 9999, "desk.person")
    assert no_role.value.status == 403


def test_manager_list_masks_email_and_never_shows_codes(flow: Flow) -> None:
    report = flow.person("E1", manager="M1001")
    flow.invite(report)
    flow.clock.advance(5 * 60)
    [row] = manager_actions.my_starters(flow.session, flow.deps, MORGAN).rows
    assert row.masked_email == "a***@h***.example"
    assert row.can_resend and row.status.words == "Invite created but not emailed yet"


def test_the_resend_cooldown_is_shown_before_the_click_in_whole_minutes(flow: Flow) -> None:
    report = flow.person("E1", manager="M1001")
    flow.invite(report)
    flow.clock.advance(4 * 60 + 30)
    [row] = manager_actions.my_starters(flow.session, flow.deps, MORGAN).rows
    assert not row.can_resend and row.resend_wait_minutes == 1 and row.resend_after.endswith(" Europe/London")
    assert manager_actions.about_minutes(1) == "in about 1 minute"
    assert manager_actions.about_minutes(4) == "in about 4 minutes"
    with pytest.raises(manager_actions.ResendCooldown) as wait:
        manager_actions.resend_invite(flow.session, flow.deps, MORGAN, report.id)
    assert wait.value.minutes_left == 1


def test_no_personal_email_says_ask_hr(flow: Flow) -> None:
    flow.person("E1", manager="M1001", email=None)
    [row] = manager_actions.my_starters(flow.session, flow.deps, MORGAN).rows
    assert not row.can_resend and "Ask HR to add their personal email" in row.status.next_step
    assert "send it now" not in row.status.next_step


def test_an_account_mastered_on_premises_is_left_to_the_desk(flow: Flow) -> None:
    flow.person("E1", manager="M1001", on_prem=True)
    flow.clock.advance(10 * 60)
    [row] = manager_actions.my_starters(flow.session, flow.deps, MORGAN).rows
    assert row.on_premises and not row.can_resend and row.resend_wait_minutes == 0


# -- a manager the HR file never sent: their employeeId comes from the directory -----------------

RILEY = StaffMember("oid-riley", "Riley Reviewer", "riley@contoso.example", frozenset())


def test_a_manager_not_in_the_hr_file_is_found_through_the_directory(flow: Flow) -> None:
    flow.graph.add_user("M1002", "riley@contoso.example", "Riley Reviewer", user_id=RILEY.oid)
    report = flow.person("E3", manager="M1002")
    view = manager_actions.my_starters(flow.session, flow.deps, RILEY)
    assert view.known_manager is True
    assert [row.employee_id for row in view.rows] == ["E3"]
    assert access.report_of(flow.session, flow.deps, RILEY, report.id, "test") is report


def test_the_directory_answer_is_cached_briefly_in_the_database_then_rechecked(flow: Flow) -> None:
    from activation.models import DirectoryLookup
    from activation.staff import directory

    flow.graph.add_user("M1002", "riley@contoso.example", "Riley Reviewer", user_id=RILEY.oid)
    report = flow.person("E3", manager="M1002")
    access.report_of(flow.session, flow.deps, RILEY, report.id, "test")
    access.report_of(flow.session, flow.deps, RILEY, report.id, "test")
    assert [op for op, _ in flow.graph.calls].count("get_employee_id") == 1
    assert flow.session.get(DirectoryLookup, RILEY.oid).employee_id == "M1002"

    flow.graph.set_employee_id(RILEY.oid, "M9999")  # the directory changes: no longer that employeeId
    flow.clock.advance(directory.CACHE_SECONDS + 1)
    with pytest.raises(access.AccessDenied):
        access.report_of(flow.session, flow.deps, RILEY, report.id, "test")
    assert [op for op, _ in flow.graph.calls].count("get_employee_id") == 2


def test_no_employee_id_in_the_directory_means_no_reports(flow: Flow) -> None:
    flow.graph.add_user(None, "riley@contoso.example", "Riley Reviewer", user_id=RILEY.oid)
    flow.person("E3", manager="M1002")
    assert manager_actions.my_starters(flow.session, flow.deps, RILEY).known_manager is False


def test_a_directory_outage_is_said_not_mistaken_for_no_reports(flow: Flow) -> None:
    from activation.graph.errors import ServiceUnavailable
    from activation.staff import directory

    flow.graph.fail_next("get_employee_id", ServiceUnavailable("down", status=503))
    with pytest.raises(directory.DirectoryUnavailable):
        manager_actions.my_starters(flow.session, flow.deps, RILEY)
