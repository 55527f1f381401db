"""The desk's guard rails through the portal: verification step, second agent, manager approval,
threat mode pausing starters, and the "this wasn't me" link (GET changes nothing, POST freezes)."""

from __future__ import annotations

import re

import pytest

from activation.models import ActivationState
from activation.staff.auth import DESK_ROLE, StaffMember
from activation.staff.threat_mode import DESK_LEAD_ROLE
from tests.portal_support import csrf_token
from tests.staff_support import StaffWorld, build_world


@pytest.fixture
def world(make_settings, database_url, db_engine) -> StaffWorld:  # type: ignore[no-untyped-def]
    return build_world(make_settings, database_url, db_engine)


def lead(world: StaffWorld) -> StaffMember:
    member = world.staff("Lee Lead", desk=True)
    return StaffMember(member.oid, member.name, member.username, frozenset({DESK_ROLE, DESK_LEAD_ROLE}))


def test_the_unlock_page_asks_for_a_verification_and_shows_the_phone_masked(world: StaffWorld) -> None:
    person = world.person("E1", state=ActivationState.LOCKED, mobile="+44 7700 900123")
    client = world.sign_in(world.staff("Dana Desk", desk=True))
    page = client.get(f"/staff/desk/people/{person}/unlock").get_data(as_text=True)
    assert "How did you verify the caller?" in page and "***23" in page and "900123" not in page
    refused = world.post(client, f"/staff/desk/people/{person}/unlock",
                         data={"reason": "caller asked", "invite": "keep"})
    assert refused.status_code == 400 and world.activation(person).state is ActivationState.LOCKED
    unverified = world.post(client, f"/staff/desk/people/{person}/unlock",
                            data={"reason": "caller asked", "invite": "keep", "method": "callback"})
    assert unverified.status_code == 400 and "confirm that you did" in unverified.get_data(as_text=True)
    done = world.post(client, f"/staff/desk/people/{person}/unlock",
                      data={"reason": "caller asked", "invite": "keep", "method": "callback", "called_back": "y"})
    assert done.status_code == 200 and world.activation(person).state is ActivationState.INVITED


def test_a_privileged_person_needs_a_second_agent_through_the_pages(world: StaffWorld) -> None:
    person = world.person("E1", state=ActivationState.LOCKED, hr_privileged=True)
    dana, sam = world.staff("Dana Desk", desk=True), world.staff("Sam Second", desk=True)
    first = world.sign_in(dana)
    waiting = world.post(first, f"/staff/desk/people/{person}/unlock",
                         data={"reason": "ticket 7", "invite": "keep", "method": "id_check", "reference": "IDV-7"})
    assert waiting.status_code == 302 and world.activation(person).state is ActivationState.LOCKED
    request_url = waiting.headers["Location"]
    own = first.get(request_url).get_data(as_text=True)
    assert "A colleague must approve this" in own and "Approve as second agent" not in own
    assert "Identity checked elsewhere (in person, ID service) (reference IDV-7)" in own
    assert "Waiting for approval" in first.get("/staff/desk/").get_data(as_text=True)
    second = world.sign_in(sam)
    done = world.post(second, request_url, f"{request_url}/approve")
    assert done.status_code == 200 and world.activation(person).state is ActivationState.INVITED


