"""Manager pages: "My new starters" and resending an invite (with a confirmation page first)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from werkzeug.wrappers import Response

from activation.errors import StateError
from activation.staff import directory, manager_actions
from portal.extensions import db, request_context, runtime
from portal.forms import ButtonForm
from portal.staff.current import require_staff, signed_in

bp = Blueprint("manager", __name__, url_prefix="/starters")


@bp.errorhandler(directory.DirectoryUnavailable)
def directory_unavailable(_problem: directory.DirectoryUnavailable) -> tuple[str, int]:
    return _outcome("error", "We could not check your record in the directory just now. Please try again in a "
                    "minute.", 503)


@bp.get("/")
@signed_in
def starters() -> str:
    view = manager_actions.my_starters(db(), runtime().deps(), require_staff())
    return render_template("staff/manager/starters.html", view=view, about_minutes=manager_actions.about_minutes)


@bp.get("/<int:person_id>/resend")
@signed_in
def confirm_resend(person_id: int) -> str:
    row = manager_actions.resend_preview(db(), runtime().deps(), require_staff(), person_id, request_context())
    return render_template("staff/manager/confirm_resend.html", row=row, form=ButtonForm(),
                           about_minutes=manager_actions.about_minutes)


@bp.post("/<int:person_id>/resend")
@signed_in
def resend(person_id: int) -> Response | tuple[str, int]:
    # No flash messages: the Flask cookie must not carry names or addresses. The answer is a page.
    if not ButtonForm().validate_on_submit():
        return redirect(url_for("staff.manager.confirm_resend", person_id=person_id))
    try:
        sent = manager_actions.resend_invite(db(), runtime().deps(), require_staff(), person_id, request_context())
    except manager_actions.ResendCooldown as wait:
        return _outcome("warning", "An invite was sent moments ago. You can send another "
                        f"{manager_actions.about_minutes(wait.minutes_left)}.", 429)
    except StateError:
        return _outcome("warning", "This invite cannot be resent now: the starter has already activated, or the "
                        "activation was cancelled or needs the service desk.", 409)
    except manager_actions.ResendFailed:
        return _outcome("error", "The email could not be sent just now. Please try again in a few minutes.", 503)
    return _outcome("success", f"A new invite is on its way to {sent.name} at {sent.masked_email}. "
                    "The old link no longer works.", 200)


def _outcome(kind: str, message: str, status: int) -> tuple[str, int]:
    return render_template("staff/outcome.html", kind=kind, message=message,
                           back_url=url_for("staff.manager.starters"), back_label="Back to my new starters"), status
