"""Staff sign-in through the real MSAL auth code flow (PKCE) against the emulator over HTTPS."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from flask.testing import FlaskClient

from activation.graph.fake import FakeGraph
from activation.graph.http_session import build_http_session
from activation.mail.fake import FakeMailer
from activation.models import AuditEvent
from activation.runtime import Runtime
from portal import create_app
from tests.integration.graph_fixtures import Emulator, running_emulator

_ACCOUNT = re.compile(r'name="account" value="([^"]+)">Sign in as ([^<]+)<')
_ACTION = re.compile(r'<form method="post" action="([^"]+)"')


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    yield from running_emulator(tmp_path)


class Browser:
    """The portal through Flask's test client; the emulator's pages through requests."""

    def __init__(self, client: FlaskClient, emulator: Emulator) -> None:
        self.client = client
        self.emulator = emulator
        self.web: requests.Session = build_http_session(emulator.info.ca_path)

    def cookie(self) -> str | None:
        cookie = self.client.get_cookie("staff_session")
        return cookie.value if cookie is not None else None

    def authorize(self, account_name: str, next_path: str = "/staff/") -> tuple[str, dict[str, str]]:
        """Start at /staff/sign-in, pick the account on the emulator's page; returns (oid, callback query)."""
        start = self.client.get("/staff/sign-in?" + urlencode({"next": next_path}))
        assert start.status_code == 302
        set_cookie = start.headers["Set-Cookie"]
        assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Path=/" in set_cookie
        authorize_url = start.headers["Location"]
        assert authorize_url.startswith(self.emulator.base + "/")
        picker = self.web.get(authorize_url, timeout=10)
        assert picker.status_code == 200
        accounts = {name: oid for oid, name in _ACCOUNT.findall(picker.text)}
        action = html.unescape(_ACTION.search(picker.text).group(1))  # type: ignore[union-attr]
        chosen = self.web.post(self.emulator.base + action, data={"account": accounts[account_name]},
                               allow_redirects=False, timeout=10)
        assert chosen.status_code == 302
        back = urlsplit(chosen.headers["Location"])
        assert f"{back.scheme}://{back.netloc}{back.path}" == "http://localhost/staff/auth/callback"
        return accounts[account_name], dict(parse_qsl(back.query))

    def callback(self, query: dict[str, str]):  # type: ignore[no-untyped-def]
        return self.client.get("/staff/auth/callback?" + urlencode(query))


@pytest.fixture
def portal(make_settings, database_url, db_engine, emulator: Emulator) -> tuple[Runtime, Browser]:  # type: ignore[no-untyped-def]
    info = emulator.info
    settings = make_settings(
        database={"url": database_url}, portal={"public_url": "http://localhost"},
        microsoft={"tenant_id": info.tenant_id, "client_id": info.client_id, "client_secret": info.client_secret,
                   "authority_host": info.base_url, "graph_url": info.base_url, "ca_bundle": info.ca_path},
    )
    runtime = Runtime.from_settings(settings, engine=db_engine)
    runtime.override("graph", FakeGraph())
    runtime.override("mailer", FakeMailer())
    return runtime, Browser(create_app(runtime=runtime).test_client(), emulator)


def _events(runtime: Runtime, action: str) -> list[AuditEvent]:
    with runtime.session_factory() as session:
        rows = list(session.query(AuditEvent).filter_by(action=action).order_by(AuditEvent.id))
        session.expunge_all()
        return rows


def test_full_sign_in_regenerates_the_session_and_takes_roles_from_the_id_token(portal) -> None:  # type: ignore[no-untyped-def]
    runtime, browser = portal
    oid, query = browser.authorize("Dana Desk", next_path="/staff/desk/")
    pending = browser.cookie()
    signed_in = browser.callback(query)
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/staff/desk/"
    assert browser.cookie() not in (None, pending)
    assert browser.client.get("/staff/desk/").status_code == 200
    event = _events(runtime, "staff.signed_in")[-1]
    assert (event.actor_id, event.outcome, event.details) == (oid, "success", {"roles": ["ServiceDesk"]})
    assert query["code"] not in repr(event.__dict__) and query["state"] not in repr(event.__dict__)

    replayed = browser.callback(query)  # the pending session was single use
    assert replayed.status_code == 400


def test_a_tampered_state_fails_and_is_audited(portal) -> None:  # type: ignore[no-untyped-def]
    runtime, browser = portal
    _oid, query = browser.authorize("Dana Desk")
    response = browser.callback({**query, "state": query["state"] + "x"})
    assert response.status_code == 400
    assert browser.client.get("/staff/desk/").status_code == 302
    failure = _events(runtime, "staff.signed_in")[-1]
    assert (failure.outcome, failure.reason) == ("failure", "state_mismatch")


def test_a_callback_without_our_pending_session_fails(portal) -> None:  # type: ignore[no-untyped-def]
    _runtime, browser = portal
    _oid, query = browser.authorize("Dana Desk")
    browser.client.delete_cookie("staff_sign_in")
    assert browser.callback(query).status_code == 400


@pytest.mark.parametrize("next_path", ["//evil.example/x", "https://evil.example/", "/\\evil.example",
                                       "javascript:alert(1)"])
def test_no_open_redirect_after_sign_in(portal, next_path: str) -> None:  # type: ignore[no-untyped-def]
    _runtime, browser = portal
    _oid, query = browser.authorize("Dana Desk", next_path=next_path)
    assert browser.callback(query).headers["Location"] == "/staff/"


def test_manager_without_the_role_is_refused_desk_pages(portal) -> None:  # type: ignore[no-untyped-def]
    runtime, browser = portal
    oid, query = browser.authorize("Morgan Manager")
    browser.callback(query)
    assert browser.client.get("/staff/desk/?role=ServiceDesk").status_code == 403
    assert browser.client.get("/staff/starters/").status_code == 200
    assert _events(runtime, "staff.access_denied")[-1].actor_id == oid


def test_sign_out_ends_the_session_here_and_at_entra(portal) -> None:  # type: ignore[no-untyped-def]
    runtime, browser = portal
    _oid, query = browser.authorize("Dana Desk")
    browser.callback(query)
    session_cookie = browser.cookie()
    page = browser.client.get("/staff/desk/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    out = browser.client.post("/staff/sign-out", data={"csrf_token": token})
    logout = html.unescape(re.search(r'id="logout-link" href="([^"]+)"', out.get_data(as_text=True)).group(1))  # type: ignore[union-attr]
    assert logout.startswith(f"{browser.emulator.base}/{browser.emulator.info.tenant_id}/oauth2/v2.0/logout?")
    at_entra = browser.web.get(logout, allow_redirects=False, timeout=10)
    assert at_entra.headers["Location"] == "http://localhost/staff/signed-out"
    assert browser.client.get("/staff/signed-out").status_code == 200
    browser.client.set_cookie("staff_session", session_cookie or "")
    assert browser.client.get("/staff/desk/").status_code == 302  # gone server-side, not just in the browser
