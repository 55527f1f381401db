"""The browser's opaque id: the only thing the starter's cookie carries."""

from __future__ import annotations

import secrets

from flask import session

KEY = "bid"


def browser_id() -> str:
    """The id binding a code to the browser that asked for it; created on first use."""
    value = session.get(KEY)
    if not isinstance(value, str) or len(value) != 43:
        value = secrets.token_urlsafe(32)
        session[KEY] = value
        session.permanent = True
    return value
