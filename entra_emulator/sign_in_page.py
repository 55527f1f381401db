"""HTML for the emulator's sign-in (account picker), error, form_post and signed-out pages.

Self-contained: no external assets, no script; the only style is an inline block allowed by its
hash in the Content-Security-Policy header.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

from flask import Response

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:0;background:#f3f3f3;color:#1b1b1b}"
    "main{max-width:28rem;margin:2rem auto;background:#fff;padding:1.5rem;border-radius:4px}"
    "h1{font-size:1.5rem}fieldset{border:0;padding:0;margin:0}"
    "legend{font-weight:600;margin-bottom:.75rem}"
    ".account{display:block;width:100%;text-align:left;margin:.5rem 0;padding:.75rem 1rem;"
    "font-size:1rem;border:1px solid #8a8886;background:#fff;border-radius:4px;cursor:pointer;"
    "min-height:44px}"
    ".account:hover{background:#f3f2f1}.account:focus{outline:3px solid #0067b8;outline-offset:2px}"
    ".upn{display:block;color:#4b4b4b;font-size:.875rem}"
    ".note{color:#4b4b4b;font-size:.875rem}"
    ".error{border-left:4px solid #a4262c;padding-left:.75rem}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
CSP = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


def _page(title: str, body: str, status: int = 200) -> Response:
    html = (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def account_picker(action: str, accounts: list[dict]) -> Response:
    buttons = "".join(
        '<button class="account" type="submit" name="account" '
        f'value="{escape(user["id"])}">'
        f'Sign in as {escape(user.get("displayName") or "")}'
        f'<span class="upn">{escape(user.get("userPrincipalName") or "")}'
        f'{" (" + escape(", ".join(user["roles"])) + ")" if user.get("roles") else ""}</span>'
        "</button>"
        for user in accounts
    )
    if not accounts:
        buttons = "<p>No demo staff accounts exist. Add one through the control API.</p>"
    body = (
        "<h1>Sign in</h1>"
        '<p class="note">Entra ID emulator: pick a demo staff account. No password is needed.</p>'
        f'<form method="post" action="{escape(action)}">'
        "<fieldset><legend>Choose an account</legend>"
        f"{buttons}</fieldset></form>"
    )
    return _page("Sign in to your account", body)


def error_page(aadsts: int, message: str, status: int = 400) -> Response:
    body = (
        "<h1>Sorry, but we are having trouble signing you in.</h1>"
        f'<div class="error" role="alert"><p>AADSTS{aadsts}: {escape(message)}</p></div>'
    )
    return _page("Sign in error", body, status)


def form_post(redirect_uri: str, fields: dict[str, str]) -> Response:
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items()
    )
    body = (
        "<h1>Continue signing in</h1>"
        f'<form method="post" action="{escape(redirect_uri)}">{hidden}'
        '<button class="account" type="submit">Continue</button></form>'
    )
    response = _page("Continue signing in", body)
    # the form posts to the client application, which lives at another origin
    response.headers["Content-Security-Policy"] = CSP
    return response


def signed_out() -> Response:
    return _page("Signed out", "<h1>You have signed out</h1><p>You can close this window.</p>")
