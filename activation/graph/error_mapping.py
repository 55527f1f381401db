"""Turn a Graph error answer (status + envelope) into a typed GraphError."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from activation.graph.errors import (
    BadRequest,
    Forbidden,
    GraphError,
    NotFound,
    OnPremisesMastered,
    PasswordComplexity,
    ServiceUnavailable,
    TapPolicyViolation,
    Throttled,
    Unauthorized,
)

_ON_PREM = re.compile(r"on-?premises\s+mastered|directory\s*sync", re.IGNORECASE)
_PASSWORD = re.compile(r"password.*complexity|complexity.*password", re.IGNORECASE | re.DOTALL)
_MAX_MESSAGE = 300
REDACTED = "[redacted]"


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Remove known secret values from text that came from the server (defence in depth)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def parse_envelope(body: Any) -> tuple[str | None, str | None, str | None]:
    """(code, message, request-id) from `{"error": {"code", "message", "innerError": {...}}}`."""
    if not isinstance(body, Mapping):
        return None, None, None
    error = body.get("error")
    if not isinstance(error, Mapping):
        return None, None, None
    code = error.get("code") if isinstance(error.get("code"), str) else None
    message = error.get("message") if isinstance(error.get("message"), str) else None
    inner = error.get("innerError") or error.get("innererror")
    request_id = inner.get("request-id") if isinstance(inner, Mapping) else None
    return code, message, request_id if isinstance(request_id, str) else None


def error_from_response(
    status: int,
    body: Any,
    *,
    request_id: str | None,
    client_request_id: str | None,
    retry_after: float | None = None,
    tap_endpoint: bool = False,
    secrets: Iterable[str] = (),
) -> GraphError:
    """Map an HTTP error answer to the most specific GraphError subclass."""
    code, message, envelope_request_id = parse_envelope(body)
    raw = message or f"HTTP {status}"
    text = scrub(raw, tuple(secrets))[:_MAX_MESSAGE]
    ids = {"request_id": request_id or envelope_request_id, "client_request_id": client_request_id}
    if status == 429:
        return Throttled(text, retry_after=retry_after, status=status, code=code, **ids)
    if status in (503, 504):
        return ServiceUnavailable(text, status=status, code=code, **ids)
    if status == 404:
        return NotFound(text, status=status, code=code, **ids)
    if status == 403:
        return Forbidden(text, status=status, code=code, **ids)
    if status == 401:
        return Unauthorized(text, status=status, code=code, **ids)
    if status == 400:
        if _ON_PREM.search(raw):
            return OnPremisesMastered(text, status=status, code=code, **ids)
        if _PASSWORD.search(raw):
            return PasswordComplexity(text, status=status, code=code, **ids)
        if tap_endpoint:
            return TapPolicyViolation(text, status=status, code=code, **ids)
        return BadRequest(text, status=status, code=code, **ids)
    return GraphError(text, status=status, code=code, **ids)
