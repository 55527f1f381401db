"""Staff sign-in through Entra ID, the callback, and sign-out. Thin: the work is in activation.staff.login."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from activation.staff import login
from activation.staff.auth import SignInFailed, safe_next_path
from portal.extensions import db, request_context, runtime
from portal.forms import ButtonForm
from portal.staff.current import (
    PENDING_COOKIE,
    clear_session_cookie,
    current_staff,
    pending_id,
    session_id,
    set_session_cookie,
    signed_in,
)

bp = Blueprint("auth", __name__)

CALLBACK_PARAMETERS = ("code", "state", "error", "error_description")


@bp.get("/")
@signed_in
def index() -> Response:
    member = current_staff()
    target = "staff.desk.dashboard" if member is not None and member.is_desk else "staff.manager.starters"
    return redirect(url_for(target))


@bp.get("/sign-in")
def sign_in() -> Response:
    if current_staff() is not None:  # already signed in: a GET here (cross-site or not) ends nothing
        return redirect(safe_next_path(request.args.get("next")))
    rt = runtime()
    try:
        started = login.start_sign_in(rt.staff_sessions, rt.staff_sign_in, rt.deps(), request.args.get("next"))
    except SignInFailed:
        return _failed()
    return set_session_cookie(redirect(started.authorize_url), started.session_id, PENDING_COOKIE)


@bp.get("/auth/callback")
def callback() -> Response:
    rt = runtime()
    values = {key: request.args[key] for key in CALLBACK_PARAMETERS if key in request.args}
    try:
        signed = login.complete_sign_in(db(), rt.staff_sessions, rt.staff_sign_in, rt.deps(), pending_id(),
                                        values, request_context(), current_id=session_id())
    except SignInFailed:
        return clear_session_cookie(_failed(), PENDING_COOKIE)  # a live staff session stays
    session.pop("csrf_token", None)  # a fresh CSRF token for the fresh session
    response = clear_session_cookie(redirect(signed.next_path), PENDING_COOKIE)
    return set_session_cookie(response, signed.session_id)


@bp.post("/sign-out")
def sign_out() -> Response:
    if not ButtonForm().validate_on_submit():
        return redirect(url_for("staff.auth.index"))
    done = login.sign_out(db(), runtime().staff_sessions, runtime().deps(), session_id(), request_context())
    # Not a 302: browsers apply CSP `form-action 'self'` to a form's redirects, which would block the
    # hop to Entra's logout. The page sends the browser on by a meta refresh and a plain link.
    g.staff_member = None
    page = render_template("staff/signing_out.html", logout_url=done.logout_url)
    return clear_session_cookie(Response(page, status=200, mimetype="text/html"))


@bp.get("/signed-out")
def signed_out() -> str:
    return render_template("staff/signed_out.html")


def _failed() -> Response:
    page = render_template("staff/sign_in_failed.html")
    return Response(page, status=400, mimetype="text/html")
