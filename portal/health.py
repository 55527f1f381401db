"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

import logging

from flask import Blueprint

from activation import readiness
from portal.extensions import runtime

bp = Blueprint("health", __name__)
logger = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    """The database, and Redis when ACTIVATION_REDIS_URL is set."""
    current = runtime()
    redis_url = current.settings.redis.url
    redis = current.provide("readiness_redis", lambda: readiness.redis_client(redis_url)) if redis_url else None
    result, errors = readiness.check(current.engine, redis)
    for name, error in errors.items():
        logger.warning("readiness check failed: %s unreachable (%s)", name, error)
    if not result.ready:
        return {"status": "unavailable", **result.checks}, 503
    return {"status": "ok", **result.checks}
