"""Service desk pages: dashboard, search, person page with timeline, actions with reasons, audit export."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request, url_for

from activation.staff import audit_export, desk_actions, search, timeline
from activation.staff import dashboard as desk_dashboard
from activation.staff.desk_actions import DeskAction
from activation.staff.verification import needs_verification
from portal.extensions import db, request_context, runtime
from portal.staff import guard_rails
from portal.staff.current import require_staff, signed_in
from portal.staff.forms import AuditExportForm, ReasonForm, SearchForm, UnlockForm

bp = Blueprint("desk", __name__, url_prefix="/desk")

ACTION_PAGES = {
    DeskAction.UNLOCK: ("Unlock this activation", "Unlock"),
    DeskAction.RESEND_INVITE: ("Resend the invite", "Resend invite"),
    DeskAction.REVOKE_TAP: ("Revoke the Temporary Access Pass", "Revoke pass"),
    DeskAction.RESET: ("Reset the activation to “invited”", "Reset activation"),
    DeskAction.CANCEL: ("Cancel this activation", "Cancel activation"),
}


def _action(name: str) -> DeskAction:
    try:
        return DeskAction(name)
    except ValueError:
        abort(404)


def _form(action: DeskAction) -> ReasonForm:
    return UnlockForm() if action is DeskAction.UNLOCK else ReasonForm()


@bp.get("/")
@signed_in
def dashboard() -> str:
    board = desk_dashboard.summary(db(), runtime().deps(), require_staff(), request_context())
    return render_template("staff/desk/dashboard.html", board=board, guard=guard_rails.dashboard_extras())


@bp.get("/search")
@signed_in
def search_page() -> tuple[str, int]:
    form = SearchForm(formdata=request.args)
    valid = form.validate()
    results = search.search_people(db(), runtime().deps(), require_staff(), (form.q.data or "") if valid else "",
                                   (form.page.data or 1) if valid else 1, request_context())
    return render_template("staff/desk/search.html", form=form, results=results), 200 if valid else 400


@bp.get("/people/<int:person_id>")
@signed_in
def person(person_id: int) -> str:
    page = timeline.person_page(db(), runtime().deps(), require_staff(), person_id, request_context())
    return render_template("staff/desk/person.html", page=page, actions=ACTION_PAGES,
                           guard=guard_rails.person_extras(person_id))


@bp.get("/people/<int:person_id>/<name>")
@signed_in
def confirm_action(person_id: int, name: str) -> str | tuple[str, int]:
    action = _action(name)
    if needs_verification(action.value):  # issue 16: verify the caller first
        return guard_rails.verify_page(person_id, action)
    seen = desk_actions.preview(db(), runtime().deps(), require_staff(), person_id, action, request_context())
    return _action_page(action, seen, _form(action))


@bp.post("/people/<int:person_id>/<name>")
@signed_in
def perform_action(person_id: int, name: str) -> tuple[str, int] | Response:
    action = _action(name)
    if needs_verification(action.value):  # issue 16: verified caller, second agent, manager approval
        return guard_rails.submit_verified(person_id, action)
    form = _form(action)
    deps, member = runtime().deps(), require_staff()
    if not form.validate_on_submit():
        seen = desk_actions.preview(db(), deps, member, person_id, action, request_context())
        return _action_page(action, seen, form), 400
    new_invite = isinstance(form, UnlockForm) and form.invite.data == "new"
    try:
        done = desk_actions.perform(db(), deps, member, person_id, action, form.reason.data or "",
                                    new_invite=new_invite, context=request_context())
    except desk_actions.InvalidReason as invalid:
        form.reason.errors = [invalid.why]
        seen = desk_actions.preview(db(), deps, member, person_id, action, request_context())
        return _action_page(action, seen, form), 400
    except desk_actions.ActionRefused as refused:
        return _outcome(person_id, "warning", refused.why, 409)
    except desk_actions.ActionFailed as failed:
        return _outcome(person_id, "warning" if failed.done else "error", failed.why, 502)
    return _outcome(person_id, "success", done.message, 200)


@bp.get("/audit")
@signed_in
def audit_page() -> str:
    audit_export.open_export_form(db(), runtime().deps(), require_staff(), request_context())
    return render_template("staff/desk/audit.html", form=AuditExportForm(formdata=None))


@bp.get("/audit/export.csv")
@signed_in
def audit_csv() -> Response | tuple[str, int]:
    form = AuditExportForm(formdata=request.args)
    if not form.validate():
        return render_template("staff/desk/audit.html", form=form), 400
    try:
        exported = audit_export.export(db(), runtime().deps(), require_staff(), since=form.since.data,
                                       until=form.until.data, employee_id=form.employee_id.data,
                                       context=request_context())
    except audit_export.ExportRequestInvalid as invalid:
        return render_template("staff/desk/audit.html", form=form, error=invalid.why), 400
    response = Response(exported.text, mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{exported.filename}"'
    return response


def _action_page(action: DeskAction, seen: desk_actions.ActionPreview, form: ReasonForm) -> str:
    title, button = ACTION_PAGES[action]
    return render_template("staff/desk/action.html", action=action, seen=seen, form=form, title=title,
                           button=button)


def _outcome(person_id: int, kind: str, message: str, status: int) -> tuple[str, int]:
    return render_template("staff/outcome.html", kind=kind, message=message,
                           back_url=url_for("staff.desk.person", person_id=person_id),
                           back_label="Back to the person page"), status
