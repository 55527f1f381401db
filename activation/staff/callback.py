"""The sign-in callback's query values, as untrusted input: bounded, sanitised, never handed on raw.

Anyone can send a browser to `/staff/auth/callback?error=...`. The provider's `error` is a short ASCII
code (RFC 6749 section 4.1.2.1); anything else is reported as `unrecognised`. `error_description` is
reduced to the AADSTS number it usually starts with. Only `state` and `code` ever reach MSAL, and only
after the state matched and when there is no error.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

MAX_STATE = 256
MAX_CODE = 8192
MAX_REASON_TEXT = 64
_ERROR_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_AADSTS = re.compile(r"AADSTS(\d{4,7})\b")
_OPAQUE = re.compile(r"[A-Za-z0-9._~+/=-]+")  # what states and codes are made of


@dataclass(frozen=True)
class CallbackResponse:
    state: str | None
    code: str | None
    error: str | None  # a plain error code, or "unrecognised"
    provider_code: str | None  # e.g. "AADSTS50105" from error_description, else None

    def for_msal(self) -> dict[str, str]:
        """The only values MSAL is given: never an error, never anything we did not check."""
        assert self.state is not None and self.code is not None and self.error is None
        return {"state": self.state, "code": self.code}


def _opaque(value: str | None, limit: int) -> str | None:
    if value is None or not value or len(value) > limit or not _OPAQUE.fullmatch(value):
        return None
    return value


def error_code(value: object) -> str:
    """An OAuth error code as given when it is a plain one (`access_denied`), else `unrecognised`."""
    return value if isinstance(value, str) and _ERROR_CODE.fullmatch(value) else "unrecognised"


def parse_callback(values: Mapping[str, str]) -> CallbackResponse:
    """What the callback's query says, with every value checked; a malformed value is treated as absent."""
    raw_error = values.get("error")
    error = error_code(raw_error) if raw_error is not None else None
    description = values.get("error_description") or ""
    match = _AADSTS.search(description[:512]) if error else None
    return CallbackResponse(
        state=_opaque(values.get("state"), MAX_STATE),
        code=_opaque(values.get("code"), MAX_CODE),
        error=error,
        provider_code=f"AADSTS{match.group(1)}" if match else None,
    )


def safe_text(value: object, limit: int = MAX_REASON_TEXT) -> str:
    """A short single-line rendering of an untrusted value for audit and logs: no controls, no bidi."""
    text = str(value)[: limit * 4]
    cleaned = "".join(ch if unicodedata.category(ch)[0] not in "CZ" or ch == " " else "?" for ch in text)
    return cleaned[:limit]
