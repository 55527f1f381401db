"""Production refuses to start with unsafe configuration (through the real entry point), and no debug
surface is reachable: not the demo mailbox, not the emulator, not werkzeug's debugger."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from activation.config import load_settings
from activation.runtime import Runtime
from portal import create_app
from tests.conftest import REPO_ROOT

STRONG = "q8Vt1zKp0bX9mW3rY6nL2sD5fH7jC4gA1eZ0uI8oP3"
PRODUCTION_OK = {"ACTIVATION_ENV": "production", "ACTIVATION_SECRET_KEY": STRONG, "ACTIVATION_MAIL_BACKEND": "smtp",
                 "ACTIVATION_PUBLIC_URL": "https://activate.contoso.com",
                 "ACTIVATION_QUEUE_URL": "redis://queue.internal:6379/1"}  # production needs a shared queue


def start_portal(env: dict[str, str], tmp_path: Path, port: int = 0) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ACTIVATION_")}
    return subprocess.run([sys.executable, "-m", "portal", "--port", str(port or free_port())], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**base, "ACTIVATION_CONFIG_DIR": str(REPO_ROOT / "config"),
                               "ACTIVATION_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", **env})


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"ACTIVATION_SECRET_KEY": None}, "ACTIVATION_SECRET_KEY"),
        ({"ACTIVATION_SECRET_KEY": "changeme"}, "ACTIVATION_SECRET_KEY"),
        ({"ACTIVATION_SECRET_KEY": "ab" * 40}, "ACTIVATION_SECRET_KEY"),
        ({"ACTIVATION_MAIL_BACKEND": "outbox"}, "ACTIVATION_MAIL_BACKEND"),
        ({"ACTIVATION_PUBLIC_URL": "http://activate.contoso.com"}, "ACTIVATION_PUBLIC_URL"),
        ({"ACTIVATION_AUTHORITY_HOST": "https://127.0.0.1:8443"}, "ACTIVATION_AUTHORITY_HOST"),
        ({"ACTIVATION_GRAPH_URL": "https://localhost:8443"}, "ACTIVATION_GRAPH_URL"),
        ({"ACTIVATION_QUEUE_URL": None}, "ACTIVATION_QUEUE_URL"),
        ({"ACTIVATION_QUEUE_URL": "memory:"}, "ACTIVATION_QUEUE_URL"),
    ],
)
def test_production_refuses_to_start_and_names_the_setting(tmp_path: Path, change: dict, named: str) -> None:
    env = {k: v for k, v in {**PRODUCTION_OK, **change}.items() if v is not None}
    result = start_portal(env, tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert named in result.stderr and "Traceback" not in result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[str]:
    """`python -m portal` in the development environment, as `make demo` runs it."""
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("ACTIVATION_")}
    env = {**base, "ACTIVATION_ENV": "development", "ACTIVATION_CONFIG_DIR": str(REPO_ROOT / "config"),
           "ACTIVATION_INSTANCE_DIR": str(tmp_path / "instance"),
           "ACTIVATION_DATABASE_URL": f"sqlite:///{tmp_path / 'dev.db'}"}
    process = subprocess.Popen([sys.executable, "-m", "portal", "--port", str(port)], cwd=tmp_path, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                requests.get(url + "/healthz", timeout=2)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError("the portal did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_dev_server_has_no_debugger_or_console(dev_server: str) -> None:
    for path in ("/console", "/_emulator/info", "/_emulator/users", "/.env", "/config/default.toml",
                 "/instance/secret_key", "/static/../instance/secret_key"):
        answer = requests.get(dev_server + path, timeout=10)
        assert answer.status_code == 404, path
        assert "Werkzeug Debugger" not in answer.text and "Traceback" not in answer.text
    for query in ("__debugger__=yes&cmd=resource&f=debugger.js", "__debugger__=yes&cmd=printpin&s=x"):
        answer = requests.get(f"{dev_server}/?{query}", timeout=10)
        assert "CONSOLE_MODE" not in answer.text and "EVALEX" not in answer.text  # our page, not the debugger
        assert answer.headers["Content-Type"].startswith("text/html")


@pytest.fixture
def production_app(tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = load_settings({**PRODUCTION_OK, "ACTIVATION_DATABASE_URL": f"sqlite:///{tmp_path / 'prod.db'}",
                              "ACTIVATION_INSTANCE_DIR": str(tmp_path)}, config_dir=REPO_ROOT / "config")
    app = create_app(runtime=Runtime.from_settings(settings))
    return app


def test_production_has_no_demo_pages_and_no_debug_mode(production_app) -> None:  # type: ignore[no-untyped-def]
    assert not production_app.debug and not production_app.testing
    assert not any(rule.rule.startswith(("/_demo", "/_emulator")) for rule in production_app.url_map.iter_rules())
    client = production_app.test_client()
    for path in ("/_demo/mailbox/", "/_demo/mailbox/1", "/_emulator/info", "/console"):
        assert client.get(path, base_url="https://activate.contoso.com").status_code == 404, path


def test_production_cookies_are_secure_and_host_prefixed(production_app) -> None:  # type: ignore[no-untyped-def]
    response = production_app.test_client().get("/", base_url="https://activate.contoso.com")
    cookie = response.headers.get("Set-Cookie", "")
    assert cookie.startswith("__Host-activation=") and "Secure" in cookie and "HttpOnly" in cookie
    assert response.headers.get("Strict-Transport-Security", "").startswith("max-age=")
