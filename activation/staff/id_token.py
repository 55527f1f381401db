"""Verifying the staff sign-in ID token ourselves: MSAL (since 1.38) leaves every check but the nonce to us.

The signature is checked against the tenant's JWKS (the discovery document's `jwks_uri`), cached and
fetched again when a token names a key we do not know (Entra rotates its keys). Only RS256 is accepted,
whatever the token's header says. Then the claims OpenID Connect Core section 3.1.3.7 asks for: iss,
aud (and azp when there are several audiences), tid, exp, nbf, iat and the nonce, with a small skew.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import jwt
import requests

from activation.clock import Clock

ALGORITHMS = ("RS256",)
CLOCK_SKEW = timedelta(seconds=60)
MAX_TOKEN_AGE = timedelta(minutes=10)  # an ID token straight from the token endpoint is seconds old
REQUIRED_CLAIMS = ("iss", "aud", "exp", "nbf", "iat", "tid", "oid", "nonce")
KEYS_LIFETIME = timedelta(hours=24)
MAX_TOKEN_LENGTH = 16_384


class IdTokenInvalid(Exception):
    """The ID token is refused; `reason` is a short code (never the token or a claim value)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SigningKeys(Protocol):
    def key_for(self, kid: str) -> jwt.PyJWK | None:
        """The tenant's signing key with this `kid`, or None when the tenant has no such key."""


@dataclass(frozen=True)
class Expected:
    issuer: str
    tenant_id: str
    client_id: str


class JwksSigningKeys:
    """The JWKS behind `<authority>/v2.0/.well-known/openid-configuration`, through our own HTTP session.

    Kept for a day; fetched again at once when a token names a key we do not have. That costs at most
    one fetch per sign-in, and the token (hence its `kid`) comes from the token endpoint over TLS, not
    from the browser, so an outsider cannot make us fetch in a loop.
    """

    def __init__(self, http: requests.Session, discovery_url: str, clock: Clock, timeout: float = 10.0) -> None:
        self._http = http
        self._discovery_url = discovery_url
        self._clock = clock
        self._timeout = timeout
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: datetime | None = None

    def key_for(self, kid: str) -> jwt.PyJWK | None:
        with self._lock:
            now = self._clock.now()
            stale = self._fetched_at is None or now - self._fetched_at >= KEYS_LIFETIME
            if stale or kid not in self._keys:
                self._keys = self._fetch()
                self._fetched_at = now
            return self._keys.get(kid)

    def _fetch(self) -> dict[str, jwt.PyJWK]:
        try:
            discovery = self._http.get(self._discovery_url, timeout=self._timeout)
            discovery.raise_for_status()
            jwks = self._http.get(str(discovery.json()["jwks_uri"]), timeout=self._timeout)
            jwks.raise_for_status()
            key_set = jwt.PyJWKSet.from_dict(jwks.json())
        except (requests.RequestException, ValueError, KeyError, TypeError, jwt.PyJWTError):
            raise IdTokenInvalid("keys_unavailable") from None
        return {key.key_id: key for key in key_set.keys
                if key.key_id and key.algorithm_name in ALGORITHMS and key.public_key_use in (None, "sig")}


def nonce_hash(nonce: str) -> str:
    """MSAL sends SHA-256(nonce) in the authorization request, so that is what the ID token carries."""
    return hashlib.sha256(nonce.encode("ascii")).hexdigest()


def verify_id_token(raw: object, keys: SigningKeys, expected: Expected, nonce: str, now: datetime) -> dict[str, Any]:
    """The verified claims, or IdTokenInvalid naming the first check that failed."""
    if not isinstance(raw, str) or not raw or len(raw) > MAX_TOKEN_LENGTH:
        raise IdTokenInvalid("malformed")
    try:
        header = jwt.get_unverified_header(raw)
    except jwt.PyJWTError:
        raise IdTokenInvalid("malformed") from None
    if header.get("alg") not in ALGORITHMS:
        raise IdTokenInvalid("algorithm")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > 256:
        raise IdTokenInvalid("unknown_key")
    key = keys.key_for(kid)
    if key is None:
        raise IdTokenInvalid("unknown_key")
    try:
        claims = jwt.decode(raw, key.key, algorithms=list(ALGORITHMS), issuer=expected.issuer,
                            options={"require": list(REQUIRED_CLAIMS), "verify_aud": False, "verify_exp": False,
                                     "verify_nbf": False, "verify_iat": False})
    except jwt.InvalidSignatureError:
        raise IdTokenInvalid("signature") from None
    except jwt.MissingRequiredClaimError as missing:
        raise IdTokenInvalid(f"missing:{missing.claim}") from None
    except jwt.InvalidIssuerError:
        raise IdTokenInvalid("iss") from None
    except jwt.PyJWTError:
        raise IdTokenInvalid("malformed") from None
    _check_audience(claims, expected.client_id)
    if claims.get("tid") != expected.tenant_id:
        raise IdTokenInvalid("tid")
    _check_times(claims, now)
    if not isinstance(claims.get("nonce"), str) or not hmac.compare_digest(claims["nonce"].encode(),
                                                                          nonce_hash(nonce).encode()):
        raise IdTokenInvalid("nonce")
    return claims


def _check_audience(claims: dict[str, Any], client_id: str) -> None:
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if client_id not in audiences:
        raise IdTokenInvalid("aud")
    azp = claims.get("azp")
    if (len(audiences) > 1 and azp is None) or (azp is not None and azp != client_id):
        raise IdTokenInvalid("azp")


def _check_times(claims: dict[str, Any], now: datetime) -> None:
    times = {}
    for name in ("exp", "nbf", "iat"):
        value = claims.get(name)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise IdTokenInvalid(name)
        times[name] = datetime.fromtimestamp(value, UTC)
    if times["exp"] + CLOCK_SKEW <= now:
        raise IdTokenInvalid("exp")
    if times["nbf"] - CLOCK_SKEW > now:
        raise IdTokenInvalid("nbf")
    if times["iat"] - CLOCK_SKEW > now or now - times["iat"] > MAX_TOKEN_AGE:
        raise IdTokenInvalid("iat")
