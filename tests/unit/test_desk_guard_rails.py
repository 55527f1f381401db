"""The desk cannot be talked into an account: verification, two people, never on oneself, threat mode."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from activation.models import ActivationState, AuditEvent, DeskRequest, Person
from activation.staff import access, approvals, desk_actions, threat_mode
from activation.staff.auth import DESK_ROLE, StaffMember
from activation.staff.desk_actions import DeskAction
from activation.staff.verification import VerificationInvalid, caller_check
from tests.unit.starter_support import Flow, make_flow

DANA = StaffMember("oid-dana", "Dana Desk", "dana@contoso.example", frozenset({DESK_ROLE}))
SAM = StaffMember("oid-sam", "Sam Second", "sam@contoso.example", frozenset({DESK_ROLE}))
LEAD = StaffMember("oid-lee", "Lee Lead", "lee@contoso.example", frozenset({DESK_ROLE, threat_mode.DESK_LEAD_ROLE}))
MORGAN = StaffMember("oid-morgan", "Morgan Manager", "morgan@contoso.example", frozenset())


@pytest.fixture
def flow(memory_session: Session, make_settings) -> Flow:  # type: ignore[no-untyped-def]
    return make_flow(memory_session, make_settings(desk={"privileged_job_titles": ["Chief Financial Officer"],
                                                         "privileged_groups": ["group-admins"],
                                                         "burst_actions_per_hour": 2}))


def locked(flow: Flow, employee_id: str = "E100", **fields) -> Person:  # type: ignore[no-untyped-def]
    person = flow.person(employee_id, manager="M1", **{"mobile": "+44 7700 900123", **fields})
    flow.invite(person)
    person.activation.state = ActivationState.LOCKED  # type: ignore[union-attr]
    flow.session.commit()
    return person


def manager(flow: Flow) -> Person:
    boss = Person(employee_id="M1", given_name="Morgan", family_name="Manager", display_name="Morgan Manager",
                  start_date=date(2020, 1, 6), hr_status="active", entra_object_id=MORGAN.oid,
                  upn="morgan@contoso.example")
    flow.session.add(boss)
    flow.session.commit()
    return boss


def state(flow: Flow, person: Person) -> ActivationState:
    flow.session.expire_all()
    return person.activation.state  # type: ignore[union-attr]


def events(flow: Flow, action: str) -> list[AuditEvent]:
    return list(flow.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def unlock(flow: Flow, member: StaffMember, person: Person, **verification) -> approvals.RequestView:  # type: ignore[no-untyped-def]
    return approvals.request_action(flow.session, flow.deps, member, person.id, DeskAction.UNLOCK, "ticket 42",
                                    **verification)


@pytest.mark.parametrize("action", [DeskAction.UNLOCK, DeskAction.RESEND_INVITE, DeskAction.RESET])
def test_no_account_handing_action_runs_without_a_verification(flow: Flow, action: DeskAction) -> None:
    person = locked(flow) if action is DeskAction.UNLOCK else flow.person(mobile="+44 7700 900123")
    if action is not DeskAction.UNLOCK:
        flow.invite(person)
    before = state(flow, person)
    with pytest.raises(desk_actions.VerificationRequired):
        desk_actions.perform(flow.session, flow.deps, DANA, person.id, action, "caller says so", new_invite=True)
    assert state(flow, person) is before and flow.mailer.sent_to("ada@home.example", "invite") == []
    refused = events(flow, desk_actions.AUDIT_ACTIONS[action])[-1]
    assert (refused.outcome, refused.details) == ("refused", {"refused": "no verification of the caller"})


def test_callback_shows_the_number_masked_and_must_be_confirmed(flow: Flow) -> None:
    person = locked(flow)
    seen = caller_check(flow.session, flow.deps, DANA, person)
    assert seen.masked_phone == "***23" and "900123" not in seen.masked_phone
    with pytest.raises(VerificationInvalid):
        unlock(flow, DANA, person, method="callback", called_back=False)
    done = unlock(flow, DANA, person, method="callback", called_back=True)
    assert done.status == approvals.DONE and state(flow, person) is ActivationState.INVITED
    verified = events(flow, "desk.caller_verified")[-1]
    assert (verified.actor_id, verified.details["method"]) == (DANA.oid, "callback")


def test_callback_needs_a_number_from_hr(flow: Flow) -> None:
    person = locked(flow, mobile=None)
    with pytest.raises(VerificationInvalid):
        unlock(flow, DANA, person, method="callback", called_back=True)


@pytest.mark.parametrize("reference", [None, "", "  ", "ab"])
def test_an_identity_check_needs_its_reference(flow: Flow, reference: str | None) -> None:
    person = locked(flow)
    with pytest.raises(VerificationInvalid):
        unlock(flow, DANA, person, method="id_check", reference=reference)
    assert state(flow, person) is ActivationState.LOCKED


def test_an_identity_check_is_recorded_with_its_reference(flow: Flow) -> None:
    person = locked(flow)
    assert unlock(flow, DANA, person, method="id_check", reference="IDV-9931").status == approvals.DONE
    assert events(flow, "desk.caller_verified")[-1].details["reference"] == "IDV-9931"


def test_a_method_that_is_not_configured_is_refused(flow: Flow) -> None:
    flow.deps.settings = flow.deps.settings.replace(desk={"verification_methods": ("manager",)})
    person = locked(flow)
    with pytest.raises(VerificationInvalid):
        unlock(flow, DANA, person, method="id_check", reference="IDV-9931")


def test_manager_approval_waits_until_the_manager_approves(flow: Flow) -> None:
    manager(flow)
    person = locked(flow)
    waiting = unlock(flow, DANA, person, method="manager")
    assert (waiting.status, waiting.waiting_for) == (approvals.PENDING, ("the manager",))
    assert state(flow, person) is ActivationState.LOCKED
    asked = flow.mailer.sent_to("morgan@contoso.example", "manager_approval")[-1]
    assert f"/staff/approvals/{waiting.id}" in asked.text
    with pytest.raises(access.AccessDenied):  # another manager, or a desk agent, cannot stand in
        approvals.approve_as_manager(flow.session, flow.deps, SAM, waiting.id)
    done = approvals.approve_as_manager(flow.session, flow.deps, MORGAN, waiting.id)
    assert done.status == approvals.DONE and state(flow, person) is ActivationState.INVITED


def test_a_declined_request_never_runs(flow: Flow) -> None:
    manager(flow)
    person = locked(flow)
    waiting = unlock(flow, DANA, person, method="manager")
    approvals.decline(flow.session, flow.deps, MORGAN, waiting.id)
    with pytest.raises(approvals.RequestRefused):
        approvals.approve_as_manager(flow.session, flow.deps, MORGAN, waiting.id)
    assert state(flow, person) is ActivationState.LOCKED


def test_a_request_lapses(flow: Flow) -> None:
    manager(flow)
    person = locked(flow)
    waiting = unlock(flow, DANA, person, method="manager")
    flow.clock.advance(25 * 3600)
    with pytest.raises(approvals.RequestRefused):
        approvals.approve_as_manager(flow.session, flow.deps, MORGAN, waiting.id)
    assert flow.session.get(DeskRequest, waiting.id).status == approvals.EXPIRED  # type: ignore[union-attr]


@pytest.mark.parametrize("privileged", [{"hr_privileged": True}, {"job_title": "chief financial officer"}, "group"])
def test_privileged_people_need_a_second_agent(flow: Flow, privileged) -> None:  # type: ignore[no-untyped-def]
    person = locked(flow, **(privileged if isinstance(privileged, dict) else {}))
    if privileged == "group":
        flow.graph.add_membership(person.entra_object_id or "", "group-admins")
    waiting = unlock(flow, DANA, person, method="id_check", reference="IDV-1")
    assert (waiting.status, waiting.waiting_for) == (approvals.PENDING, ("a second agent",))
    assert state(flow, person) is ActivationState.LOCKED
    with pytest.raises(approvals.RequestRefused):  # one person cannot be both agents
        approvals.approve_as_second_agent(flow.session, flow.deps, DANA, waiting.id)
    assert state(flow, person) is ActivationState.LOCKED
    done = approvals.approve_as_second_agent(flow.session, flow.deps, SAM, waiting.id)
    assert done.status == approvals.DONE and state(flow, person) is ActivationState.INVITED
    assert events(flow, "desk.second_approval")[-1].actor_id == SAM.oid


def test_an_unreadable_group_membership_fails_closed(flow: Flow) -> None:
    from activation.graph.errors import ServiceUnavailable

    person = locked(flow)
    flow.graph.fail_next("member_of", ServiceUnavailable("busy", status=503, code="serviceUnavailable"))
    assert unlock(flow, DANA, person, method="id_check", reference="IDV-1").waiting_for == ("a second agent",)


def test_an_agent_never_acts_on_themselves(flow: Flow) -> None:
    person = locked(flow)
    me = StaffMember(person.entra_object_id or "", "Ada Lovelace", "ada@contoso.example", frozenset({DESK_ROLE}))
    with pytest.raises(approvals.RequestRefused):
        unlock(flow, me, person, method="id_check", reference="IDV-1")
    assert state(flow, person) is ActivationState.LOCKED
    assert events(flow, "desk.unlock")[-1].details == {"refused": "an agent never acts on themselves"}


def test_an_agent_never_approves_for_themselves(flow: Flow) -> None:
    person = locked(flow, hr_privileged=True)
    waiting = unlock(flow, DANA, person, method="id_check", reference="IDV-1")
    me = StaffMember(person.entra_object_id or "", "Ada Lovelace", "ada@contoso.example", frozenset({DESK_ROLE}))
    with pytest.raises(approvals.RequestRefused):
        approvals.approve_as_second_agent(flow.session, flow.deps, me, waiting.id)
    assert state(flow, person) is ActivationState.LOCKED


def test_the_desk_has_no_action_that_edits_personal_email_or_phone() -> None:
    assert {a.value for a in DeskAction} == {"unlock", "resend-invite", "revoke-tap", "reset", "cancel"}
    assert not {"personal_email", "mobile"} & set(desk_actions.perform.__code__.co_varnames)


def test_only_a_desk_lead_switches_threat_mode_and_it_is_audited(flow: Flow) -> None:
    with pytest.raises(access.AccessDenied):
        threat_mode.switch(flow.session, flow.deps, DANA, True, "phishing wave")
    assert not threat_mode.is_on(flow.session)
    threat_mode.switch(flow.session, flow.deps, LEAD, True, "phishing wave reported")
    assert threat_mode.is_on(flow.session) and threat_mode.self_service_paused(flow.session)
    switched = events(flow, "desk.threat_mode")[-1]
    assert (switched.actor_id, switched.details, switched.reason) == (LEAD.oid, {"on": True}, "phishing wave reported")


def test_threat_mode_makes_every_account_handing_action_two_person(flow: Flow) -> None:
    threat_mode.switch(flow.session, flow.deps, LEAD, True, "phishing wave reported")
    person = locked(flow)
    waiting = unlock(flow, DANA, person, method="callback", called_back=True)
    assert waiting.status == approvals.PENDING and waiting.second_reason == "threat mode is on"
    approvals.approve_as_second_agent(flow.session, flow.deps, SAM, waiting.id)
    assert state(flow, person) is ActivationState.INVITED
    threat_mode.switch(flow.session, flow.deps, LEAD, False, "all clear now")
    assert not threat_mode.self_service_paused(flow.session)


def test_a_burst_of_actions_by_one_agent_raises_an_alert(flow: Flow, caplog: pytest.LogCaptureFixture) -> None:
    for number in range(3):
        person = locked(flow, f"E10{number}")
        unlock(flow, DANA, person, method="id_check", reference=f"IDV-{number}")
    alerts = events(flow, "desk.burst_alert")
    assert len(alerts) == 1 and alerts[0].details == {"actions_last_hour": 3, "limit": 2}
    assert "desk burst alert" in caplog.text


def test_manager_approval_and_a_second_agent_are_both_needed_for_a_privileged_person(flow: Flow) -> None:
    manager(flow)
    person = locked(flow, hr_privileged=True)
    waiting = unlock(flow, DANA, person, method="manager")
    assert waiting.waiting_for == ("the manager", "a second agent")
    assert approvals.approve_as_manager(flow.session, flow.deps, MORGAN, waiting.id).waiting_for == ("a second agent",)
    assert state(flow, person) is ActivationState.LOCKED
    assert approvals.approve_as_second_agent(flow.session, flow.deps, SAM, waiting.id).status == approvals.DONE
    assert state(flow, person) is ActivationState.INVITED


def test_a_request_runs_once_however_many_approve(flow: Flow) -> None:
    person = locked(flow, hr_privileged=True)
    waiting = unlock(flow, DANA, person, method="id_check", reference="IDV-1")
    approvals.approve_as_second_agent(flow.session, flow.deps, SAM, waiting.id)
    with pytest.raises(approvals.RequestRefused):
        approvals.approve_as_second_agent(flow.session, flow.deps, LEAD, waiting.id)
    done = [e for e in events(flow, "desk.unlock") if e.outcome == "success"]
    assert len(done) == 1 and done[0].actor_id == DANA.oid  # the action is the requesting agent's


def test_burst_alerts_are_counted_for_the_metrics(flow: Flow) -> None:
    assert threat_mode.burst_alerts(flow.session) == 0
    for number in range(3):
        unlock(flow, DANA, locked(flow, f"E20{number}"), method="id_check", reference=f"IDV-{number}")
    assert threat_mode.burst_alerts(flow.session) == 1
