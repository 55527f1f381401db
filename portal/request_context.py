"""Per-request id, trusted client IP, the origin check for form posts, and the security headers.

CSRF has two parts. Flask-WTF's token (set up in `create_app`) proves the form came from our page;
`check_origin` proves the browser sent it from our origin. The origin is compared with
ACTIVATION_PUBLIC_URL, never with the Host header, and it agrees with our referrer policy:
`same-origin` means a same-origin POST carries Origin and Referer while no other origin ever sees a
URL of ours (invite tokens travel in paths).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Collection
from urllib.parse import urlsplit

from flask import Flask, Response, g, has_request_context, request
from flask_wtf.csrf import CSRFError

from portal.extensions import runtime

_REQUEST_ID = re.compile(r"^[A-Za-z0-9\-_.]{8,64}$")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
REFERRER_POLICY = "same-origin"  # templates/base.html carries the same value in its meta tag
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PORTS = {"http": 80, "https": 443}


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = g.get("request_id", "-")
        return True


def client_ip(trusted_hops: int) -> str | None:
    """The client address: from X-Forwarded-For only as far as the configured proxies vouch for it."""
    if trusted_hops > 0:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
        if len(forwarded) >= trusted_hops:
            return forwarded[-trusted_hops]
    return request.remote_addr


def origin_of(url: str) -> str | None:
    """scheme://host[:port] in canonical form (lower case, default port dropped); None if not a URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != DEFAULT_PORTS[parts.scheme] else "")


def check_origin(public_url: str, exempt_blueprints: Collection[str] = ()) -> None:
    """Refuse a state-changing request that a browser sent from another origin.

    Origin wins when present (Chromium, Firefox and Safari send it on every POST); otherwise the
    Referer. Over https one of them must be there and match; a local http demo tolerates neither
    (test clients send none) but still refuses a foreign one.
    """
    if request.method not in UNSAFE_METHODS or request.blueprint in exempt_blueprints:
        return
    ours = origin_of(public_url)
    origin = request.headers.get("Origin", "")
    claimed = origin if origin and origin != "null" else request.headers.get("Referer", "")
    if not claimed:
        if ours is not None and ours.startswith("https://"):
            raise CSRFError("The request did not say which site it came from.")
        return
    if origin_of(claimed) != ours:
        raise CSRFError("The request came from another site.")


def _begin_request() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else secrets.token_hex(8)
    g.client_ip = client_ip(runtime().settings.portal.trusted_proxies)


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", REFERRER_POLICY)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
    if runtime().settings.portal.public_url.startswith("https://"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if "request_id" in g:
        headers["X-Request-ID"] = g.request_id
    if "Cache-Control" not in headers and request.endpoint != "static":
        headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask, *, csrf_exempt_blueprints: Collection[str] = ()) -> None:
    app.before_request(_begin_request)
    app.before_request(lambda: check_origin(runtime().settings.portal.public_url, csrf_exempt_blueprints))
    app.after_request(_security_headers)
