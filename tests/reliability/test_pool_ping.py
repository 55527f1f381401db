"""The pool's liveness ping (activation.db): a connection that sat idle through a database restart is
found dead and replaced before a request uses it; one back in use within the idle window is not
pinged, and if the database went away in that moment, only that statement fails and the pool
recovers at once."""

from __future__ import annotations

import pytest
from sqlalchemy import exc, text

from activation.db import make_engine
from tests.reliability.support import PrivatePostgres


def answer(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return connection.execute(text("SELECT 1")).scalar_one()


def restart(cluster: PrivatePostgres) -> None:
    cluster.stop("fast")
    cluster.start()


def test_an_idle_connection_is_pinged_and_replaced_after_a_restart(private_postgres: PrivatePostgres) -> None:
    engine = make_engine(private_postgres.url, ping_after_idle_seconds=0.0)  # every reuse counts as idle
    try:
        assert answer(engine) == 1
        restart(private_postgres)
        assert answer(engine) == 1  # the dead pooled connection was replaced, no error reached us
    finally:
        engine.dispose()


def test_a_connection_in_use_a_moment_ago_is_not_pinged_and_the_pool_recovers(
        private_postgres: PrivatePostgres) -> None:
    engine = make_engine(private_postgres.url, ping_after_idle_seconds=3600.0)  # never idle long enough
    try:
        assert answer(engine) == 1
        restart(private_postgres)
        with pytest.raises(exc.OperationalError):
            answer(engine)  # the one statement on the dead connection fails: the "busy" page
        assert answer(engine) == 1  # and the pool opened a fresh connection for the next request
    finally:
        engine.dispose()
