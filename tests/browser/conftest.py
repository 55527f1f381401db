"""A live portal (real HTTP server) wired to a live emulator, driven by Playwright on Debian's Chromium.

The browser tests run whenever /usr/bin/chromium exists; .ci/run installs it, so CI always runs them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import Live, serve_portal

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


@pytest.fixture(scope="session")
def emulator_info(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from entra_emulator.server import EmulatorServer

    server = EmulatorServer(state_dir=tmp_path_factory.mktemp("browser-emulator"), processing_delay=0.0)
    info = server.start()
    yield info
    server.stop()


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory, emulator_info, make_database) -> Iterator[Live]:  # type: ignore[no-untyped-def]
    with serve_portal(tmp_path_factory.mktemp("browser-instance"), make_database("sqlite"), emulator_info,
                      cooldown_seconds=1) as running:
        yield running


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
