"""The "this wasn't me" link from notices. No sign-in; the pages name nobody and no account.

GET shows a button and changes nothing (mail scanners open links); POST freezes the activation.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from werkzeug.wrappers import Response

from activation import notices
from portal.extensions import db, request_context, runtime
from portal.forms import ButtonForm

bp = Blueprint("wasnt_me", __name__, url_prefix="/not-me")


def _no_store(page: str, status: int) -> Response:
    response = Response(page, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<token>")
def confirm(token: str) -> Response:
    try:
        notices.check_link(db(), runtime().deps(), token)
    except notices.NoticeLinkInvalid:
        return _no_store(render_template("starter/wasnt_me_invalid.html"), 410)
    return _no_store(render_template("starter/wasnt_me.html", token=token, form=ButtonForm()), 200)


@bp.post("/<token>")
def freeze(token: str) -> Response:
    if not ButtonForm().validate_on_submit():
        return confirm(token)
    try:
        notices.freeze(db(), runtime().deps(), token, request_context())
    except notices.NoticeLinkInvalid:
        return _no_store(render_template("starter/wasnt_me_invalid.html"), 410)
    return _no_store(render_template("starter/wasnt_me_done.html"), 200)
