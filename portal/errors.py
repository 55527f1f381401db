"""Calm error pages with a request id and never a stack trace, for every status we answer with."""

from __future__ import annotations

import logging

from flask import Flask, g, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

logger = logging.getLogger(__name__)

MESSAGES = {
    400: ("That request could not be understood", "Please go back, reload the page and try again."),
    403: ("You do not have access to this page", "If you think you should, contact the service desk."),
    404: ("We could not find that page", "Check the link, or start again from the link in your email."),
    405: ("That action is not available here", "Please go back and use the buttons on the page."),
    413: ("That upload is too large", "Split it into smaller parts and try again."),
    429: ("Too many attempts", "Please wait a few minutes, then try again."),
    500: ("Something went wrong on our side", "Please try again in a few minutes."),
    503: ("The service is busy", "Please try again in a few minutes."),
}


def render_error(status: int, title: str | None = None, advice: str | None = None):  # type: ignore[no-untyped-def]
    default_title, default_advice = MESSAGES.get(status, MESSAGES[500])
    if request.accept_mimetypes.best == "application/json" or request.path.startswith("/api/"):
        return {"error": {"status": status, "message": title or default_title,
                          "request_id": g.get("request_id")}}, status
    return (
        render_template("errors/error.html", status=status, title=title or default_title,
                        advice=advice or default_advice, request_id=g.get("request_id")),
        status,
    )


def _http_error(error: HTTPException):  # type: ignore[no-untyped-def]
    return render_error(error.code or 500)


def _csrf_error(_error: CSRFError):  # type: ignore[no-untyped-def]
    return render_error(400, "This form has expired", "Please go back, reload the page and try again.")


def _unexpected(error: Exception):  # type: ignore[no-untyped-def]
    original = getattr(error, "original_exception", None) or error
    logger.error("unhandled error on %s %s: %s", request.method, request.path, type(original).__name__,
                 exc_info=original)
    return render_error(500)


def _database_unavailable(error: Exception):  # type: ignore[no-untyped-def]
    """The database or Redis is away (restart, failover): a calm 503 that says to try again, never internals."""
    logger.error("database unavailable on %s %s: %s", request.method, request.path, type(error).__name__)
    response, status = render_error(503)
    return response, status, {"Retry-After": "30"}


def init_app(app: Flask) -> None:
    app.register_error_handler(OperationalError, _database_unavailable)
    app.register_error_handler(InterfaceError, _database_unavailable)
    for unavailable in _redis_errors():
        app.register_error_handler(unavailable, _database_unavailable)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _unexpected)


def _redis_errors() -> tuple[type[Exception], ...]:
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:  # redis is optional (staff sessions and the queue may live elsewhere)
        return ()
    return (RedisConnectionError, RedisTimeoutError)
