"""Second line of defence against secrets in logs and audit details.

The primary protection is never to pass a secret to a logger at all; this filter catches mistakes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

SECRET_KEY_PATTERN = re.compile(
    r"(pass(word)?|secret|token|otp|code|tap|temporaryaccesspass|authorization|cookie|api[_-]?key|assertion"
    r"|private[_-]?key|credential)",
    re.IGNORECASE,
)
# key=value or "key": "value" shapes inside free text.
_INLINE_SECRET = re.compile(
    r"(?P<key>(?:access_token|refresh_token|id_token|client_secret|client_assertion|password|temporaryAccessPass"
    r"|code_verifier|otp|code|authorization)[\"']?\s*[:=]\s*[\"']?)(?P<value>(?:Bearer\s+)?[^\s\"'&,}]+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"Bearer\s+[A-Za-z0-9\-_.~+/=]+")
REDACTED = "[redacted]"
# A link's token in the path: `/a/<token>` (invites) and `/not-me/<token>` (the "this wasn't me" notice), at
# the start of a path, after a host, or after a space or quote (as in an access-log request line
# `"GET /a/<token>/code HTTP/1.1"`).
_INVITE_IN_PATH = re.compile(r"(?P<before>^|[\s\"'(=]|://[^/\s\"']+)(?P<prefix>/(?:a|not-me)/)[^/?#\s\"'<>]+")
# Query values whose name says they are a secret or a one-time value (invite tokens, codes, OAuth state).
_QUERY_SECRET = re.compile(
    r"(?P<key>[?&;][^=&\s\"'#]*(?:token|code|state|secret|key|password|otp|tap|assertion|invite|client_info"
    r"|sig)[^=&\s\"'#]*=)[^&\s\"'#]*",
    re.IGNORECASE,
)


def redact_path(path: str) -> str:
    """A request path (or a whole log line) with invite tokens and secret query values redacted.

    Framework-free on purpose: access-log formatters (gunicorn, the dev server) can call it on the
    request line. `/a/<token>/code?state=x` -> `/a/[redacted]/code?state=[redacted]`.
    """
    path = _INVITE_IN_PATH.sub(lambda m: m.group("before") + m.group("prefix") + REDACTED, path)
    return _QUERY_SECRET.sub(lambda m: m.group("key") + REDACTED, path)


def is_secret_key(key: str) -> bool:
    return bool(SECRET_KEY_PATTERN.search(key))


def redact_text(text: str) -> str:
    text = redact_path(_BEARER.sub("Bearer " + REDACTED, text))
    return _INLINE_SECRET.sub(lambda m: m.group("key") + REDACTED, text)


def redact(value: Any) -> Any:
    """Copy of a JSON-like value with secret-looking keys masked and inline secrets scrubbed."""
    if isinstance(value, Mapping):
        return {k: (REDACTED if is_secret_key(str(k)) else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


class RedactingFilter(logging.Filter):
    """Rewrites each record's message and args so known secret shapes never reach a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = redact_text(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
