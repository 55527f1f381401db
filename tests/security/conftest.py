"""Fixtures for the attacker's-side tests: one emulator per module (reset between tests), and a
portal with a fresh runtime per test (so a fresh MSAL application, as after a restart)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from activation.graph.fake import FakeGraph
from activation.mail.fake import FakeMailer
from activation.runtime import Runtime
from portal import create_app
from tests.integration.graph_fixtures import Emulator, running_emulator
from tests.security.sign_in_support import SignInBrowser


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    yield from running_emulator(tmp_path_factory.mktemp("emulator"))


@pytest.fixture
def sign_in_portal(make_settings, database_url, db_engine, emulator: Emulator) -> SignInBrowser:  # type: ignore[no-untyped-def]
    emulator.post("reset")
    emulator.clear_requests()
    info = emulator.info
    settings = make_settings(
        database={"url": database_url}, portal={"public_url": "http://localhost"},
        microsoft={"tenant_id": info.tenant_id, "client_id": info.client_id, "client_secret": info.client_secret,
                   "authority_host": info.base_url, "graph_url": info.base_url, "ca_bundle": info.ca_path},
    )
    runtime = Runtime.from_settings(settings, engine=db_engine)
    runtime.override("graph", FakeGraph())
    runtime.override("mailer", FakeMailer())
    return SignInBrowser(runtime, create_app(runtime=runtime).test_client(), emulator)
