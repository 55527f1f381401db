"""Helpers for the fault scenarios: free ports, private servers (PostgreSQL, Redis, SMTP), subprocesses
of our own programs, and polling with a deadline (never a fixed sleep)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def shows_internals(page: str, words: tuple[str, ...]) -> bool:
    """Whether an error page shows any of these internals, each matched as a whole word: a port
    number inside the page's random hex reference (say 695432140c5f98ab) is not a leak."""
    return any(re.search(rf"\b{re.escape(word)}\b", page) for word in words)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(predicate: Callable[[], T], *, timeout: float = 30.0, interval: float = 0.05, what: str = "") -> T:
    """Poll until `predicate()` is truthy (exceptions count as not yet); fail at the deadline."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - a server still starting answers with errors
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"not met within {timeout} s: {what or predicate}; last error: {last!r}")
        time.sleep(interval)


# -- a real SMTP relay that can be down, and can hold a message --------------------------------------


@dataclass
class Relay:
    """aiosmtpd on a free port: `messages` it accepted; `hold` makes the next DATA wait until released."""

    port: int = field(default_factory=free_port)
    messages: list[email.message.EmailMessage] = field(default_factory=list)
    hold: threading.Event | None = None
    holding: threading.Event = field(default_factory=threading.Event)
    _controller: Any = None

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]  # noqa: N802
        if self.hold is not None:
            gate, self.hold = self.hold, None
            self.holding.set()
            while not gate.is_set():  # the client is waiting for our answer; it may be killed meanwhile
                await asyncio.sleep(0.02)
            return "451 4.3.0 try again later"  # the held message is never accepted
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
        return "250 OK"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


# -- private PostgreSQL and Redis (never the shared ones) -------------------------------------------


def _as_postgres(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    runner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run([*runner, *command], check=True, capture_output=True, text=True, **kwargs)  # noqa: S603


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb + pg_ctl as the postgres user) on a free port."""

    root: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        if shutil.which("initdb") is None:
            pytest.skip("initdb is not installed")
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        _as_postgres(["initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"])

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} -c fsync=off"
        _as_postgres(["pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start"])

    def stop(self, mode: str = "fast") -> None:
        _as_postgres(["pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop"])

    def running(self) -> bool:
        return subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", str(self.port), "-q"],  # noqa: S603, S607
                              check=False).returncode == 0


@dataclass
class PrivateRedis:
    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(  # noqa: S603
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",  # noqa: S607
             "--dir", str(self.root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close() or True,
                 timeout=10, what="redis-server listening")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


# -- our own programs as subprocesses ---------------------------------------------------------------


def write_config_dir(root: Path, **sections: dict[str, Any]) -> Path:
    """config/ copied (so the mapping files resolve) plus a test.toml with `sections`."""
    target = root / "config"
    shutil.copytree(REPO_ROOT / "config", target, dirs_exist_ok=True)
    lines: list[str] = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            lines.append(f"{key} = {value!r}".replace("'", '"') if not isinstance(value, bool)
                         else f"{key} = {str(value).lower()}")
    (target / "test.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def program_env(**variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIVATION_")}
    env.update({"ACTIVATION_ENV": "test", "PYTHONUNBUFFERED": "1"}, **variables)
    return env


@contextmanager
def program(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run one of our programs in its own process group; stop it (and its children) afterwards."""
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT,  # noqa: S603
                                   start_new_session=True)
    try:
        yield process
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def worker_command() -> list[str]:
    return [sys.executable, "-m", "activation.cli", "worker", "--workers", "1"]


def gunicorn_command(port: int) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
            "--graceful-timeout", "5", "portal:create_app()"]


def emulator_env(info: Any) -> dict[str, str]:
    """Environment variables wiring one of our programs to a running emulator."""
    return {
        "ACTIVATION_TENANT_ID": info.tenant_id, "ACTIVATION_CLIENT_ID": info.client_id,
        "ACTIVATION_CLIENT_SECRET": info.client_secret, "ACTIVATION_AUTHORITY_HOST": info.base_url,
        "ACTIVATION_GRAPH_URL": info.base_url, "ACTIVATION_CA_BUNDLE": info.ca_path,
        "ACTIVATION_PROVISIONING_SP_ID": info.provisioning_sp_id,
        "ACTIVATION_PROVISIONING_JOB_ID": info.provisioning_job_id,
    }


def emulator_settings(info: Any) -> dict[str, str]:
    """The same wiring as a `microsoft` settings section (for in-process runtimes)."""
    return {"tenant_id": info.tenant_id, "client_id": info.client_id, "client_secret": info.client_secret,
            "authority_host": info.base_url, "graph_url": info.base_url, "ca_bundle": info.ca_path,
            "provisioning_sp_id": info.provisioning_sp_id, "provisioning_job_id": info.provisioning_job_id}
