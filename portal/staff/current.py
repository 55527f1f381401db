"""The signed-in staff member for this request, from the server-side session named by our cookie."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any

from flask import g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response

from activation.staff import login
from activation.staff.auth import StaffMember
from portal.extensions import runtime

COOKIE = "staff_session"
CSRF_SESSION_KEY = "csrf_token"  # where flask-wtf keeps the raw value it signs (WTF_CSRF_FIELD_NAME)
PENDING_COOKIE = "staff_sign_in"  # the pending sign-in has its own cookie, so starting one ends nothing


def cookie_name(base: str = COOKIE) -> str:
    return ("__Host-" + base) if _https() else base


def _https() -> bool:
    return runtime().settings.portal.public_url.startswith("https://")


def session_id() -> str | None:
    return request.cookies.get(cookie_name())


def pending_id() -> str | None:
    return request.cookies.get(cookie_name(PENDING_COOKIE))


def load_current_staff() -> None:
    """before_request for staff pages: re-read (and touch) the server-side session on every request.

    With a live staff session, the CSRF value flask-wtf signs is the one bound to that session
    (`login.csrf_value`). flask-wtf has already checked (app-wide, before this runs) that the posted
    token fits the value in the Flask cookie; here a POST is refused unless that value is this staff
    session's own, so an attacker's token and cookie cannot ride on a victim's staff cookie.
    """
    raw_id = session_id()
    g.staff_member = login.current_member(runtime().staff_sessions, raw_id)
    if g.staff_member is None or raw_id is None:
        return
    bound = login.csrf_value(runtime().settings.secret_key, raw_id)
    held = session.get(CSRF_SESSION_KEY)
    if request.method == "POST" and not (isinstance(held, str) and hmac.compare_digest(held, bound)):
        raise CSRFError("The CSRF token does not belong to this staff session.")
    if held != bound:
        session[CSRF_SESSION_KEY] = bound


def current_staff() -> StaffMember | None:
    return g.get("staff_member")


def require_staff() -> StaffMember:
    member = current_staff()
    assert member is not None, "views using require_staff() must be wrapped in @signed_in"
    return member


def signed_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send anyone without a live staff session to sign in, then back here."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_staff() is None:
            back = request.full_path.rstrip("?") if request.method == "GET" else request.path
            return redirect(url_for("staff.auth.sign_in", next=back))
        return view(*args, **kwargs)

    return wrapper


def set_session_cookie(response: Response, value: str, base: str = COOKIE) -> Response:
    """Only the opaque id; a browser-session cookie (the server enforces the timeouts)."""
    response.set_cookie(cookie_name(base), value, secure=_https(), httponly=True, samesite="Lax", path="/")
    return response


def clear_session_cookie(response: Response, base: str = COOKIE) -> Response:
    response.delete_cookie(cookie_name(base), secure=_https(), httponly=True, samesite="Lax", path="/")
    return response
