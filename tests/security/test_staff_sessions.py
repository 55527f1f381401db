"""Staff sessions from the attacker's side: cross-site GETs end nothing, fixation, timeouts, cookie
flags, and sign-out that really ends the session on the server."""

from __future__ import annotations

import pytest

from tests.staff_support import StaffWorld, build_world


class NoProvider:
    """A sign-in provider that must not be reached: these callbacks are answered before MSAL."""

    def begin(self, redirect_uri: str) -> dict:
        raise AssertionError("sign-in must not start for a signed-in member")

    def complete(self, flow: dict, response: object) -> dict:
        raise AssertionError("a callback without our pending sign-in must not reach the provider")


@pytest.fixture
def world(make_settings, database_url, db_engine) -> StaffWorld:  # type: ignore[no-untyped-def]
    world = build_world(make_settings, database_url, db_engine)
    world.runtime.override("staff_sign_in", NoProvider())
    return world


def signed_in(client) -> bool:  # type: ignore[no-untyped-def]
    return client.get("/staff/desk/").status_code == 200


def test_a_cross_site_get_to_sign_in_does_not_sign_staff_out(world: StaffWorld) -> None:
    desk = world.sign_in(world.staff("Dana Desk", desk=True))
    answer = desk.get("/staff/sign-in?next=/staff/desk/", headers={"Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 302 and answer.headers["Location"] == "/staff/desk/"
    assert signed_in(desk)
    assert desk.get("/staff/sign-in?next=https://evil.example/").headers["Location"] == "/staff/"


@pytest.mark.parametrize("query", ["", "?error=access_denied", "?state=x&code=y", "?error=x%0D%0AInjected%3A+1"])
def test_a_cross_site_get_to_the_callback_does_not_sign_staff_out(world: StaffWorld, query: str) -> None:
    desk = world.sign_in(world.staff("Dana Desk", desk=True))
    assert desk.get("/staff/auth/callback" + query).status_code == 400
    assert signed_in(desk)


def test_sign_out_needs_a_post_with_this_sessions_token(world: StaffWorld) -> None:
    desk = world.sign_in(world.staff("Dana Desk", desk=True))
    assert desk.get("/staff/sign-out").status_code == 405
    assert desk.post("/staff/sign-out").status_code == 400
    assert signed_in(desk)
    cookie = desk.get_cookie("staff_session").value  # type: ignore[union-attr]
    world.post(desk, "/staff/desk/", "/staff/sign-out")
    assert not signed_in(desk)
    desk.set_cookie("staff_session", cookie)
    assert not signed_in(desk)  # ended on the server, not just forgotten by the browser


def test_a_planted_session_id_is_never_adopted(world: StaffWorld) -> None:
    browser = world.app.test_client()
    browser.set_cookie("staff_session", "attacker-chosen-value")
    assert browser.get("/staff/desk/").status_code == 302
    browser.set_cookie("staff_session", "x" * 300)
    assert browser.get("/staff/desk/").status_code == 302


def test_idle_and_absolute_timeouts(world: StaffWorld) -> None:
    desk = world.sign_in(world.staff("Dana Desk", desk=True))
    world.clock.advance(29 * 60)
    assert signed_in(desk)
    world.clock.advance(31 * 60)
    assert not signed_in(desk)
    busy = world.sign_in(world.staff("Bo Busy", desk=True))
    for _ in range(17):  # active every 29 minutes for more than 8 hours
        world.clock.advance(29 * 60)
        still = signed_in(busy)
    assert not still


def test_staff_cookies_are_httponly_lax_and_secure_on_https(make_settings, database_url, db_engine) -> None:  # type: ignore[no-untyped-def]
    from activation.runtime import Runtime
    from activation.staff.auth import DESK_ROLE, StaffMember
    from portal import create_app

    settings = make_settings(database={"url": database_url}, portal={"public_url": "https://activate.example"})
    runtime = Runtime.from_settings(settings, engine=db_engine)
    member = StaffMember("oid-1", "Dana Desk", "dana@contoso.example", frozenset({DESK_ROLE}))
    session_id = runtime.staff_sessions.create({"kind": "staff", "member": member.to_data()})
    client = create_app(runtime=runtime).test_client()
    client.set_cookie("__Host-staff_session", session_id, domain="activate.example")
    page = client.get("/staff/desk/", base_url="https://activate.example")
    assert page.status_code == 200
    flask_cookie = page.headers["Set-Cookie"]
    assert flask_cookie.startswith("__Host-activation=")
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in flask_cookie
