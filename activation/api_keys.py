"""API keys for the HR push API: shown once, stored as a SHA-256 hash, revocable.

A key looks like `dak_<8 hex>_<43 url-safe chars>`. The `dak_<8 hex>` part is stored in clear as
`key_prefix` to find the row (and to tell keys apart in listings); the whole key is stored only as
its SHA-256 digest. With 256 random bits a plain digest cannot be brute-forced, and it keeps working
when the application's secret key is rotated.

Keys may expire (`--expires DAYS`) and be rotated: the new key works at once and the previous one
keeps working for an overlap (default a day) so the HR system can switch without a gap. Wrong keys
are audited (client IP, the presented key's prefix when it has our shape, never the key) and counted
per client IP in the shared database; over the limit the API answers 429 before looking at the key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from activation import audit, rate_limits
from activation.clock import Clock, SystemClock
from activation.errors import ActivationError, NotFoundError
from activation.models import ActorType, ApiClient

KEY_SCHEME = "dak"
_KEY_SHAPE = re.compile(r"^dak_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$")
_NAME_SHAPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_PREFIX_LENGTH = len(KEY_SCHEME) + 1 + 8
_PREFIX_SHAPE = re.compile(r"^dak_[0-9a-f]{8}")
MAX_EXPIRY_DAYS = 3650
DEFAULT_OVERLAP = timedelta(hours=24)
FAILURES_PER_IP = rate_limits.Limit("api-key-failures-ip", count=10, window_seconds=900)


class ApiKeyError(ActivationError):
    """An API key cannot be created or changed as asked; the message says why and what to do."""


@dataclass(frozen=True)
class NewApiKey:
    client: ApiClient
    key: str  # the only time the plaintext exists; never stored, logged or audited

    def __repr__(self) -> str:
        return f"NewApiKey(client={self.client.name!r}, key=[hidden])"

    def __iter__(self) -> Iterator[Any]:
        """Unpacks as `client, key = create_api_key(...)`."""
        return iter((self.client, self.key))


def create_api_key(session: Session, name: str, *, actor: audit.Actor | None = None,
                   clock: Clock | None = None, expires_in_days: int | None = None) -> NewApiKey:
    """A new key for `name` (letters, digits, . _ -; up to 64), optionally expiring. Commits."""
    _check_days(expires_in_days)
    if not _NAME_SHAPE.fullmatch(name):
        raise ApiKeyError(f"API key name {name!r} is not allowed; use 1-64 letters, digits, '.', '_' or '-', "
                          "starting with a letter or digit")
    existing = session.scalar(select(ApiClient).where(ApiClient.name == name))
    if existing is not None:
        state = "revoked" if existing.revoked_at else "active"
        raise ApiKeyError(f"an API key named {name!r} already exists ({state}); choose another name"
                          + ("" if existing.revoked_at else ", or revoke it first"))
    now = _now(clock)
    key = _new_key()
    client = ApiClient(name=name, key_prefix=key[:_PREFIX_LENGTH], key_hash=_digest(key), created_at=now,
                       expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None)
    session.add(client)
    session.flush()
    audit.record(session, action="api_key.created", actor=actor or audit.Actor.system(), at=now,
                 details={"name": name, "key_prefix": client.key_prefix, "expires_at": _iso(client.expires_at)})
    session.commit()
    return NewApiKey(client, key)


def rotate_api_key(session: Session, name: str, *, actor: audit.Actor | None = None, clock: Clock | None = None,
                   expires_in_days: int | None = None, overlap: timedelta = DEFAULT_OVERLAP) -> NewApiKey:
    """A new key for `name`; the previous one keeps working for `overlap` (0: stops now). Commits.

    Without `expires_in_days`, a key that had an expiry gets the same lifetime again from now.
    """
    _check_days(expires_in_days)
    if overlap < timedelta(0) or overlap > timedelta(days=30):
        raise ApiKeyError("the overlap must be between 0 and 30 days (720 hours)")
    client = session.scalar(select(ApiClient).where(ApiClient.name == name))
    if client is None:
        raise NotFoundError(f"no API key named {name!r}; `activation api-key list` shows the names")
    if client.revoked_at is not None:
        raise ApiKeyError(f"the API key {name!r} is revoked; create a new one with another name instead")
    now = _now(clock)
    lifetime = (client.expires_at - (client.rotated_at or client.created_at)) if client.expires_at else None
    key = _new_key()
    client.previous_key_prefix, client.previous_key_hash = client.key_prefix, client.key_hash
    client.previous_valid_until = now + overlap if overlap else None
    client.key_prefix, client.key_hash, client.rotated_at = key[:_PREFIX_LENGTH], _digest(key), now
    if expires_in_days:
        client.expires_at = now + timedelta(days=expires_in_days)
    elif lifetime is not None:
        client.expires_at = now + lifetime
    audit.record(session, action="api_key.rotated", actor=actor or audit.Actor.system(), at=now,
                 details={"name": name, "key_prefix": client.key_prefix,
                          "previous_key_prefix": client.previous_key_prefix,
                          "previous_valid_until": _iso(client.previous_valid_until),
                          "expires_at": _iso(client.expires_at)})
    session.commit()
    return NewApiKey(client, key)


def revoke_api_key(session: Session, name: str, *, actor: audit.Actor | None = None,
                   clock: Clock | None = None) -> ApiClient:
    """Revoke the key called `name`; revoking twice is harmless. Commits."""
    client = session.scalar(select(ApiClient).where(ApiClient.name == name))
    if client is None:
        raise NotFoundError(f"no API key named {name!r}; `activation api-key list` shows the names")
    if client.revoked_at is None:
        now = _now(clock)
        client.revoked_at = now
        audit.record(session, action="api_key.revoked", actor=actor or audit.Actor.system(), at=now,
                     details={"name": name, "key_prefix": client.key_prefix})
        session.commit()
    return client


def list_api_keys(session: Session) -> Sequence[ApiClient]:
    return session.scalars(select(ApiClient).order_by(ApiClient.name)).all()


def authenticate(session: Session, presented: str | None, *, clock: Clock | None = None) -> ApiClient | None:
    """The active client whose key this is, else None. Records last use (commits)."""
    client, _reason = _match(session, presented, _now(clock))
    if client is not None:
        client.last_used_at = _now(clock)
        session.commit()
    return client


@dataclass(frozen=True)
class KeyCheck:
    """The outcome of one API call's key: the client, or why not (and whether to answer 429)."""

    client: ApiClient | None
    reason: str | None = None  # missing, malformed, unknown, wrong, revoked, expired
    throttled: bool = False
    retry_after: int = 0


