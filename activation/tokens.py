"""itsdangerous wrapped with one salt per purpose (after warehouse's TokenService).

Library errors become `TokenInvalid` / `TokenExpired`; callers never import itsdangerous.
"""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

from activation.errors import ActivationError

PURPOSES = ("invite", "staff-login")


class TokenInvalid(ActivationError):
    """The token was tampered with, truncated, or made for another purpose."""


class TokenExpired(TokenInvalid):
    """The token is genuine but older than allowed."""


class TokenService:
    def __init__(self, secret_key: str, purpose: str, max_age_seconds: int | None = None) -> None:
        if purpose not in PURPOSES:
            raise ValueError(f"unknown token purpose {purpose!r}")
        salt = f"day-one-activation.{purpose}"
        self._max_age = max_age_seconds
        self._serializer: URLSafeSerializer = (
            URLSafeTimedSerializer(secret_key, salt=salt)
            if max_age_seconds
            else URLSafeSerializer(secret_key, salt=salt)
        )

    def dumps(self, value: str) -> str:
        return self._serializer.dumps(value)

    def loads(self, token: str) -> str:
        if not token or len(token) > 512:
            raise TokenInvalid("token missing or too long")
        try:
            if self._max_age:
                value = self._serializer.loads(token, max_age=self._max_age)
            else:
                value = self._serializer.loads(token)
        except SignatureExpired:
            raise TokenExpired("token expired") from None
        except BadSignature:
            raise TokenInvalid("token invalid") from None
        if not isinstance(value, str):
            raise TokenInvalid("token payload has the wrong shape")
        return value
