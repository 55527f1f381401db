"""API keys for the HR push API: shown once, stored as a SHA-256 hash, revocable.

A key looks like `dak_<8 hex>_<43 url-safe chars>`. The `dak_<8 hex>` part is stored in clear as
`key_prefix` to find the row (and to tell keys apart in listings); the whole key is stored only as
its SHA-256 digest. With 256 random bits a plain digest cannot be brute-forced, and it keeps working
when the application's secret key is rotated.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from activation import audit
from activation.clock import Clock, SystemClock
from activation.errors import ActivationError, NotFoundError
from activation.models import ApiClient

KEY_SCHEME = "dak"
_KEY_SHAPE = re.compile(r"^dak_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$")
_NAME_SHAPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_PREFIX_LENGTH = len(KEY_SCHEME) + 1 + 8


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
                   clock: Clock | None = None) -> NewApiKey:
    """A new key for `name` (letters, digits, . _ -; up to 64). Commits."""
    if not _NAME_SHAPE.fullmatch(name):
        raise ApiKeyError(f"API key name {name!r} is not allowed; use 1-64 letters, digits, '.', '_' or '-', "
                          "starting with a letter or digit")
    existing = session.scalar(select(ApiClient).where(ApiClient.name == name))
    if existing is not None:
        state = "revoked" if existing.revoked_at else "active"
        raise ApiKeyError(f"an API key named {name!r} already exists ({state}); choose another name"
                          + ("" if existing.revoked_at else ", or revoke it first"))
    now = _now(clock)
    lookup = secrets.token_hex(4)
    key = f"{KEY_SCHEME}_{lookup}_{secrets.token_urlsafe(32)}"
    client = ApiClient(name=name, key_prefix=key[:_PREFIX_LENGTH], key_hash=_digest(key), created_at=now)
    session.add(client)
    session.flush()
    audit.record(session, action="api_key.created", actor=actor or audit.Actor.system(), at=now,
                 details={"name": name, "key_prefix": client.key_prefix})
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
    candidate = (presented or "").strip()
    well_formed = bool(_KEY_SHAPE.fullmatch(candidate))
    client = None
    if well_formed:
        client = session.scalar(select(ApiClient).where(ApiClient.key_prefix == candidate[:_PREFIX_LENGTH]))
    # Compare against something even when there is no row, so timing does not tell the two apart.
    stored = client.key_hash if client is not None else _digest("dak_00000000_" + "0" * 43)
    matches = hmac.compare_digest(stored.encode(), _digest(candidate).encode())
    if client is None or not matches or not well_formed or client.revoked_at is not None:
        return None
    client.last_used_at = _now(clock)
    session.commit()
    return client


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _now(clock: Clock | None) -> datetime:
    return (clock or SystemClock()).now()