def test_manager_approval_through_the_pages(world: StaffWorld) -> None:
    morgan = world.staff("Morgan Manager", employee_id="M1")
    with world.runtime.session_factory() as session:
        from activation.models import Person

        boss = session.query(Person).filter_by(employee_id="M1").one()
        boss.upn = "morgan@contoso.example"
        session.commit()
    person = world.person("E1", state=ActivationState.LOCKED, manager="M1")
    desk = world.sign_in(world.staff("Dana Desk", desk=True))
    waiting = world.post(desk, f"/staff/desk/people/{person}/unlock",
                         data={"reason": "ticket 8", "invite": "keep", "method": "manager"})
    assert waiting.status_code == 302
    mail = world.mailer.sent_to("morgan@contoso.example", "manager_approval")[-1].text
    approval = re.search(r"http://localhost(/staff/approvals/\d+)", mail).group(1)  # type: ignore[union-attr]
    other = world.sign_in(world.staff("Other Manager", employee_id="M2"))
    assert other.get(approval).status_code == 404
    manager = world.sign_in(morgan)
    page = manager.get(approval).get_data(as_text=True)
    assert "Confirm a request for Grace Hopper" in page
    done = world.post(manager, approval, f"{approval}/approve")
    assert done.status_code == 200 and world.activation(person).state is ActivationState.INVITED


def test_threat_mode_is_switched_by_a_lead_and_pauses_lost_link_requests(world: StaffWorld) -> None:
    agent = world.sign_in(world.staff("Dana Desk", desk=True))
    assert "Only a desk lead can switch it" in agent.get("/staff/desk/threat-mode").get_data(as_text=True)
    denied = world.post(agent, "/staff/desk/threat-mode", data={"on": "on", "reason": "phishing wave"})
    assert denied.status_code == 403
    client = world.sign_in(lead(world))
    switched = world.post(client, "/staff/desk/threat-mode", data={"on": "on", "reason": "phishing wave"})
    assert switched.status_code == 200 and world.events("desk.threat_mode")[-1].details == {"on": True}
    starter = world.app.test_client()
    paused = world.post(starter, "/", "/lost-link", data={"email": "grace@home.example"})
    assert paused.status_code == 503 and "Please try again a little later" in paused.get_data(as_text=True)


def test_in_threat_mode_a_starter_unlocked_by_two_agents_gets_one_code_but_no_resends(world: StaffWorld) -> None:
    from activation.models import Activation

    person = world.person("E1", invite=False)
    link = world.invite_link(person)  # the one invite, kept by the unlock
    starter = world.app.test_client()
    assert world.post(starter, link, f"{link}/send-code").status_code == 302  # a code went out; then locked
    with world.runtime.session_factory() as session:
        activation = session.query(Activation).filter_by(person_id=person).one()
        activation.state, activation.lock_reason = ActivationState.LOCKED, "too many wrong codes"
        session.commit()
    world.post(world.sign_in(lead(world)), "/staff/desk/threat-mode", data={"on": "on", "reason": "phishing wave"})
    dana, sam = world.sign_in(world.staff("Dana Desk", desk=True)), world.sign_in(world.staff("Sam Second", desk=True))
    waiting = world.post(dana, f"/staff/desk/people/{person}/unlock",
                         data={"reason": "ticket 10", "invite": "keep", "method": "id_check", "reference": "IDV-10"})
    request_url = waiting.headers["Location"]
    assert world.post(sam, request_url, f"{request_url}/approve").status_code == 200
    assert world.activation(person).state is ActivationState.INVITED
    asked = world.post(starter, link, f"{link}/send-code")  # what the desk told the caller to do
    assert asked.status_code == 302 and asked.headers["Location"].endswith("/code")
    again = world.post(starter, f"{link}/code", f"{link}/send-code")  # a resend: paused in threat mode
    assert again.status_code == 503 and "Please try again a little later" in again.get_data(as_text=True)


