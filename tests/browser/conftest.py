"""A live portal (real HTTP server) wired to a live emulator, driven by Playwright on Debian's Chromium.

The browser tests run whenever /usr/bin/chromium exists; .ci/run installs it, so CI always runs them.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from browser_support import Live

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]
MOBILE = {"width": 390, "height": 844}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(skip)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def emulator_info(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from entra_emulator.server import EmulatorServer

    server = EmulatorServer(state_dir=tmp_path_factory.mktemp("browser-emulator"), processing_delay=0.0)
    info = server.start()
    yield info
    server.stop()


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory, emulator_info, make_database) -> Iterator[Live]:  # type: ignore[no-untyped-def]
    from werkzeug.serving import make_server

    from activation import migrate
    from activation.config import load_settings
    from activation.db import make_engine
    from activation.runtime import Runtime
    from portal import create_app

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database_url = make_database("sqlite")
    info = emulator_info
    settings = load_settings(
        {"ACTIVATION_ENV": "demo", "ACTIVATION_INSTANCE_DIR": str(tmp_path_factory.mktemp("browser-instance"))},
        config_dir=Path(__file__).resolve().parents[2] / "config",
        overrides={
            "database": {"url": database_url},
            "portal": {"public_url": url, "organisation_name": "Contoso"},
            "microsoft": {"tenant_id": info.tenant_id, "client_id": info.client_id,
                          "client_secret": info.client_secret, "authority_host": info.base_url,
                          "graph_url": info.base_url, "ca_bundle": info.ca_path,
                          "provisioning_sp_id": info.provisioning_sp_id,
                          "provisioning_job_id": info.provisioning_job_id},
            "mail": {"backend": "outbox"},
            "policy": {"resend_cooldown_seconds": 1},
        },
    )
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    runtime = Runtime.from_settings(settings, engine=engine)
    server = make_server("127.0.0.1", port, create_app(runtime=runtime), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    control = requests.Session()
    control.trust_env = False
    control.verify = info.ca_path
    try:
        yield Live(url=url, runtime=runtime, emulator=(info, control))
    finally:
        server.shutdown()
        engine.dispose()


@pytest.fixture(scope="session")
def browser(playwright_driver) -> Iterator[object]:  # type: ignore[no-untyped-def]
    browser = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
    yield browser
    browser.close()


@pytest.fixture
def phone(browser) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A new starter's phone: 390x844, touch, no cookies from other tests."""
    context = browser.new_context(viewport=MOBILE, device_scale_factor=1, is_mobile=True, has_touch=True)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def desktop(browser) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()
