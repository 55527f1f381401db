"""itsdangerous wrapped with one salt per purpose (after warehouse's TokenService).

Library errors become `TokenInvalid`; callers never import itsdangerous. Invite tokens carry no
expiry of their own: the invite row decides whether a link is still valid.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer

from activation.errors import ActivationError

PURPOSES = ("invite", "wasnt-me")  # wasnt-me: the "this wasn't me" link in notices (issue 16)
MAX_TOKEN_LENGTH = 512


class TokenInvalid(ActivationError):
    """The token was tampered with, truncated, or made for another purpose."""


class TokenService:
    def __init__(self, secret_key: str, purpose: str) -> None:
        if purpose not in PURPOSES:
            raise ValueError(f"unknown token purpose {purpose!r}")
        self._serializer = URLSafeSerializer(secret_key, salt=f"day-one-activation.{purpose}")

    def dumps(self, value: str) -> str:
        return self._serializer.dumps(value)

    def loads(self, token: str) -> str:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise TokenInvalid("token missing or too long")
        try:
            value = self._serializer.loads(token)
        except BadSignature:
            raise TokenInvalid("token invalid") from None
        if not isinstance(value, str):
            raise TokenInvalid("token payload has the wrong shape")
        return value
