"""Typed access to what create_app installed, for views."""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session

from activation.audit import RequestContext
from activation.runtime import Runtime


def runtime() -> Runtime:
    return current_app.extensions["activation"]


def db() -> Session:
    """The request's database session, opened lazily and closed at teardown (flaskr style).

    It keeps one pooled connection for the whole request: services commit several times (count an
    attempt, then compare), and a session on the engine would hand its connection back at each
    commit and check it out again, paying the pool's liveness ping (a round trip) every time.
    """
    if "db" not in g:
        g.db_connection = runtime().engine.connect()
        g.db = runtime().session_factory(bind=g.db_connection)
    return g.db


def request_context() -> RequestContext:
    return RequestContext(request_id=g.get("request_id"), client_ip=g.get("client_ip"))
