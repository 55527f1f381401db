"""Staff pages under /staff: sign-in, managers' starters, the service desk. Wired by `init_app`."""

from __future__ import annotations

from flask import Blueprint, Flask

from activation.staff.access import AccessDenied
from portal.errors import render_error


def _access_denied(error: AccessDenied):  # type: ignore[no-untyped-def]
    return render_error(error.status)


def init_app(app: Flask) -> None:
    from portal.staff import current, desk, guard_rails, manager, sign_in

    staff = Blueprint("staff", __name__, url_prefix="/staff")
    staff.before_request(current.load_current_staff)
    staff.context_processor(lambda: {"staff_member": current.current_staff()})
    staff.register_blueprint(sign_in.bp)
    staff.register_blueprint(manager.bp)
    staff.register_blueprint(desk.bp)
    staff.register_blueprint(guard_rails.desk_bp)  # issue 16: desk requests, threat mode
    staff.register_blueprint(guard_rails.manager_bp)  # issue 16: manager approvals
    app.register_blueprint(staff)
    app.register_error_handler(AccessDenied, _access_denied)
