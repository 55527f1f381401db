"""Helpers for driving the portal through Flask's test client like a browser would."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def post_form(client: FlaskClient, page_url: str, action_url: str, data: dict | None = None):  # type: ignore[no-untyped-def]
    """GET the page, take its CSRF token, POST the form: what a browser does."""
    page = client.get(page_url)
    token = csrf_token(page.get_data(as_text=True))
    return client.post(action_url, data={"csrf_token": token, **(data or {})})
