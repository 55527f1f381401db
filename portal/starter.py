"""The new starter's pages. Each view parses input, calls one service, renders or redirects."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from activation import account_steps, code_limits, codes, invites, lost_link, lost_tap, password_step
from activation.staff import threat_mode
from activation.window import format_duration, format_local, format_local_and_utc, zone_for
from portal.browser import browser_id
from portal.extensions import db, request_context, runtime
from portal.forms import ButtonForm, CodeForm, LostLinkForm, PasswordForm

bp = Blueprint("starter", __name__)



def _deps():  # type: ignore[no-untyped-def]
    return runtime().deps()


def _open(token: str, *, allow_completed: bool = False) -> invites.OpenInvite | Response | str:
    deps = _deps()
    try:
        invite_id = invites.invite_id_from_token(deps, token)  # before the database: a forged link stops here
        return invites.open_invite_by_id(db(), deps, invite_id, allow_completed=allow_completed)
    except invites.InviteProblem as problem:
        if problem.reason == "completed" and problem.person is not None:
            return _completed(token, problem.person)
        return render_template(f"starter/invite_{problem.reason}.html"), 410 if problem.reason != "unknown" else 404


def _completed(token: str, person, status: int = 200, **extra):  # type: ignore[no-untyped-def]
    """The activated starter's page: the pass is never shown again, but a lost one can be replaced."""
    new_pass = lost_tap.status(db(), _deps(), person)
    return render_template("starter/invite_completed.html", token=token, new_pass=new_pass.value,
                           form=ButtonForm(), security_info_url=runtime().settings.portal.my_security_info_url,
                           **extra), status


def _local(moment, opened: invites.OpenInvite) -> str:  # type: ignore[no-untyped-def]
    zone = opened.person.time_zone or runtime().settings.policy.default_time_zone
    return format_local(moment, zone)


def _clock_time(moment, opened: invites.OpenInvite) -> str:  # type: ignore[no-untyped-def]
    """`09:31:05 (Europe/London time)`: for the resend cooldown, seconds matter."""
    zone = zone_for(opened.person.time_zone, runtime().settings.policy)
    return f"{moment.astimezone(zone):%H:%M:%S} ({zone.key} time)"


def _outside(problem: codes.OutsideWindow):  # type: ignore[no-untyped-def]
    return render_template(f"starter/window_{problem.when}.html", opens=problem.opens)


def _see(endpoint: str, **values) -> Response:  # type: ignore[no-untyped-def]
    """Post/redirect/get: a reload repeats the GET, never the form."""
    return redirect(url_for(endpoint, **values), code=303)


@bp.get("/")
def home():  # type: ignore[no-untyped-def]
    return render_template("starter/home.html", form=LostLinkForm())


@bp.post("/lost-link")
def request_lost_link():  # type: ignore[no-untyped-def]
    form = LostLinkForm()
    if not form.validate_on_submit():
        return render_template("starter/home.html", form=form), 400
    if threat_mode.self_service_paused(db()):  # issue 16: threat mode pauses lost-link requests
        return render_template("starter/paused.html"), 503
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
    if opened.activation.state.value == "failed":
        return render_template("starter/needs_desk.html")
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
    if opened.activation.state.value == "failed":
        return render_template("starter/needs_desk.html"), 409
    if codes.is_resend(opened) and threat_mode.self_service_paused(db()):  # issue 16: resends pause
        return render_template("starter/paused.html"), 503
    try:
        codes.request_code(db(), _deps(), opened, browser_id(), request_context())
    except codes.OutsideWindow as problem:
        return _outside(problem)
    except codes.ActivationLocked:
        return render_template("starter/locked.html")
    except codes.CooldownActive:
        return _see("starter.code", token=token, early=1)
    except code_limits.CodeLimitReached as reached:
        return render_template("starter/code_limit.html", limit=reached.limit), 429
    except codes.CodeNotSent:
        return render_template("starter/landing.html", person=opened.person, form=ButtonForm(), token=token,
                               mail_failed=True), 503
    return redirect(url_for("starter.code", token=token))


def _code_page(token: str, opened: invites.OpenInvite, form: CodeForm, status: int = 200, *,
               wrong: bool = False):  # type: ignore[no-untyped-def]
    deps = _deps()
    current = codes.current_code(db(), deps, opened, browser_id())
    if current is None:
        return render_template("starter/code_expired.html", token=token, form=ButtonForm()), status
    if wrong and current.wrong_tries and not form.code.errors:
        form.code.errors = [wrong_code_message(current.tries_left, current.failures_left)]
        status = 400
    now = deps.clock.now()
    wait = max(0, int((current.resend_after - now).total_seconds() + 0.999))
    return render_template(
        "starter/code.html", token=token, form=form, resend_form=ButtonForm(), sent=current,
        expires=_local(current.expires_at, opened), resend_wait=wait,
        resend_at=_clock_time(current.resend_after, opened), pause_warning=pause_warning(current),
        too_early=request.args.get("early") == "1" and wait > 0,
    ), status


