"""Fixtures for the fault scenarios. Each runs on PostgreSQL (a fresh database, or a private cluster
for the restart scenario); they need ACTIVATION_TEST_POSTGRES_URL, as CI sets it."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from entra_emulator.server import EmulatorServer
from tests.reliability.support import PrivatePostgres, PrivateRedis, Relay


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/reliability/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def postgres_url(make_database) -> str:  # type: ignore[no-untyped-def]
    """A fresh, migrated PostgreSQL database on the shared server (dropped at the end of the session)."""
    if not os.environ.get("ACTIVATION_TEST_POSTGRES_URL"):
        pytest.skip("the reliability scenarios run on PostgreSQL: set ACTIVATION_TEST_POSTGRES_URL")
    from activation import migrate
    from activation.db import make_engine

    url = make_database("postgres")
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorServer]:
    server = EmulatorServer(state_dir=tmp_path / "emulator", processing_delay=0.0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def relay() -> Iterator[Relay]:
    server = Relay()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    root = Path(tempfile.mkdtemp(prefix="activation-pg-"))
    cluster = PrivatePostgres(root)
    cluster.init()
    cluster.start()
    try:
        yield cluster
    finally:
        if cluster.running():
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()
