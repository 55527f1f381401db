"""Server-side staff sessions: opaque ids, hashed keys, idle and absolute timeouts, on every backend."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from sqlalchemy import Engine, select

from activation.clock import FakeClock
from activation.db import make_session_factory
from activation.models import StaffSession
from activation.staff.sessions import (
    DatabaseSessionBackend,
    RedisSessionBackend,
    SessionBackend,
    StaffSessions,
    session_key,
)

REDIS_URL = os.environ.get("ACTIVATION_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_backend() -> Iterator[RedisSessionBackend]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        if os.environ.get("ACTIVATION_TEST_REDIS_URL"):  # CI promises Redis: its absence is a failure
            raise
        pytest.skip("Redis is not running on 127.0.0.1:6379 (set ACTIVATION_TEST_REDIS_URL to require it)")
    prefix = f"test-{secrets.token_hex(4)}:"
    yield RedisSessionBackend(client, prefix=prefix)
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)
    client.close()


@pytest.fixture(params=["database", "redis"])
def store_backend(request: pytest.FixtureRequest, db_engine: Engine) -> SessionBackend:
    """The database backend on every database backend (SQLite, PostgreSQL), and Redis."""
    if request.param == "redis":
        return request.getfixturevalue("redis_backend")
    return DatabaseSessionBackend(make_session_factory(db_engine))


def store(backend: SessionBackend, clock: FakeClock) -> StaffSessions:
    return StaffSessions(backend, clock, idle=timedelta(minutes=30), absolute=timedelta(hours=8))


def test_create_gives_a_fresh_opaque_id_each_time(store_backend: SessionBackend) -> None:
    sessions = store(store_backend, FakeClock())
    first, second = sessions.create({"kind": "staff"}), sessions.create({"kind": "staff"})
    assert first != second and len(first) >= 43
    assert sessions.load(first).data == {"kind": "staff"}  # type: ignore[union-attr]
    assert sessions.load("not-a-session") is None and sessions.load("") is None and sessions.load("x" * 500) is None


def test_idle_timeout(store_backend: SessionBackend) -> None:
    clock = FakeClock()
    sessions = store(store_backend, clock)
    session_id = sessions.create({"kind": "staff"})
    clock.advance(29 * 60)
    assert sessions.load(session_id) is not None  # and touched
    clock.advance(29 * 60)
    assert sessions.load(session_id) is not None
    clock.advance(30 * 60)
    assert sessions.load(session_id) is None
    clock.advance(-60 * 60)
    assert sessions.load(session_id) is None  # deleted, not merely hidden


def test_absolute_timeout_wins_over_activity(store_backend: SessionBackend) -> None:
    clock = FakeClock()
    sessions = store(store_backend, clock)
    session_id = sessions.create({"kind": "staff"})
    for _ in range(16):
        clock.advance(29 * 60)
        assert sessions.load(session_id) is not None
    clock.advance(20 * 60)  # 8 h 4 min after sign-in, 20 min after the last request
    assert sessions.load(session_id) is None


def test_a_short_lifetime_for_pending_sign_ins(store_backend: SessionBackend) -> None:
    clock = FakeClock()
    sessions = store(store_backend, clock)
    session_id = sessions.create({"kind": "pending"}, lifetime=timedelta(minutes=10))
    clock.advance(11 * 60)
    assert sessions.load(session_id) is None


def test_end_deletes_it(store_backend: SessionBackend) -> None:
    sessions = store(store_backend, FakeClock())
    session_id = sessions.create({"kind": "staff"})
    sessions.end(session_id)
    assert sessions.load(session_id) is None


def test_the_database_keeps_only_a_hash_of_the_id(db_engine: Engine) -> None:
    factory = make_session_factory(db_engine)
    sessions = store(DatabaseSessionBackend(factory), FakeClock())
    session_id = sessions.create({"kind": "staff"})
    with factory() as session:
        keys = list(session.scalars(select(StaffSession.id_hash)))
    assert keys == [session_key(session_id)] and session_id not in keys[0]


def test_redis_is_chosen_when_configured(make_settings) -> None:  # type: ignore[no-untyped-def]
    from activation.staff.sessions import build_session_store

    with_redis = build_session_store(make_settings(redis={"url": REDIS_URL}), make_session_factory(None), FakeClock())
    without = build_session_store(make_settings(), make_session_factory(None), FakeClock())
    assert isinstance(with_redis.backend, RedisSessionBackend)
    assert isinstance(without.backend, DatabaseSessionBackend)
    assert (without.idle, without.absolute) == (timedelta(minutes=30), timedelta(hours=8))
