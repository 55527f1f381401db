"""Security headers on every kind of response, errors included, over http and https."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from activation.models import ActivationState
from tests.security.starter_support import starter_world
from tests.staff_support import StaffWorld

SAFE_REFERRER = {"no-referrer", "same-origin"}  # nothing leaks to another origin either way


@pytest.fixture
def world(make_settings, database_url, db_engine) -> StaffWorld:  # type: ignore[no-untyped-def]
    return starter_world(make_settings, database_url, db_engine)


def check(response, *, https: bool = False) -> None:  # type: ignore[no-untyped-def]
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    assert directives.get("frame-ancestors") == ["'none'"], csp
    script = directives.get("script-src") or directives.get("default-src") or []
    assert script and "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, csp
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("Referrer-Policy") in SAFE_REFERRER
    if https:
        assert headers.get("Strict-Transport-Security", "").startswith("max-age=")


def with_a_failing_route(app: Flask) -> Flask:
    def boom():  # type: ignore[no-untyped-def]
        raise RuntimeError("an unexpected failure with a secret=hunter2 inside")

    app.add_url_rule("/_test/boom", "test_boom", boom)
    return app


def test_every_kind_of_response_carries_the_headers(world: StaffWorld) -> None:
    person = world.person("E1", state=ActivationState.LOCKED)
    link = world.invite_link(person)
    desk = world.sign_in(world.staff("Dana Desk", desk=True))
    app = with_a_failing_route(world.app)
    anonymous = app.test_client()
    limit = world.runtime.settings.portal.max_request_bytes
    responses = {
        "page": anonymous.get("/"),
        "invite page": anonymous.get(link),
        "redirect": anonymous.get("/staff/desk/"),
        "404": anonymous.get("/no/such/page"),
        "unknown invite": anonymous.get("/a/nope"),
        "405": anonymous.get("/lost-link"),
        "csrf 400": anonymous.post("/lost-link", data={"email": "a@b.example"}),
        "413": anonymous.post("/lost-link", data={"email": "x" * (limit + 1)}),
        "500": anonymous.get("/_test/boom"),
        "api 401 json": anonymous.post("/api/v1/workers", json=[]),
        "static": anonymous.get("/static/" + sorted(p.name for p in Path(app.static_folder or "").iterdir()
                                                    if p.is_file())[0]),
        "healthz": anonymous.get("/healthz"),
        "desk page": desk.get("/staff/desk/"),
        "csv export": desk.get("/staff/desk/audit/export.csv?employee_id=E1"),
        "403": world.sign_in(world.staff("Morgan Manager")).get("/staff/desk/"),
        "sign-in failure": anonymous.get("/staff/auth/callback?error=x"),
    }
    statuses = {name: r.status_code for name, r in responses.items()}
    assert statuses["500"] == 500 and statuses["413"] == 413 and statuses["403"] == 403, statuses
    for name, response in responses.items():
        try:
            check(response)
        except AssertionError as failed:
            raise AssertionError(f"{name}: {failed}") from None


def test_the_error_page_shows_no_traceback_or_exception_text(world: StaffWorld) -> None:
    app = with_a_failing_route(world.app)
    body = app.test_client().get("/_test/boom").get_data(as_text=True)
    assert "Traceback" not in body and "hunter2" not in body and "RuntimeError" not in body
    assert "Something went wrong" in body


def test_pages_with_personal_data_are_not_cached(world: StaffWorld) -> None:
    link = world.invite_link(world.person("E1"))
    desk = world.sign_in(world.staff("Dana Desk", desk=True))
    for response in (world.app.test_client().get(link), desk.get("/staff/desk/"),
                     desk.get("/staff/desk/audit/export.csv?employee_id=E1")):
        assert "no-store" in response.headers.get("Cache-Control", "")


def test_https_adds_hsts_and_host_prefixed_secure_cookies(make_settings, database_url, db_engine) -> None:  # type: ignore[no-untyped-def]
    world = starter_world(make_settings, database_url, db_engine)
    from activation.runtime import Runtime
    from portal import create_app

    settings = world.runtime.settings.replace(portal={"public_url": "https://activate.example"})
    app = create_app(runtime=Runtime.from_settings(settings, engine=db_engine))
    client = app.test_client()
    for response in (client.get("/", base_url="https://activate.example"),
                     client.get("/nope", base_url="https://activate.example")):
        check(response, https=True)
    cookie = app.test_client().get("/", base_url="https://activate.example").headers.get("Set-Cookie", "")
    assert cookie.startswith("__Host-") and "Secure" in cookie and "HttpOnly" in cookie


@pytest.mark.parametrize("incoming", ["abc\r\nSet-Cookie: x=1", "<script>", "a" * 200, "short"])
def test_a_hostile_request_id_is_replaced_not_echoed(world: StaffWorld, incoming: str) -> None:
    response = world.app.test_client().get("/", headers={"X-Request-ID": incoming.replace("\r\n", " ")})
    assert response.headers["X-Request-ID"] != incoming.replace("\r\n", " ")
    assert "Set-Cookie: x=1" not in str(response.headers)
