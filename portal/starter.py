"""The new starter's pages. Each view parses input, calls one service, renders or redirects."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from werkzeug.wrappers import Response

from activation import account_steps, codes, invites, lost_link, password_step
from activation.window import format_local
from portal.browser import browser_id
from portal.extensions import db, request_context, runtime
from portal.forms import ButtonForm, CodeForm, LostLinkForm, PasswordForm

bp = Blueprint("starter", __name__)



def _deps():  # type: ignore[no-untyped-def]
    return runtime().deps()


def _open(token: str, *, allow_completed: bool = False) -> invites.OpenInvite | Response | str:
    try:
        return invites.open_invite(db(), _deps(), token, allow_completed=allow_completed)
    except invites.InviteProblem as problem:
        return render_template(f"starter/invite_{problem.reason}.html"), 410 if problem.reason != "unknown" else 404


def _local(moment, opened: invites.OpenInvite) -> str:  # type: ignore[no-untyped-def]
    zone = opened.person.time_zone or runtime().settings.policy.default_time_zone
    return format_local(moment, zone)


def _outside(problem: codes.OutsideWindow):  # type: ignore[no-untyped-def]
    return render_template(f"starter/window_{problem.when}.html", opens=problem.opens)


@bp.get("/")
def home():  # type: ignore[no-untyped-def]
    return render_template("starter/home.html", form=LostLinkForm())


@bp.post("/lost-link")
def request_lost_link():  # type: ignore[no-untyped-def]
    form = LostLinkForm()
    if not form.validate_on_submit():
        return render_template("starter/home.html", form=form), 400
    # The lookup and the email happen in the job consumer, so this answer's timing says nothing about the address.
    lost_link.request_new_link_later(db(), _deps(), form.email.data or "", request_context())
    return render_template("starter/lost_link_sent.html")


@bp.get("/a/<token>")
def landing(token: str):  # type: ignore[no-untyped-def]
    opened = _open(token)
    if not isinstance(opened, invites.OpenInvite):
        return opened
    deps = _deps()
    try:
        codes.check_window(deps, opened)
    except codes.OutsideWindow as problem:
        return _outside(problem)
    if opened.activation.state.value == "locked":
        return render_template("starter/locked.html")
    if codes.current_code(db(), deps, opened, browser_id()) is not None:
        return redirect(url_for("starter.code", token=token))
    return render_template("starter/landing.html", person=opened.person, form=ButtonForm(), token=token)


@bp.post("/a/<token>/send-code")
def send_code(token: str):  # type: ignore[no-untyped-def]
    opened = _open(token)
    if not isinstance(opened, invites.OpenInvite):
        return opened
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        codes.request_code(db(), _deps(), opened, browser_id(), request_context())
    except codes.OutsideWindow as problem:
        return _outside(problem)
    except codes.ActivationLocked:
        return render_template("starter/locked.html")
    except codes.CooldownActive:
        return redirect(url_for("starter.code", token=token))
    except codes.CodeNotSent:
        return render_template("starter/landing.html", person=opened.person, form=ButtonForm(), token=token,
                               mail_failed=True), 503
    return redirect(url_for("starter.code", token=token))


def _code_page(token: str, opened: invites.OpenInvite, form: CodeForm, status: int = 200, **extra):  # type: ignore[no-untyped-def]
    deps = _deps()
    current = codes.current_code(db(), deps, opened, browser_id())
    if current is None:
        return render_template("starter/code_expired.html", token=token, form=ButtonForm()), status
    now = deps.clock.now()
    wait = max(0, int((current.resend_after - now).total_seconds() + 0.999))
    return render_template(
        "starter/code.html", token=token, form=form, resend_form=ButtonForm(), sent=current,
        expires=_local(current.expires_at, opened), resend_wait=wait, **extra,
    ), status


@bp.get("/a/<token>/code")
def code(token: str):  # type: ignore[no-untyped-def]
    opened = _open(token)
    if not isinstance(opened, invites.OpenInvite):
        return opened
    if opened.activation.state.value == "locked":
        return render_template("starter/locked.html")
    return _code_page(token, opened, CodeForm())


@bp.post("/a/<token>/code")
def verify(token: str):  # type: ignore[no-untyped-def]
    opened = _open(token)
    if not isinstance(opened, invites.OpenInvite):
        return opened
    form = CodeForm()
    if not form.validate_on_submit():
        return _code_page(token, opened, form, 400)
    deps = _deps()
    try:
        codes.verify_code(db(), deps, opened, browser_id(), form.code.data or "", request_context())
    except codes.OutsideWindow as problem:
        return _outside(problem)
    except codes.ActivationLocked:
        return render_template("starter/locked.html"), 403
    except codes.CodeExpired:
        return render_template("starter/code_expired.html", token=token, form=ButtonForm()), 400
    except codes.CodeRejected as rejected:
        form.code.errors = [_wrong_code_message(rejected.tries_left)]
        return _code_page(token, opened, form, 400)
    return _finish(token, opened)


@bp.post("/a/<token>/finish")
def finish(token: str):  # type: ignore[no-untyped-def]
    opened = _open(token)
    if not isinstance(opened, invites.OpenInvite):
        return opened
    if not ButtonForm().validate_on_submit():
        abort(400)
    return _finish(token, opened)


def _finish(token: str, opened: invites.OpenInvite):  # type: ignore[no-untyped-def]
    try:
        issued = account_steps.finish(db(), _deps(), opened, browser_id(), request_context())
    except account_steps.StepsInProgress:
        return render_template("starter/in_progress.html", token=token, form=ButtonForm()), 409
    except account_steps.ResumeNotAllowed:
        return render_template("starter/code_expired.html", token=token, form=ButtonForm()), 400
    except account_steps.AccountStepFailed as failed:
        template = "starter/try_again.html" if failed.retryable else "starter/needs_desk.html"
        return render_template(template, token=token, form=ButtonForm()), 503 if failed.retryable else 500
    settings = runtime().settings
    return render_template(
        "starter/result.html", issued=issued, expires=_local(issued.expires_at, opened),
        security_info_url=settings.portal.my_security_info_url, token=token,
        password_form=PasswordForm() if settings.policy.password_path else None,
        password_advice=password_step.COMPLEXITY_ADVICE,
    )


@bp.post("/a/<token>/password")
def set_password(token: str):  # type: ignore[no-untyped-def]
    opened = _open(token, allow_completed=True)
    if not isinstance(opened, invites.OpenInvite):
        return opened
    form = PasswordForm()
    if not form.validate_on_submit():
        return render_template("starter/password.html", form=form, token=token,
                               password_advice=password_step.COMPLEXITY_ADVICE), 400
    try:
        password_step.set_password(db(), _deps(), opened, browser_id(), form.password.data or "",
                                   form.confirmation.data or "", request_context())
    except password_step.PasswordNotAllowed:
        return render_template("starter/password_closed.html"), 403
    except password_step.PasswordRejected as rejected:
        form.password.errors = [rejected.advice]
        return render_template("starter/password.html", form=form, token=token,
                               password_advice=password_step.COMPLEXITY_ADVICE), 400
    except password_step.PasswordNotSet:
        return render_template("starter/password_closed.html", unavailable=True), 503
    return render_template("starter/password_set.html",
                           security_info_url=runtime().settings.portal.my_security_info_url)


def _wrong_code_message(tries_left: int) -> str:
    if tries_left <= 0:
        return "That code is not right, and it cannot be tried again. Ask for a new code below."
    plural = "try" if tries_left == 1 else "tries"
    return f"That code is not right. Check the latest email and try again ({tries_left} {plural} left for this code)."
