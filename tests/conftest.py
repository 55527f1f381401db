"""Shared fixtures. Database tests run on SQLite always and on PostgreSQL when
ACTIVATION_TEST_POSTGRES_URL is set (each test session in its own fresh database, dropped after)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from activation import migrate
from activation.config import Settings, load_settings
from activation.db import make_engine, make_session_factory
from activation.models import Base

REPO_ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("ACTIVATION_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]


def _postgres_admin_engine() -> Engine:
    url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    return create_engine(url, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def make_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """Factory: a fresh, empty database URL for a backend; PostgreSQL databases are dropped at the end."""
    created: list[str] = []

    def factory(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp('db') / 'activation.db'}"
        name = f"activation_test_{secrets.token_hex(4)}"
        admin = _postgres_admin_engine()
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        created.append(name)
        return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)

    yield factory
    if created:
        admin = _postgres_admin_engine()
        with admin.connect() as connection:
            for name in created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def database_url(backend: str, make_database) -> str:  # type: ignore[no-untyped-def]
    """A migrated database for this backend, shared by the session's tests (cleaned between tests)."""
    url = make_database(backend)
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _clean(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def db_engine(engine: Engine) -> Iterator[Engine]:
    """The backend's engine, with every table emptied after the test."""
    yield engine
    _clean(engine)


@pytest.fixture
def db_session(db_engine: Engine) -> Iterator[Session]:
    session = make_session_factory(db_engine)()
    yield session
    session.rollback()
    session.close()


@pytest.fixture
def make_settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Settings for tests: the repo's config files, the test environment, and overrides."""

    def factory(**overrides) -> Settings:  # type: ignore[no-untyped-def]
        environ = {"ACTIVATION_ENV": "test", "ACTIVATION_INSTANCE_DIR": str(tmp_path / "instance")}
        return load_settings(environ, config_dir=REPO_ROOT / "config", overrides=overrides)

    return factory


@pytest.fixture
def memory_session() -> Iterator[Session]:
    """A throwaway in-memory SQLite schema built from the models, for fast unit tests."""
    engine = make_engine("sqlite:///:memory:")
    Base.metadata.create_all(engine)
    session = make_session_factory(engine)()
    yield session
    session.close()
    engine.dispose()


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[object]:
    """One Playwright driver per session: the sync API allows only one at a time, and both the browser
    tests and the deploy tests launch Chromium from it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright
