"""Request size limits: bodies, fields, query values, cookies and tokens are bounded before any work."""

from __future__ import annotations

import pytest

from activation.models import ActivationState
from tests.security.starter_support import form_token, starter_world
from tests.staff_support import StaffWorld


@pytest.fixture
def world(make_settings, database_url, db_engine) -> StaffWorld:  # type: ignore[no-untyped-def]
    return starter_world(make_settings, database_url, db_engine)


def test_a_body_over_the_limit_is_413_on_every_post_form(world: StaffWorld) -> None:
    link = world.invite_link(world.person("E1"))
    client = world.app.test_client()
    token = form_token(client, "/")
    big = "x" * (world.runtime.settings.portal.max_request_bytes + 1)
    for url in ("/lost-link", f"{link}/send-code", f"{link}/code", "/staff/sign-out"):
        assert client.post(url, data={"csrf_token": token, "email": big, "code": big}).status_code == 413, url
    assert client.post("/lost-link", data=big, content_type="application/octet-stream").status_code == 413
    assert world.mailer.sent == []


def test_a_body_that_lies_about_its_length_is_cut_at_the_limit(world: StaffWorld) -> None:
    client = world.app.test_client()
    body = b"email=" + b"x" * (world.runtime.settings.portal.max_request_bytes + 1)
    answer = client.post("/lost-link", data=body, content_type="application/x-www-form-urlencoded",
                         headers={"Content-Length": "10"})
    assert answer.status_code in (400, 413)


def test_over_long_fields_are_refused_by_the_forms(world: StaffWorld) -> None:
    person = world.person("E1", state=ActivationState.LOCKED)
    link = world.invite_link(person)
    client = world.app.test_client()
    token = form_token(client, "/")
    assert client.post("/lost-link", data={"csrf_token": token, "email": "a" * 300 + "@x.example"}).status_code == 400
    desk = world.sign_in(world.staff("Dana Desk", desk=True))
    long_reason = world.post(desk, f"/staff/desk/people/{person}/unlock", data={"reason": "r" * 5000,
                                                                                 "invite": "keep"})
    assert long_reason.status_code == 400 and world.activation(person).state is ActivationState.LOCKED
    assert desk.get("/staff/desk/search?q=" + "a" * 500).status_code == 400
    assert client.get(link + "/code").status_code in (200, 302)


def test_over_long_tokens_and_cookies_are_ignored_not_processed(world: StaffWorld) -> None:
    client = world.app.test_client()
    assert client.get("/a/" + "a" * 3000).status_code == 404
    client.set_cookie("staff_session", "s" * 3000)
    assert client.get("/staff/desk/").status_code == 302
    client.set_cookie("activation", "c" * 3000)
    assert client.get("/").status_code == 200
