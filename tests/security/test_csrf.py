"""CSRF from the attacker's side: every POST route needs a token, and staff tokens belong to one staff
session (a token and cookie taken from any other session do not fit a victim's staff cookie)."""

from __future__ import annotations

import pytest
from flask import Flask

from activation.models import ActivationState
from tests.portal_support import csrf_token
from tests.staff_support import StaffWorld, build_world

BEARER_ONLY = {"api.push_workers"}  # no cookies at all: a bearer key on every call


@pytest.fixture
def world(make_settings, database_url, db_engine) -> StaffWorld:  # type: ignore[no-untyped-def]
    return build_world(make_settings, database_url, db_engine)


def post_routes(app: Flask) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "POST" not in (rule.methods or ()) or rule.endpoint in BEARER_ONLY:
            continue
        values = {name: (1 if f"<int:{name}>" in rule.rule else "cancel") for name in rule.arguments}
        with app.test_request_context():
            from flask import url_for

            urls.append(url_for(rule.endpoint, **values))
    return urls


def test_the_app_has_the_post_routes_we_expect_to_protect(world: StaffWorld) -> None:
    routes = post_routes(world.app)
    assert "/staff/sign-out" in routes and "/staff/desk/people/1/cancel" in routes and "/lost-link" in routes
    assert len(routes) >= 8


def test_every_post_route_refuses_a_missing_token_signed_in_or_not(world: StaffWorld) -> None:
    desk = world.sign_in(world.staff("Dana Desk", desk=True))
    anonymous = world.app.test_client()
    for url in post_routes(world.app):
        for client in (anonymous, desk):
            answer = client.post(url, data={"reason": "Ticket 1234 from the caller", "invite": "keep"})
            assert answer.status_code == 400, url
            assert "This form has expired" in answer.get_data(as_text=True), url


def test_every_post_route_refuses_a_forged_token(world: StaffWorld) -> None:
    client = world.app.test_client()
    for url in post_routes(world.app):
        assert client.post(url, data={"csrf_token": "IjEyMyI.forged.token"}).status_code == 400, url


def _anonymous_token(world: StaffWorld) -> tuple[str, str]:
    attacker = world.app.test_client()
    token = csrf_token(attacker.get("/").get_data(as_text=True))
    cookie = attacker.get_cookie("activation")
    assert cookie is not None
    return token, cookie.value


def test_an_attackers_token_and_cookie_do_not_fit_a_victims_staff_session(world: StaffWorld) -> None:
    person = world.person("E1")
    victim = world.sign_in(world.staff("Dana Desk", desk=True))
    victim_staff_cookie = victim.get_cookie("staff_session").value  # type: ignore[union-attr]
    token, attacker_cookie = _anonymous_token(world)

    forged = world.app.test_client()
    forged.set_cookie("activation", attacker_cookie)
    forged.set_cookie("staff_session", victim_staff_cookie)
    answer = forged.post(f"/staff/desk/people/{person}/cancel", data={"csrf_token": token,
                                                                       "reason": "Offer withdrawn by HR"})
    assert answer.status_code == 400
    assert world.activation(person).state is not ActivationState.CANCELLED


def test_another_staff_members_token_does_not_fit_either(world: StaffWorld) -> None:
    person = world.person("E1")
    victim = world.sign_in(world.staff("Dana Desk", desk=True))
    attacker = world.sign_in(world.staff("Carl Curious", desk=True))
    token = csrf_token(attacker.get(f"/staff/desk/people/{person}/cancel").get_data(as_text=True))
    forged = world.app.test_client()
    forged.set_cookie("activation", attacker.get_cookie("activation").value)  # type: ignore[union-attr]
    forged.set_cookie("staff_session", victim.get_cookie("staff_session").value)  # type: ignore[union-attr]
    answer = forged.post(f"/staff/desk/people/{person}/cancel", data={"csrf_token": token,
                                                                       "reason": "Offer withdrawn by HR"})
    assert answer.status_code == 400
    assert world.activation(person).state is not ActivationState.CANCELLED


def test_a_token_from_before_sign_in_does_not_work_after_it(world: StaffWorld) -> None:
    person = world.person("E1")
    browser = world.app.test_client()
    token = csrf_token(browser.get("/").get_data(as_text=True))  # planted before the staff session
    world.sign_in(world.staff("Dana Desk", desk=True), browser)
    answer = browser.post(f"/staff/desk/people/{person}/cancel", data={"csrf_token": token,
                                                                        "reason": "Offer withdrawn by HR"})
    assert answer.status_code == 400
    assert world.activation(person).state is not ActivationState.CANCELLED


def test_the_staff_members_own_form_still_works(world: StaffWorld) -> None:
    person = world.person("E1")
    desk = world.sign_in(world.staff("Dana Desk", desk=True))
    done = world.post(desk, f"/staff/desk/people/{person}/cancel", data={"reason": "Offer withdrawn by HR"})
    assert done.status_code in (200, 302)
    assert world.activation(person).state is ActivationState.CANCELLED
