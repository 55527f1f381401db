"""The deployed shape, run for real: Chromium -> nginx (TLS) -> two gunicorn masters (2 workers each)
-> one fresh PostgreSQL database + Redis, ACTIVATION_ENV=staging against the HTTPS emulator, mail
through a real SMTP server. docs/operations.md describes the same set-up for a real host.

Outside CI a missing piece (PostgreSQL, nginx, Chromium, certutil, redis-server) skips this tier with
the reason; under CI=true it fails, so the tier is never skipped silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from deploy_stack import (
    REPO_ROOT,
    VENV_BIN,
    Mailbox,
    Process,
    Stack,
    free_port,
    make_test_ca,
    nss_home,
    staging_environment,
    start_foreign_origin,
    start_gunicorn,
    start_nginx,
    start_process,
    start_redis,
    wait_for_gunicorn,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]


def missing_pieces() -> list[str]:
    missing = []
    if not os.environ.get("ACTIVATION_TEST_POSTGRES_URL"):
        missing.append("PostgreSQL (set ACTIVATION_TEST_POSTGRES_URL)")
    for tool, package in (("nginx", "nginx-light"), ("redis-server", "redis-server"), ("certutil", "libnss3-tools")):
        if not (shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists()):
            missing.append(f"{tool} (apt-get install {package})")
    if not CHROMIUM.exists():
        missing.append("chromium (apt-get install chromium)")
    return missing


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mine = [item for item in items if "tests/deploy" in str(item.fspath)]
    missing = missing_pieces()
    if not mine or not missing:
        return
    reason = "the deploy tier needs " + ", ".join(missing)
    for item in mine:
        if os.environ.get("CI") == "true":  # never hidden in CI: every test fails and says why
            item.add_marker(pytest.mark.usefixtures("_deploy_tier_must_run"))
        else:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def _deploy_tier_must_run() -> None:
    pytest.fail("CI=true but the deploy tier cannot run: it needs " + ", ".join(missing_pieces()))


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, make_database) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    from aiosmtpd.controller import Controller

    from activation.config import load_settings
    from activation.runtime import Runtime
    from entra_emulator.server import EmulatorServer

    started = time.monotonic()
    root = tmp_path_factory.mktemp("deploy")
    logs = root / "logs"
    logs.mkdir()
    tls = make_test_ca(root / "tls")
    foreign = start_foreign_origin(tls)
    emulator = EmulatorServer(state_dir=root / "emulator", processing_delay=0.0)
    info = emulator.start()
    redis, redis_url = start_redis(logs)
    mailbox = Mailbox()
    smtp_port = free_port()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    database_url = make_database("postgres")

    config_dir = root / "config"
    config_dir.mkdir()
    shutil.copy(REPO_ROOT / "config" / "default.toml", config_dir / "default.toml")
    (config_dir / "staging.toml").write_text(
        f'[portal]\nmy_security_info_url = "{foreign.url}/security-info"\n', encoding="utf-8")
    masters: list[tuple[Process, int]] = []
    nginx: Process | None = None
    runtime = None
    processes: list[Process] = [redis]
    try:
        # nginx's port must be known before the portal starts (it is the public URL), so reserve it first.
        nginx_port = free_port()
        public_url = f"https://127.0.0.1:{nginx_port}"
        env = staging_environment(public_url=public_url, database_url=database_url, redis_url=redis_url,
                                  smtp_port=smtp_port, info=info, config_dir=config_dir,
                                  instance_dir=root / "instance")
        upgrade = subprocess.run([str(VENV_BIN / "activation"), "db", "upgrade"], cwd=REPO_ROOT, env=env,  # noqa: S603
                                 capture_output=True, text=True, timeout=120)
        assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
        metrics_dirs = [root / "metrics-a", root / "metrics-b"]
        for name, metrics_dir in zip(("gunicorn-a", "gunicorn-b"), metrics_dirs, strict=True):
            process, port = start_gunicorn(name, env, logs, metrics_dir)
            masters.append((process, port))
            processes.append(process)
        for process, port in masters:
            wait_for_gunicorn(process, port)
        # The job consumer runs as its own service next to gunicorn, as docs/operations.md describes.
        worker = start_process("worker", [str(VENV_BIN / "activation"), "worker"], logs, env=env)
        processes.append(worker)
        nginx = start_nginx(root / "nginx", upstreams=[port for _, port in masters], tls=tls,
                                   port=nginx_port)
        processes.append(nginx)
        settings = load_settings(env, config_dir=config_dir)
        runtime = Runtime.from_settings(settings)
        control = requests.Session()
        control.trust_env = False
        control.verify = info.ca_path
        home = nss_home(root / "home", ("deploy-test-ca", tls.ca_path), ("entra-emulator-ca", Path(info.ca_path)))
        print(f"\ndeploy stack up in {time.monotonic() - started:.1f}s")  # noqa: T201
        yield Stack(url=public_url, masters=masters, nginx=nginx, nginx_dir=root / "nginx", env=env,
                    runtime=runtime, mailbox=mailbox, emulator=info, control=control, tls=tls, foreign=foreign,
                    home=home, metrics_dirs=metrics_dirs)
    finally:
        for process in reversed(processes):
            process.stop()
        if runtime is not None:
            runtime.dispose()
        smtp.stop()
        emulator.stop()
        foreign.stop()


@pytest.fixture(scope="session")
def deploy_browser(stack: Stack, playwright_driver) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """Debian's Chromium trusting the test CA and the emulator's CA through an NSS database in HOME."""
    browser = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS,
                                                env={**os.environ, "HOME": str(stack.home)})
    yield browser
    browser.close()
