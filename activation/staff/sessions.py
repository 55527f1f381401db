"""Server-side staff sessions: the cookie carries only an opaque random id; we store a hash of it.

Timeouts (idle and absolute) are enforced here with the injected clock, whatever the backend. The
database is the default backend; Redis is used when `settings.redis.url` is set (same interface).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

from activation.clock import Clock
from activation.config import Settings
from activation.models import StaffSession

PENDING_LIFETIME = timedelta(minutes=10)
MAX_RAW_ID_LENGTH = 128


@dataclass(frozen=True)
class SessionRecord:
    data: dict[str, Any]
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime  # the absolute end; the idle end is last_seen_at + idle timeout


class SessionBackend(Protocol):
    def save(self, key: str, record: SessionRecord, ttl: timedelta) -> None: ...

    def get(self, key: str) -> SessionRecord | None: ...

    def touch(self, key: str, last_seen_at: datetime, ttl: timedelta) -> None: ...

    def delete(self, key: str) -> None: ...


def session_key(raw_id: str) -> str:
    """What we store: SHA-256 of the cookie value (the id itself is never kept)."""
    return hashlib.sha256(raw_id.encode()).hexdigest()


class StaffSessions:
    """Create, load (enforcing timeouts) and end sessions."""

    def __init__(self, backend: SessionBackend, clock: Clock, idle: timedelta, absolute: timedelta) -> None:
        self.backend = backend
        self.clock = clock
        self.idle = idle
        self.absolute = absolute

    def create(self, data: dict[str, Any], lifetime: timedelta | None = None) -> str:
        """A new session; returns the raw id for the cookie (a fresh id every time)."""
        now = self.clock.now()
        raw_id = secrets.token_urlsafe(32)
        absolute = min(lifetime, self.absolute) if lifetime else self.absolute
        record = SessionRecord(data=data, created_at=now, last_seen_at=now, expires_at=now + absolute)
        self.backend.save(session_key(raw_id), record, self._ttl(record, now))
        return raw_id

    def load(self, raw_id: str | None) -> SessionRecord | None:
        """The live session for this cookie value, touched; None (and deleted) when timed out."""
        if not raw_id or len(raw_id) > MAX_RAW_ID_LENGTH:
            return None
        key = session_key(raw_id)
        record = self.backend.get(key)
        if record is None:
            return None
        now = self.clock.now()
        if now >= record.expires_at or now >= record.last_seen_at + self.idle:
            self.backend.delete(key)
            return None
        touched = SessionRecord(record.data, record.created_at, now, record.expires_at)
        self.backend.touch(key, now, self._ttl(touched, now))
        return touched

    def end(self, raw_id: str | None) -> None:
        if raw_id and len(raw_id) <= MAX_RAW_ID_LENGTH:
            self.backend.delete(session_key(raw_id))

    def _ttl(self, record: SessionRecord, now: datetime) -> timedelta:
        return max(timedelta(seconds=1), min(record.expires_at, now + self.idle) - now)


class DatabaseSessionBackend:
    """The `staff_session` table; each call is its own short transaction."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    def save(self, key: str, record: SessionRecord, ttl: timedelta) -> None:
        with self._session_factory() as session:
            session.execute(delete(StaffSession).where(StaffSession.expires_at <= record.created_at))
            session.add(StaffSession(id_hash=key, data=record.data, created_at=record.created_at,
                                     last_seen_at=record.last_seen_at, expires_at=record.expires_at))
            session.commit()

    def get(self, key: str) -> SessionRecord | None:
        with self._session_factory() as session:
            row = session.get(StaffSession, key)
            if row is None:
                return None
            return SessionRecord(dict(row.data), row.created_at, row.last_seen_at, row.expires_at)

    def touch(self, key: str, last_seen_at: datetime, ttl: timedelta) -> None:
        with self._session_factory() as session:
            session.execute(update(StaffSession).where(StaffSession.id_hash == key)
                            .values(last_seen_at=last_seen_at))
            session.commit()

    def delete(self, key: str) -> None:
        with self._session_factory() as session:
            session.execute(delete(StaffSession).where(StaffSession.id_hash == key))
            session.commit()


class RedisSessionBackend:
    """One key per session, expiring with the session (Redis TTL is housekeeping; the clock decides)."""

    def __init__(self, client: Any, prefix: str = "activation:staff-session:") -> None:
        self._redis = client
        self._prefix = prefix

    def save(self, key: str, record: SessionRecord, ttl: timedelta) -> None:
        self._redis.set(self._prefix + key, _dump(record), px=_millis(ttl))

    def get(self, key: str) -> SessionRecord | None:
        raw = self._redis.get(self._prefix + key)
        return _load(raw) if raw is not None else None

    def touch(self, key: str, last_seen_at: datetime, ttl: timedelta) -> None:
        record = self.get(key)
        if record is not None:
            self._redis.set(self._prefix + key,
                            _dump(SessionRecord(record.data, record.created_at, last_seen_at, record.expires_at)),
                            px=_millis(ttl), xx=True)

    def delete(self, key: str) -> None:
        self._redis.delete(self._prefix + key)


def _millis(ttl: timedelta) -> int:
    return max(1000, int(ttl.total_seconds() * 1000))


def _dump(record: SessionRecord) -> str:
    return json.dumps({"data": record.data, "created_at": record.created_at.isoformat(),
                       "last_seen_at": record.last_seen_at.isoformat(), "expires_at": record.expires_at.isoformat()})


def _load(raw: bytes | str) -> SessionRecord:
    value = json.loads(raw)
    return SessionRecord(value["data"], datetime.fromisoformat(value["created_at"]),
                         datetime.fromisoformat(value["last_seen_at"]), datetime.fromisoformat(value["expires_at"]))


def build_session_store(settings: Settings, session_factory: sessionmaker[Session], clock: Clock) -> StaffSessions:
    """Redis when ACTIVATION_REDIS_URL is set, else the database."""
    backend: SessionBackend
    if settings.redis.url:
        import redis

        backend = RedisSessionBackend(redis.Redis.from_url(settings.redis.url))
    else:
        backend = DatabaseSessionBackend(session_factory)
    return StaffSessions(backend, clock, idle=timedelta(minutes=settings.staff.idle_timeout_minutes),
                         absolute=timedelta(hours=settings.staff.absolute_timeout_hours))
