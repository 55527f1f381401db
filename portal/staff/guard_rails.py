"""Desk guard rails in the portal (issue 16): the caller-verification step before an account-handing
action, pending requests (second agent, manager approval) and threat mode. Thin: parse, call, render.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from werkzeug.wrappers import Response
from wtforms import BooleanField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from activation import day_before
from activation.staff import access, approvals, desk_actions, threat_mode, verification
from activation.staff import funnel as desk_funnel
from activation.staff.desk_actions import DeskAction
from activation.staff.verification import METHOD_WORDS
from portal.extensions import db, request_context, runtime
from portal.forms import ButtonForm
from portal.staff.current import require_staff, signed_in
from portal.staff.forms import ReasonForm

desk_bp = Blueprint("guard", __name__, url_prefix="/desk")
manager_bp = Blueprint("approvals", __name__, url_prefix="/approvals")


class VerifiedActionForm(ReasonForm):
    invite = RadioField(
        "Invite",
        choices=[SelectChoice("keep", "Keep the current invite link working"),
                 SelectChoice("new", "Send a new invite (the old link stops working)")],
        default="keep", validators=[Optional()],
    )
    method = RadioField("How did you verify the caller?",
                        validators=[DataRequired("Choose how you verified the caller.")])
    called_back = BooleanField("I called that number and the person confirmed the request")
    reference = StringField("Reference of the identity check", validators=[Optional(), Length(max=128)])


class ThreatModeForm(ReasonForm):
    on = RadioField("Threat mode", choices=[SelectChoice("on", "On"), SelectChoice("off", "Off")],
                    validators=[DataRequired("Choose on or off.")])


def verify_form() -> VerifiedActionForm:
    form = VerifiedActionForm()
    methods = verification.configured_methods(runtime().settings.desk)
    form.method.choices = [SelectChoice(m.value, METHOD_WORDS[m]) for m in methods]
    return form


def verify_page(person_id: int, action: DeskAction, form: VerifiedActionForm | None = None,
                status: int = 200, error: str | None = None) -> tuple[str, int]:
    """The action's confirmation page with the verification step (desk.confirm_action delegates here)."""
    deps, member = runtime().deps(), require_staff()
    seen = desk_actions.preview(db(), deps, member, person_id, action, request_context())
    person = access.desk_person(db(), deps, member, person_id, desk_actions.AUDIT_ACTIONS[action], request_context())
    check = verification.caller_check(db(), deps, member, person)
    from portal.staff.desk import ACTION_PAGES

    title, button = ACTION_PAGES[action]
    return render_template("staff/desk/verify.html", action=action, seen=seen, check=check, form=form or verify_form(),
                           title=title, button=button, error=error,
                           threat_mode=threat_mode.is_on(db())), status


def submit_verified(person_id: int, action: DeskAction) -> tuple[str, int] | Response:
    """POST of an account-handing action: record the verification, run now or wait (desk.perform_action)."""
    form = verify_form()
    if not form.validate_on_submit():
        return verify_page(person_id, action, form, 400)
    try:
        made = approvals.request_action(
            db(), runtime().deps(), require_staff(), person_id, action, form.reason.data or "",
            method=form.method.data or "", called_back=bool(form.called_back.data), reference=form.reference.data,
            new_invite=action is DeskAction.UNLOCK and form.invite.data == "new", context=request_context(),
        )
    except desk_actions.InvalidReason as invalid:
        form.reason.errors = [invalid.why]
        return verify_page(person_id, action, form, 400)
    except verification.VerificationInvalid as invalid:
        return verify_page(person_id, action, form, 400, error=invalid.why)
    except approvals.RequestRefused as refused:
        return _outcome("warning", refused.why, refused.status, person_id)
    if made.status == approvals.PENDING:
        return redirect(url_for("staff.guard.request_page", request_id=made.id))
    return _outcome("success" if made.status == approvals.DONE else "warning", made.outcome or "", 200, person_id)


def dashboard_extras() -> dict[str, object]:
    """What the desk dashboard shows besides issue 13's board: waiting requests, threat mode, the funnel."""
    deps, member = runtime().deps(), require_staff()
    return {"waiting": approvals.waiting_for_desk(db(), deps, member, request_context()),
            "threat": threat_mode.current(db()), "is_lead": threat_mode.is_desk_lead(member),
            "funnel": desk_funnel.funnel(db(), deps, member, request_context())}


def person_extras(person_id: int) -> dict[str, object]:
    """What the desk's person page shows besides issue 13's page: requests waiting for this person."""
    return {"waiting": approvals.waiting_for_person(db(), runtime().deps(), require_staff(), person_id,
                                                    request_context())}


@desk_bp.get("/requests/<int:request_id>")
@signed_in
def request_page(request_id: int) -> str:
    view = approvals.desk_view(db(), runtime().deps(), require_staff(), request_id, request_context())
    return render_template("staff/desk/request.html", view=view, form=ButtonForm(),
                           mine=view.requested_by == require_staff().oid)


