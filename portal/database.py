"""One database session (on one pooled connection) per request, closed (and rolled back if left open) at teardown."""

from __future__ import annotations

from flask import Flask, g


def close_db(_exc: BaseException | None = None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.rollback()
        session.close()
    connection = g.pop("db_connection", None)
    if connection is not None:
        connection.close()  # back to the pool


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_db)