def check_api_key(session: Session, presented: str | None, *, context: audit.RequestContext,
                  clock: Clock | None = None) -> KeyCheck:
    """Authenticate one API call: rate limit first, then the key; every refusal is audited. Commits."""
    now = _now(clock)
    subject = context.client_ip or "unknown"
    if rate_limits.current(session, FAILURES_PER_IP, subject, now) >= FAILURES_PER_IP.count:
        return KeyCheck(None, "throttled", throttled=True, retry_after=FAILURES_PER_IP.window_seconds)
    client, reason = _match(session, presented, now)
    if client is not None:
        client.last_used_at = now
        session.commit()
        return KeyCheck(client)
    rate_limits.hit(session, FAILURES_PER_IP, subject, now)
    candidate = (presented or "").strip()
    prefix = candidate[:_PREFIX_LENGTH] if _PREFIX_SHAPE.match(candidate) else None
    audit.record(session, action="api_key.refused", actor=audit.Actor(ActorType.API, None), at=now,
                 outcome="failure", reason=reason, context=context, details={"key_prefix": prefix})
    if rate_limits.current(session, FAILURES_PER_IP, subject, now) == FAILURES_PER_IP.count:
        audit.record(session, action="api_key.rate_limited", actor=audit.Actor(ActorType.API, None), at=now,
                     outcome="failure", reason="too_many_wrong_keys", context=context,
                     details={"window_seconds": FAILURES_PER_IP.window_seconds})
    session.commit()
    return KeyCheck(None, reason)


def _match(session: Session, presented: str | None, now: datetime) -> tuple[ApiClient | None, str]:
    candidate = (presented or "").strip()
    if not candidate:
        return None, "missing"
    well_formed = bool(_KEY_SHAPE.fullmatch(candidate))
    client = previous = None
    if well_formed:
        prefix = candidate[:_PREFIX_LENGTH]
        client = session.scalar(select(ApiClient).where(or_(ApiClient.key_prefix == prefix,
                                                            ApiClient.previous_key_prefix == prefix)))
        previous = client is not None and client.key_prefix != prefix
    # Compare against something even when there is no row, so timing does not tell the two apart.
    stored = ((client.previous_key_hash if previous else client.key_hash) if client is not None else None) \
        or _digest("dak_00000000_" + "0" * 43)
    matches = hmac.compare_digest(stored.encode(), _digest(candidate).encode())
    if not well_formed:
        return None, "malformed"
    if client is None:
        return None, "unknown"
    if not matches:
        return None, "wrong"
    if client.revoked_at is not None:
        return None, "revoked"
    if client.expires_at is not None and now >= client.expires_at:
        return None, "expired"
    if previous and (client.previous_valid_until is None or now >= client.previous_valid_until):
        return None, "rotated"
    return client, "ok"


def _new_key() -> str:
    return f"{KEY_SCHEME}_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"


def _check_days(days: int | None) -> None:
    if days is not None and not 1 <= days <= MAX_EXPIRY_DAYS:
        raise ApiKeyError(f"--expires takes a number of days from 1 to {MAX_EXPIRY_DAYS}")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _now(clock: Clock | None) -> datetime:
    return (clock or SystemClock()).now()
