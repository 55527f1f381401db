"""The starter's cookie: an opaque browser id and the CSRF value only, with safe flags; the pass is
shown once; a planted cookie gives an attacker nothing."""

from __future__ import annotations

import hashlib
import re
import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from tests.security.starter_support import ask_for_code, form_token, starter_world, type_code
from tests.staff_support import StaffWorld


@pytest.fixture
def world(make_settings, database_url, db_engine) -> StaffWorld:  # type: ignore[no-untyped-def]
    return starter_world(make_settings, database_url, db_engine)


def cookie_contents(world: StaffWorld, value: str) -> dict:
    # Flask's own cookie format (itsdangerous, salt "cookie-session", HMAC-SHA1): what an attacker who
    # holds the cookie can read without the key is the same payload, unsigned.
    serializer = URLSafeTimedSerializer(world.runtime.settings.secret_key, salt="cookie-session",
                                        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1})
    return serializer.loads(value)


def test_the_cookie_holds_only_opaque_ids_whatever_the_starter_did(world: StaffWorld) -> None:
    person = world.person("EMPLOYEE-7781")
    link = world.invite_link(person)
    browser = world.app.test_client()
    ask_for_code(browser, link)
    code = world.code()
    result = type_code(browser, link, code).get_data(as_text=True)
    tap = re.search(r'id="tap">([^<]+)<', result).group(1)  # type: ignore[union-attr]
    raw = browser.get_cookie("activation").value  # type: ignore[union-attr]
    contents = cookie_contents(world, raw)
    assert set(contents) <= {"bid", "csrf_token", "_permanent"}
    for secret in (code, tap, "grace@home", "Grace Hopper", "EMPLOYEE-7781", link.removeprefix("/a/")):
        assert secret not in repr(contents) and secret not in raw


def test_cookie_flags_on_http(world: StaffWorld) -> None:
    response = world.app.test_client().get("/")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie


def test_the_pass_is_shown_once_and_never_again(world: StaffWorld) -> None:
    person = world.person("E1")
    link = world.invite_link(person)
    browser = world.app.test_client()
    ask_for_code(browser, link)
    first = type_code(browser, link, world.code())
    tap = re.search(r'id="tap">([^<]+)<', first.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    assert first.headers["Cache-Control"] == "no-store"
    for again in (browser.get(link), browser.get(f"{link}/code"),
                  browser.post(f"{link}/finish", data={"csrf_token": form_token(browser, "/")})):
        assert tap not in again.get_data(as_text=True)


def test_a_planted_cookie_does_not_hand_the_attacker_the_victims_code(world: StaffWorld) -> None:
    person = world.person("E1")
    link = world.invite_link(person)
    attacker = world.app.test_client()
    attacker.get("/")
    planted = attacker.get_cookie("activation").value  # type: ignore[union-attr]
    victim = world.app.test_client()
    victim.set_cookie("activation", planted)  # cookie tossing: the victim now uses the attacker's browser id
    ask_for_code(victim, link)
    # The attacker shares the browser id but not the mailbox: without the code there is nothing to type,
    # and guessing is held by the same five tries as anyone's.
    for guess in ("000000", "123456", "111111", "999999", "654321"):
        type_code(attacker, link, guess)
    assert type_code(victim, link, world.code()).status_code in (200, 400)
    assert world.activation(person).failed_code_count <= 5


def test_a_forged_cookie_is_ignored(world: StaffWorld) -> None:
    client = world.app.test_client()
    forged = URLSafeTimedSerializer("not-our-key", salt="cookie-session").dumps({"bid": "x" * 43})
    client.set_cookie("activation", forged)
    client.get("/")
    assert client.get_cookie("activation").value != forged  # type: ignore[union-attr]


def test_an_unchanged_cookie_is_sent_again_once_a_minute_so_its_lifetime_still_slides(world: StaffWorld) -> None:
    from portal.sessions import REFRESH_SECONDS, SlidingCookieSessionInterface

    later = [0.0]
    world.app.session_interface = SlidingCookieSessionInterface(now=lambda: time.time() + later[0])
    link = world.invite_link(world.person("E1"))
    browser = world.app.test_client()
    ask_for_code(browser, link)  # the browser id goes into a cookie with a lifetime
    assert browser.get_cookie("activation").expires is not None  # type: ignore[union-attr]
    contents = cookie_contents(world, browser.get_cookie("activation").value)  # type: ignore[union-attr]
    assert "Set-Cookie" not in browser.get(f"{link}/code").headers  # signed a moment ago, nothing changed

    later[0] = REFRESH_SECONDS + 1
    again = browser.get(f"{link}/code")
    assert "Expires=" in again.headers["Set-Cookie"]  # its lifetime counts from now again
    assert cookie_contents(world, browser.get_cookie("activation").value) == contents  # type: ignore[union-attr]


def test_a_changed_cookie_is_sent_at_once(world: StaffWorld) -> None:
    browser = world.app.test_client()
    first = browser.get("/")  # the CSRF secret: a new cookie
    assert "Set-Cookie" in first.headers
    landing = browser.get(world.invite_link(world.person("E1")))  # now with the browser id
    assert "Expires=" in landing.headers["Set-Cookie"]
    assert "bid" in cookie_contents(world, browser.get_cookie("activation").value)  # type: ignore[union-attr]