@bp.get("/a/<token>/code")
def code(token: str):  # type: ignore[no-untyped-def]
    opened = _open(token)
    if not isinstance(opened, invites.OpenInvite):
        return opened
    if opened.activation.state.value == "locked":
        return render_template("starter/locked.html")
    return _code_page(token, opened, CodeForm(), wrong=request.args.get("wrong") == "1")


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
    except codes.CodeUsedUp:
        return _see("starter.code", token=token)
    except codes.CodeExpired:
        return render_template("starter/code_expired.html", token=token, form=ButtonForm()), 400
    except codes.CodeRejected:
        return _see("starter.code", token=token, wrong=1)
    return _see("starter.result", token=token)


@bp.post("/a/<token>/finish")
def finish(token: str):  # type: ignore[no-untyped-def]
    opened = _open(token)
    if not isinstance(opened, invites.OpenInvite):
        return opened
    if not ButtonForm().validate_on_submit():
        abort(400)
    return _see("starter.result", token=token)


@bp.get("/a/<token>/pass")
def result(token: str):  # type: ignore[no-untyped-def]
    """The account steps run here, for the browser that has just proved the code (bound to it, within
    the short retry window); mail scanners cannot get here. Once completed, this URL shows the
    activated page: a reload never shows the pass again and never resubmits a form."""
    opened = _open(token)
    if not isinstance(opened, invites.OpenInvite):
        return opened
    try:
        issued = account_steps.finish(db(), _deps(), opened, browser_id(), request_context())
    except account_steps.StepsInProgress:
        return render_template("starter/in_progress.html", token=token, form=ButtonForm()), 409
    except account_steps.ResumeNotAllowed:
        return render_template("starter/code_expired.html", token=token, form=ButtonForm()), 400
    except account_steps.AccountStepFailed as failed:
        template = "starter/try_again.html" if failed.retryable else "starter/needs_desk.html"
        return render_template(template, token=token, form=ButtonForm()), 503 if failed.retryable else 409
    settings = runtime().settings
    return render_template(
        "starter/result.html", issued=issued,
        expires=format_local_and_utc(issued.expires_at, zone_for(opened.person.time_zone, settings.policy).key),
        lifetime=format_duration(issued.lifetime_minutes),
        security_info_url=settings.portal.my_security_info_url, token=token,
        password_form=PasswordForm() if settings.policy.password_path else None,
        password_advice=password_step.COMPLEXITY_ADVICE,
    )


@bp.post("/a/<token>/new-pass")
def new_pass(token: str):  # type: ignore[no-untyped-def]
    """A starter who lost their pass: re-check the rule, email a fresh code, move to the code page."""
    opened = _open(token, allow_completed=True)
    if not isinstance(opened, invites.OpenInvite):
        return opened
    if not ButtonForm().validate_on_submit():
        abort(400)
    if threat_mode.self_service_paused(db()):  # a new pass by self-service waits too while threat mode is on
        return render_template("starter/paused.html"), 503
    try:
        new_token = lost_tap.start(db(), _deps(), opened, browser_id(), request_context())
    except lost_tap.NewPassRefused:
        return _completed(token, opened.person, 409)
    except codes.OutsideWindow as problem:
        return _outside(problem)
    except codes.CooldownActive as wait:
        return _completed(token, opened.person, 429, wait_seconds=wait.seconds_left)
    except codes.CodeNotSent:
        return _completed(token, opened.person, 503, mail_failed=True)
    return _see("starter.code", token=new_token)


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


def _codes(count: int) -> str:
    return f"{count} more wrong code" + ("" if count == 1 else "s")


def pause_warning(current: codes.CodeSent) -> str | None:
    """Said before the pause happens: once the wrong codes left fit in this code's tries (or fewer)."""
    if current.failures_left <= 0 or current.failures_left > runtime().settings.policy.otp_max_attempts:
        return None
    return (f"After {_codes(current.failures_left)} your activation will be paused, and only the service desk "
            "can restart it.")


def wrong_code_message(tries_left: int, failures_left: int) -> str:
    if tries_left <= 0:
        return "That code is not right, and it cannot be tried again. Ask for a new code below."
    if failures_left <= tries_left:
        return "That code is not right. Check the latest email and try again."
    plural = "try" if tries_left == 1 else "tries"
    return f"That code is not right. Check the latest email and try again ({tries_left} {plural} left for this code)."
