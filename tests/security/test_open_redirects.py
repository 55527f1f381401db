"""No redirect or emailed link can be pointed at another site: `next` after sign-in, the Host header,
and the logout hop."""

from __future__ import annotations

import html
import re

import pytest

from tests.security.sign_in_support import SignInBrowser
from tests.security.starter_support import form_token, starter_world
from tests.staff_support import StaffWorld

HOSTILE_NEXT = ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)",
                "/%2F%2Fevil.example", "\\\\evil.example", "http:evil.example", "/staff/\r\nLocation: https://evil",
                "%0d%0aLocation:%20https://evil.example", "//%09/evil.example"]


@pytest.fixture
def world(make_settings, database_url, db_engine) -> StaffWorld:  # type: ignore[no-untyped-def]
    return starter_world(make_settings, database_url, db_engine)


@pytest.mark.parametrize("next_path", HOSTILE_NEXT)
def test_next_after_a_real_sign_in_stays_on_our_site(sign_in_portal: SignInBrowser, next_path: str) -> None:
    browser = sign_in_portal
    response = browser.callback(browser.authorize("Dana Desk", next_path=next_path))
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\")) and "evil" not in location


@pytest.mark.parametrize("next_path", HOSTILE_NEXT)
def test_next_when_already_signed_in_stays_on_our_site(world: StaffWorld, next_path: str) -> None:
    desk = world.sign_in(world.staff("Dana Desk", desk=True))
    location = desk.get("/staff/sign-in", query_string={"next": next_path}).headers["Location"]
    assert location == "/staff/"


def test_emailed_links_ignore_the_host_header(world: StaffWorld) -> None:
    world.person("E1")
    client = world.app.test_client()
    token = form_token(client, "/")
    for name in ("activation",):  # the browser's cookies, as a request to the hostile host name would carry
        client.set_cookie(name, client.get_cookie(name).value, domain="evil.example")  # type: ignore[union-attr]
    answer = client.post("/lost-link", data={"csrf_token": token, "email": "grace@home.example"},
                         base_url="http://evil.example", headers={"X-Forwarded-Host": "evil.example"})
    assert answer.status_code == 200
    mail = world.mailer.sent_to("grace@home.example", "invite")[-1]
    links = re.findall(r"https?://[^\s\"'<>]+", mail.text + (mail.html or ""))
    assert links and all(link.startswith(world.runtime.settings.portal.public_url) for link in links
                         if "/a/" in link)
    assert "evil.example" not in mail.text + (mail.html or "")


def test_the_logout_hop_is_built_from_settings_not_the_request(world: StaffWorld) -> None:
    desk = world.sign_in(world.staff("Dana Desk", desk=True))
    token = form_token(desk, "/staff/desk/")
    for name in ("activation", "staff_session"):
        desk.set_cookie(name, desk.get_cookie(name).value, domain="evil.example")  # type: ignore[union-attr]
    out = desk.post("/staff/sign-out", data={"csrf_token": token}, base_url="http://evil.example")
    page = out.get_data(as_text=True)
    logout = html.unescape(re.search(r'id="logout-link" href="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    assert logout.startswith(world.runtime.settings.microsoft.authority) and "evil.example" not in logout