def test_in_threat_mode_the_first_code_of_an_invite_the_desk_resent_still_goes(world: StaffWorld) -> None:
    person = world.person("E1", invite=False)
    old_link = world.invite_link(person)
    starter = world.app.test_client()
    assert world.post(starter, old_link, f"{old_link}/send-code").status_code == 302  # a code on the old link
    world.clock.advance(3600)  # the link expires; the caller phones the desk an hour later
    world.post(world.sign_in(lead(world)), "/staff/desk/threat-mode", data={"on": "on", "reason": "phishing wave"})
    dana, sam = world.sign_in(world.staff("Dana Desk", desk=True)), world.sign_in(world.staff("Sam Second", desk=True))
    waiting = world.post(dana, f"/staff/desk/people/{person}/resend-invite",
                         data={"reason": "link expired", "method": "id_check", "reference": "IDV-11"})
    request_url = waiting.headers["Location"]
    assert world.post(sam, request_url, f"{request_url}/approve").status_code == 200
    mail = world.mailer.sent_to("grace@home.example", "invite")[-1].text
    new_link = re.search(r"http://localhost(/a/\S+)", mail).group(1)  # type: ignore[union-attr]
    asked = world.post(starter, new_link, f"{new_link}/send-code")
    assert asked.status_code == 302 and asked.headers["Location"].endswith("/code")


def test_the_wasnt_me_link_shows_a_button_and_freezes_only_on_post(world: StaffWorld) -> None:
    person = world.person("E1", state=ActivationState.LOCKED)
    client = world.sign_in(world.staff("Dana Desk", desk=True))
    world.post(client, f"/staff/desk/people/{person}/unlock",
               data={"reason": "ticket 9", "invite": "keep", "method": "id_check", "reference": "IDV-9"})
    notice = world.mailer.sent_to("grace@home.example", "account_notice")[-1].text
    path = re.search(r"http://localhost(/not-me/\S+)", notice).group(1)  # type: ignore[union-attr]
    anonymous = world.app.test_client()
    page = anonymous.get(path)
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    visible = re.sub(r'(value|action)="[^"]*"', "", body)  # random tokens (CSRF, the link) may hold any letters
    assert "Grace" not in visible and "grace@home.example" not in visible and "E1" not in visible
    assert world.activation(person).state is ActivationState.INVITED
    done = anonymous.post(path, data={"csrf_token": csrf_token(body)})
    assert done.status_code == 200 and world.activation(person).state is ActivationState.LOCKED
    assert anonymous.get(path).status_code == 410
    assert world.app.test_client().get("/not-me/not-a-token").status_code == 410


def test_the_readiness_page_lists_tomorrows_starters_who_will_get_stuck(world: StaffWorld) -> None:
    from datetime import date

    world.person("E1", email=None, start=date(2026, 3, 3), invite=False)
    world.person("E2", "Alan Turing", email="alan@home.example", start=date(2026, 3, 10), invite=False)
    client = world.sign_in(world.staff("Dana Desk", desk=True))
    page = client.get("/staff/desk/readiness").get_data(as_text=True)
    assert "Grace Hopper (E1)" in page and "no personal email from HR" in page and "Alan Turing" not in page
    assert world.sign_in(world.staff("Morgan Manager")).get("/staff/desk/readiness").status_code == 403


def test_the_person_page_shows_waiting_requests_and_a_freeze(world: StaffWorld) -> None:
    person = world.person("E1", state=ActivationState.LOCKED, hr_privileged=True)
    client = world.sign_in(world.staff("Dana Desk", desk=True))
    waiting = world.post(client, f"/staff/desk/people/{person}/unlock",
                         data={"reason": "ticket 10", "invite": "keep", "method": "id_check", "reference": "IDV-10"})
    page = client.get(f"/staff/desk/people/{person}").get_data(as_text=True)
    assert "waiting for a second agent" in page
    request_url = waiting.headers["Location"]
    world.post(world.sign_in(world.staff("Sam Second", desk=True)), request_url, f"{request_url}/approve")
    notice = world.mailer.sent_to("grace@home.example", "account_notice")[-1].text
    path = re.search(r"http://localhost(/not-me/\S+)", notice).group(1)  # type: ignore[union-attr]
    anonymous = world.app.test_client()
    anonymous.post(path, data={"csrf_token": csrf_token(anonymous.get(path).get_data(as_text=True))})
    page = client.get(f"/staff/desk/people/{person}").get_data(as_text=True)
    assert "Frozen on" in page and "waiting for" not in page