@desk_bp.post("/requests/<int:request_id>/approve")
@signed_in
def approve(request_id: int) -> tuple[str, int] | Response:
    if not ButtonForm().validate_on_submit():
        return redirect(url_for("staff.guard.request_page", request_id=request_id))
    try:
        view = approvals.approve_as_second_agent(db(), runtime().deps(), require_staff(), request_id,
                                                 request_context())
    except approvals.RequestRefused as refused:
        return _outcome("warning", refused.why, refused.status, None)
    return _outcome("success" if view.status == approvals.DONE else "warning",
                    view.outcome or "Approved; the request still waits for " + " and ".join(view.waiting_for) + ".",
                    200, view.person_id)


@desk_bp.post("/requests/<int:request_id>/decline")
@signed_in
def decline(request_id: int) -> tuple[str, int] | Response:
    if not ButtonForm().validate_on_submit():
        return redirect(url_for("staff.guard.request_page", request_id=request_id))
    try:
        view = approvals.decline(db(), runtime().deps(), require_staff(), request_id, request_context())
    except approvals.RequestRefused as refused:
        return _outcome("warning", refused.why, refused.status, None)
    return _outcome("success", "Declined: nothing was changed.", 200, view.person_id)


@desk_bp.get("/readiness")
@signed_in
def readiness_page() -> str:
    deps = runtime().deps()
    access.require_desk(db(), deps, require_staff(), "desk.readiness", request_context())
    return render_template("staff/desk/readiness.html", report=day_before.tomorrow(db(), deps))


@desk_bp.get("/threat-mode")
@signed_in
def threat_page() -> str:
    access.require_desk(db(), runtime().deps(), require_staff(), "desk.threat_mode", request_context())
    return render_template("staff/desk/threat_mode.html", form=ThreatModeForm(formdata=None),
                           threat=threat_mode.current(db()), is_lead=threat_mode.is_desk_lead(require_staff()))


@desk_bp.post("/threat-mode")
@signed_in
def switch_threat_mode() -> tuple[str, int]:
    form = ThreatModeForm()
    if not form.validate_on_submit():
        return render_template("staff/desk/threat_mode.html", form=form, threat=threat_mode.current(db()),
                               is_lead=threat_mode.is_desk_lead(require_staff())), 400
    try:
        now = threat_mode.switch(db(), runtime().deps(), require_staff(), form.on.data == "on",
                                 form.reason.data or "", request_context())
    except desk_actions.InvalidReason as invalid:
        form.reason.errors = [invalid.why]
        return render_template("staff/desk/threat_mode.html", form=form, threat=threat_mode.current(db()),
                               is_lead=True), 400
    message = ("Threat mode is on: every account-handing action needs two people and starters' resends pause."
               if now.on else "Threat mode is off.")
    return render_template("staff/outcome.html", kind="success", message=message,
                           back_url=url_for("staff.desk.dashboard"), back_label="Back to the desk"), 200


@manager_bp.get("/<int:request_id>")
@signed_in
def manager_page(request_id: int) -> str:
    view = approvals.manager_view(db(), runtime().deps(), require_staff(), request_id, request_context())
    return render_template("staff/approval.html", view=view, form=ButtonForm(),
                           what=desk_actions.AUDIT_ACTIONS[DeskAction(view.action)])


@manager_bp.post("/<int:request_id>/<decision>")
@signed_in
def manager_decide(request_id: int, decision: str) -> tuple[str, int] | Response:
    if decision not in ("approve", "decline") or not ButtonForm().validate_on_submit():
        return redirect(url_for("staff.approvals.manager_page", request_id=request_id))
    deps, member = runtime().deps(), require_staff()
    try:
        if decision == "approve":
            view = approvals.approve_as_manager(db(), deps, member, request_id, request_context())
        else:
            approvals.manager_view(db(), deps, member, request_id, request_context())  # 404 unless their report
            view = approvals.decline(db(), deps, member, request_id, request_context())
    except approvals.RequestRefused as refused:
        return _manager_outcome("warning", refused.why, refused.status)
    if decision == "decline":
        return _manager_outcome("success", "Declined. The service desk will not act on this request.", 200)
    if view.status == approvals.PENDING:
        return _manager_outcome("success", "Approved. A second service desk agent still has to agree.", 200)
    return _manager_outcome("success", "Approved. The service desk's action has been carried out.", 200)


def _outcome(kind: str, message: str, status: int, person_id: int | None) -> tuple[str, int]:
    back = url_for("staff.desk.person", person_id=person_id) if person_id else url_for("staff.desk.dashboard")
    return render_template("staff/outcome.html", kind=kind, message=message, back_url=back,
                           back_label="Back to the person page" if person_id else "Back to the desk"), status


def _manager_outcome(kind: str, message: str, status: int) -> tuple[str, int]:
    return render_template("staff/outcome.html", kind=kind, message=message,
                           back_url=url_for("staff.manager.starters"), back_label="Back to my new starters"), status
