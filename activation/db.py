"""Engine and session factories. Built by the composition roots (app factory, CLI), never at import."""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

# A pooled connection idle for longer than this is pinged before use (see _ping_when_idle).
PING_AFTER_IDLE_SECONDS = 1.0


def make_engine(url: str, *, echo: bool = False, ping_after_idle_seconds: float = PING_AFTER_IDLE_SECONDS) -> Engine:
    """An engine with sane per-dialect defaults (SQLite: foreign keys on, WAL, busy timeout; a server
    database: a liveness ping for connections that sat idle in the pool)."""
    parsed = make_url(url)
    # hide_parameters: a database error logged with its traceback must not carry the row's values.
    kwargs: dict = {"echo": echo, "future": True, "hide_parameters": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            private_sqlite_file(Path(database))
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        if not database or database == ":memory:":
            from sqlalchemy.pool import StaticPool

            kwargs["poolclass"] = StaticPool
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        _ping_when_idle(engine, ping_after_idle_seconds)
    return engine


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """`pool_pre_ping`, but only for a connection that sat in the pool for more than `idle_seconds`.

    A database restart or failover kills the pooled connections; the ping finds that out before a
    request uses one (the pool then opens fresh ones). pool_pre_ping pays that round trip on every
    checkout; at a burst's rate a connection goes back into use within milliseconds, so the ping is
    left out there. If the database goes away in that moment, the statement fails as it would have a
    millisecond later anyway, the pool drops every connection older than the failure, and the
    request gets the calm "busy" page.
    """

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _taken(dbapi_connection, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at <= idle_seconds:
            return  # a new connection, or one in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool replaces this connection and every other one opened before now.
            raise exc.InvalidatePoolError("the pooled connection did not answer its ping") from error


def private_sqlite_file(path: Path) -> None:
    """The SQLite file holds personal data: its folder is created 0700 and the file 0600 (SQLite gives
    its -wal and -shm files the database file's mode). An existing file of ours is tightened to 0600."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
            path.chmod(0o600)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def ping(engine: Engine) -> None:
    """Raise if the database cannot answer a trivial query."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
