"""The demo mailbox: read what the outbox mailer 'sent'. Registered only with ACTIVATION_ENV=demo."""

from __future__ import annotations

import re

from flask import Blueprint, abort, render_template, request
from markupsafe import Markup, escape

from activation import mailbox
from portal.extensions import db, runtime

bp = Blueprint("mailbox", __name__, url_prefix="/_demo/mailbox")
_URL = re.compile(r"https?://[^\s<>\"']+")


def linkify(text: str) -> Markup:
    """Escape the text, then turn URLs under our public URL into links (others stay plain)."""
    public = runtime().settings.portal.public_url.rstrip("/")
    out, last = [], 0
    for match in _URL.finditer(text):
        out.append(escape(text[last:match.start()]))
        url = match.group(0)
        out.append(Markup('<a href="{0}">{0}</a>').format(url) if url.startswith(public + "/") else escape(url))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    to = request.args.get("to", "")[:254]
    return render_template("mailbox/index.html", messages=mailbox.recent(db(), to=to or None), to=to)


@bp.get("/<int:message_id>")
def show(message_id: int):  # type: ignore[no-untyped-def]
    message = mailbox.message(db(), message_id)
    if message is None:
        abort(404)
    return render_template("mailbox/show.html", message=message, body=linkify(message.text_body))
