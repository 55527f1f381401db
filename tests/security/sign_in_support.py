"""A browser for staff sign-in against the emulator: the portal through Flask's test client, the
emulator's account picker through requests (trusting its CA), and its control API for forged tokens."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from flask.testing import FlaskClient
from sqlalchemy import select

from activation.graph.http_session import build_http_session
from activation.models import AuditEvent
from activation.runtime import Runtime
from tests.integration.graph_fixtures import Emulator

_ACCOUNT = re.compile(r'name="account" value="([^"]+)">Sign in as ([^<]+)<')
_ACTION = re.compile(r'<form method="post" action="([^"]+)"')
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


class SignInBrowser:
    def __init__(self, runtime: Runtime, client: FlaskClient, emulator: Emulator) -> None:
        self.runtime = runtime
        self.client = client
        self.emulator = emulator
        self.web: requests.Session = build_http_session(emulator.info.ca_path)

    def cookie(self, name: str = "staff_session") -> str | None:
        cookie = self.client.get_cookie(name)
        return cookie.value if cookie is not None else None

    def start(self, next_path: str = "/staff/") -> str:
        """GET /staff/sign-in; returns the authorize URL it redirects to."""
        response = self.client.get("/staff/sign-in?" + urlencode({"next": next_path}))
        assert response.status_code == 302, response.status_code
        return response.headers["Location"]

    def pick(self, authorize_url: str, account_name: str) -> dict[str, str]:
        """Choose an account on the emulator's sign-in page; returns the callback's query values."""
        picker = self.web.get(authorize_url, timeout=10)
        assert picker.status_code == 200
        accounts = {name: oid for oid, name in _ACCOUNT.findall(picker.text)}
        action = html.unescape(_ACTION.search(picker.text).group(1))  # type: ignore[union-attr]
        chosen = self.web.post(self.emulator.base + action, data={"account": accounts[account_name]},
                               allow_redirects=False, timeout=10)
        assert chosen.status_code == 302
        return dict(parse_qsl(urlsplit(chosen.headers["Location"]).query))

    def authorize(self, account_name: str = "Dana Desk", next_path: str = "/staff/") -> dict[str, str]:
        return self.pick(self.start(next_path), account_name)

    def callback(self, query: dict[str, str]):  # type: ignore[no-untyped-def]
        return self.client.get("/staff/auth/callback?" + urlencode(query))

    def sign_in(self, account_name: str = "Dana Desk") -> None:
        response = self.callback(self.authorize(account_name))
        assert response.status_code == 302, response.get_data(as_text=True)[:500]

    @staticmethod
    def state_of(authorize_url: str) -> str:
        return dict(parse_qsl(urlsplit(authorize_url).query))["state"]

    def csrf_token(self, page_url: str = "/staff/desk/") -> str:
        page = self.client.get(page_url)
        assert page.status_code == 200, page.status_code
        return _CSRF.search(page.get_data(as_text=True)).group(1)  # type: ignore[union-attr]

    def sign_in_failures(self) -> list[AuditEvent]:
        with self.runtime.session_factory() as session:
            rows = list(session.scalars(select(AuditEvent).where(AuditEvent.action == "staff.signed_in",
                                                                 AuditEvent.outcome == "failure")
                                        .order_by(AuditEvent.id)))
            session.expunge_all()
            return rows

    def token_requests(self) -> list[dict]:
        return [r for r in self.emulator.requests_log() if str(r.get("path", "")).endswith("/oauth2/v2.0/token")]
