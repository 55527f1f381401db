"""The starter's session cookie: Flask's signed cookie, re-issued when it changes or once a minute.

Flask re-signs a permanent session and sends it again on every response, so that its lifetime
(PERMANENT_SESSION_LIFETIME) counts from the last request. Signing it costs about a tenth of a
millisecond, on a request whose own work costs a couple of milliseconds. Here an unchanged cookie is
sent again only when the one the browser holds was signed REFRESH_SECONDS ago or more (the signature
carries that time): the lifetime still slides, to within a minute, and the cookie's contents are
exactly Flask's.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from itsdangerous import BadSignature

REFRESH_SECONDS = 60


class SignedAtSession(SecureCookieSession):
    """The session, with when the browser's cookie was signed (None for a new or rejected cookie)."""

    signed_at: float | None = None


class SlidingCookieSessionInterface(SecureCookieSessionInterface):
    session_class = SignedAtSession

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now

    def open_session(self, app: Flask, request: Request) -> SignedAtSession | None:
        """Flask's own open_session, keeping the signature's timestamp."""
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            data, signed_at = serializer.loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        session = self.session_class(data)
        session.signed_at = signed_at.timestamp()
        return session

    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        if session.modified:
            return True
        if not (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]):
            return False
        signed_at = getattr(session, "signed_at", None)
        return signed_at is None or self._now() - signed_at >= REFRESH_SECONDS
