"""The signed-in staff member for this request, from the server-side session named by our cookie."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import g, redirect, request, url_for
from werkzeug.wrappers import Response

from activation.staff import login
from activation.staff.auth import StaffMember
from portal.extensions import runtime

COOKIE = "staff_session"


def cookie_name() -> str:
    return ("__Host-" + COOKIE) if _https() else COOKIE


def _https() -> bool:
    return runtime().settings.portal.public_url.startswith("https://")


def session_id() -> str | None:
    return request.cookies.get(cookie_name())


def load_current_staff() -> None:
    """before_request for staff pages: re-read (and touch) the server-side session on every request."""
    g.staff_member = login.current_member(runtime().staff_sessions, session_id())


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


def set_session_cookie(response: Response, value: str) -> Response:
    """Only the opaque id; a browser-session cookie (the server enforces the timeouts)."""
    response.set_cookie(cookie_name(), value, secure=_https(), httponly=True, samesite="Lax", path="/")
    return response


def clear_session_cookie(response: Response) -> Response:
    response.delete_cookie(cookie_name(), secure=_https(), httponly=True, samesite="Lax", path="/")
    return response
