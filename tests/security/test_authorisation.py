"""Who may do what: starters, managers (rights from HR data, re-checked on every request) and the desk
(role from the ID token only)."""

from __future__ import annotations

import re

import pytest

from activation.models import ActivationState
from tests.portal_support import csrf_token
from tests.security.starter_support import ask_for_code, starter_world, type_code
from tests.staff_support import StaffWorld


@pytest.fixture
def world(make_settings, database_url, db_engine) -> StaffWorld:  # type: ignore[no-untyped-def]
    return starter_world(make_settings, database_url, db_engine)


def staff_get_urls(world: StaffWorld, person: int) -> list[str]:
    urls = []
    for rule in world.app.url_map.iter_rules():
        if not rule.rule.startswith("/staff/") or "GET" not in (rule.methods or ()):
            continue
        if rule.endpoint in ("staff.auth.sign_in", "staff.auth.callback", "staff.auth.signed_out"):
            continue
        url = re.sub(r"<int:[a-z_]+>", "1", rule.rule.replace("<int:person_id>", str(person)))
        url = re.sub(r"<[a-z_:]+>", "x", url.replace("<name>", "unlock"))
        urls.append(url)
    return urls


def test_without_a_staff_session_every_staff_page_sends_you_to_sign_in(world: StaffWorld) -> None:
    person = world.person("E1")
    starter = world.app.test_client()
    starter.get(world.invite_link(person))  # a starter's browser, with its own Flask session
    urls = staff_get_urls(world, person)
    assert len(urls) >= 8
    for url in urls:
        answer = starter.get(url)
        assert answer.status_code == 302 and "/staff/sign-in" in answer.headers["Location"], url


def test_a_manager_sees_and_acts_on_their_own_reports_only(world: StaffWorld) -> None:
    mine = world.person("E1", "Ada Mine", manager="M1", email="ada@home.example")
    theirs = world.person("E2", "Bob Theirs", manager="M2", email="bob@home.example")
    manager = world.sign_in(world.staff("Morgan Manager", employee_id="M1"))
    listing = manager.get("/staff/starters/").get_data(as_text=True)
    assert "Ada Mine" in listing and "Bob Theirs" not in listing
    assert manager.get(f"/staff/starters/{theirs}/resend").status_code in (403, 404)
    token = csrf_token(manager.get(f"/staff/starters/{mine}/resend").get_data(as_text=True))
    assert manager.post(f"/staff/starters/{theirs}/resend", data={"csrf_token": token}).status_code in (403, 404)
    assert world.mailer.sent_to("bob@home.example") == []


def test_manager_rights_follow_hr_data_on_every_request(world: StaffWorld) -> None:
    report = world.person("E1", "Ada Mine", manager="M1")
    manager = world.sign_in(world.staff("Morgan Manager", employee_id="M1"))
    assert manager.get(f"/staff/starters/{report}/resend").status_code == 200
    world.set_manager(report, "M2")  # HR moved the starter to another manager
    assert manager.get(f"/staff/starters/{report}/resend").status_code in (403, 404)


def test_a_manager_cannot_use_desk_actions_even_with_a_valid_token(world: StaffWorld) -> None:
    report = world.person("E1", manager="M1", state=ActivationState.LOCKED)
    manager = world.sign_in(world.staff("Morgan Manager", employee_id="M1"))
    token = csrf_token(manager.get("/staff/starters/").get_data(as_text=True))
    for action in ("unlock", "cancel", "reset", "revoke-tap", "resend-invite"):
        answer = manager.post(f"/staff/desk/people/{report}/{action}",
                              data={"csrf_token": token, "reason": "I am the manager, trust me", "invite": "keep"})
        assert answer.status_code in (403, 404), action
    assert world.activation(report).state is ActivationState.LOCKED


def test_the_desk_role_comes_from_the_token_not_the_request(world: StaffWorld) -> None:
    manager = world.sign_in(world.staff("Morgan Manager", employee_id="M1"))
    for url in ("/staff/desk/?role=ServiceDesk", "/staff/desk/"):
        assert manager.get(url, headers={"X-Roles": "ServiceDesk"}).status_code == 403


def test_a_manager_never_sees_a_code_or_a_pass(world: StaffWorld) -> None:
    report = world.person("E1", manager="M1")
    link = world.invite_link(report)
    starter = world.app.test_client()
    ask_for_code(starter, link)
    code = world.code()
    result = type_code(starter, link, code).get_data(as_text=True)
    tap = re.search(r'id="tap">([^<]+)<', result).group(1)  # type: ignore[union-attr]
    manager = world.sign_in(world.staff("Morgan Manager", employee_id="M1"))
    desk = world.sign_in(world.staff("Dana Desk", desk=True))
    for page in (manager.get("/staff/starters/"), desk.get(f"/staff/desk/people/{report}"),
                 desk.get("/staff/desk/audit/export.csv?employee_id=E1")):
        body = page.get_data(as_text=True)
        assert code not in body and tap not in body


def test_one_starters_browser_cannot_act_on_another_starters_activation(world: StaffWorld) -> None:
    ada = world.person("E1", "Ada One", email="ada@home.example")
    bob = world.person("E2", "Bob Two", email="bob@home.example")
    ada_link, bob_link = world.invite_link(ada), world.invite_link(bob)
    browser = world.app.test_client()
    ask_for_code(browser, ada_link)
    ada_code = world.code("ada@home.example")
    assert type_code(browser, bob_link, ada_code).status_code == 400  # Bob has no code for this browser
    assert world.activation(bob).state is ActivationState.INVITED
