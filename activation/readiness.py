"""Readiness: can this process reach what it needs (the database; Redis when configured)?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from activation.db import ping


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, str]

    @property
    def ready(self) -> bool:
        return all(value == "ok" for value in self.checks.values())


def redis_client(url: str) -> Any:
    """A Redis client with short timeouts, for the readiness probe."""
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


def check(engine: Engine, redis: Any | None = None) -> tuple[Readiness, dict[str, str]]:
    """Each dependency as "ok" or "unreachable", and the error class names (for the log, never the body)."""
    checks: dict[str, str] = {}
    errors: dict[str, str] = {}
    try:
        ping(engine)
        checks["database"] = "ok"
    except SQLAlchemyError as exc:
        checks["database"], errors["database"] = "unreachable", type(exc).__name__
    if redis is not None:
        import redis as redis_module

        try:
            redis.ping()
            checks["redis"] = "ok"
        except (redis_module.RedisError, OSError) as exc:
            checks["redis"], errors["redis"] = "unreachable", type(exc).__name__
    return Readiness(checks), errors
