"""The portal as deployed, started for a benchmark: gunicorn with config/gunicorn.conf.py on a fresh
PostgreSQL database and a private Redis, ACTIVATION_ENV=staging against the HTTPS emulator (its own
process), mail through a real SMTP server (aiosmtpd) in this process. Beside it, the floor: a bare
Flask app served by the same gunicorn settings.

The pieces reuse tests/deploy/deploy_stack.py (free ports, processes, Redis) and the deploy tier's
staging environment, so the benchmark measures the configuration the deploy tier tests.
gunicorn is reached directly over plain HTTP with `X-Forwarded-Proto: https`, as nginx would send
it (nginx's own CPU is not the portal's).
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import secrets
import sys
import threading
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "deploy"))

from deploy_stack import Process, free_port, staging_environment, start_process, start_redis, wait_for  # noqa: E402

VENV_BIN = Path(sys.executable).parent
_CODE = re.compile(r"\b(\d{6,8})\b")


class CodeMailbox:
    """aiosmtpd handler keeping, per recipient, the codes mailed to them (newest last)."""

    def __init__(self) -> None:
        self.codes: dict[str, list[str]] = defaultdict(list)
        self.count = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]  # noqa: N802
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        part = message.get_body(preferencelist=("plain",))
        body = part.get_content() if part is not None else ""
        match = _CODE.search(body) if "code" in body.lower() else None
        with self._lock:
            self.count += 1
            if match:
                for recipient in envelope.rcpt_tos:
                    self.codes[recipient.lower()].append(match.group(1))
        return "250 Message accepted for delivery"

    def latest_code(self, address: str, timeout: float = 20.0) -> str:
        def code() -> str | None:
            with self._lock:
                found = self.codes.get(address.lower())
                return found[-1] if found else None

        return wait_for(code, f"a code mailed to {address}", timeout=timeout, interval=0.005)


@dataclass
class Gunicorn:
    process: Process
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        from proc_cpu import children

        return children(self.process.popen.pid)


@dataclass
class BenchStack:
    root: Path
    public_url: str
    env: dict[str, str]
    portal: Gunicorn
    floor: Gunicorn
    emulator: Any  # EmulatorInfo-like: base_url, ca_path, ...
    emulator_pid: int
    control: requests.Session
    mailbox: CodeMailbox
    runtime: Any
    database_url: str
    database_name: str
    job_worker_pid: int  # `activation worker`: its CPU counts as the portal's (issue 15)
    admin_url: str
    redis_pid: int
    processes: list[Process] = field(default_factory=list)
    profile_dir: Path | None = None

    def postgres_backend_pids(self) -> list[int]:
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                rows = connection.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :name "
                                               "AND pid <> pg_backend_pid()"), {"name": self.database_name})
                return [row[0] for row in rows]
        finally:
            engine.dispose()

    def emulator_requests(self) -> list[dict]:
        return self.control.get(f"{self.emulator.base_url}/_emulator/requests", timeout=60).json()["value"]

    def clear_emulator_requests(self) -> None:
        self.control.delete(f"{self.emulator.base_url}/_emulator/requests", timeout=30)


def start_emulator(directory: Path, log_dir: Path) -> tuple[Process, Any]:
    port = free_port()
    process = start_process("emulator", [sys.executable, "-m", "entra_emulator", "--state-dir", str(directory),
                                         "--port", str(port), "--processing-delay", "0"], log_dir)

    def info() -> dict | None:
        if process.popen.poll() is not None:
            raise RuntimeError(f"the emulator exited:\n{process.log()[-2000:]}")
        for line in process.log().splitlines():
            if line.startswith("{") and "base_url" in line:
                return json.loads(line)
        return None

    return process, SimpleNamespace(**wait_for(info, "emulator", timeout=60))


def start_emulator_keepalive(directory: Path, log_dir: Path) -> tuple[Process, Any]:
    """The same emulator under gunicorn (bench/emulator_keepalive.py): TLS connections stay open."""
    from entra_emulator import certs
    from entra_emulator.context import Identities

    directory.mkdir(parents=True, exist_ok=True)
    keys = certs.load_or_create(directory)
    identities = Identities.load_or_create(directory)
    port = free_port()
    base_url = f"https://127.0.0.1:{port}"
    command = [str(VENV_BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "-k", "gthread",
               "--threads", "64", "--keep-alive", "30", "--timeout", "120", "--certfile", str(keys.server_cert_path),
               "--keyfile", str(keys.server_key_path), "emulator_keepalive:create_app()"]
    process = start_process("emulator", command, log_dir, env={**os.environ, "PYTHONPATH": f"{ROOT / 'bench'}:{ROOT}",
                                                                "EMULATOR_STATE_DIR": str(directory),
                                                                "EMULATOR_BASE_URL": base_url})
    control = requests.Session()
    control.trust_env = False
    control.verify = str(keys.ca_path)

    def up() -> bool:
        if process.popen.poll() is not None:
            raise RuntimeError(f"the emulator exited:\n{process.log()[-2000:]}")
        return control.get(f"{base_url}/_emulator/health", timeout=2).status_code == 200

    wait_for(up, "emulator (gunicorn)", timeout=60)
    return process, SimpleNamespace(
        base_url=base_url, tenant_id=identities.tenant_id, client_id=identities.client_id,
        client_secret=identities.client_secret, ca_path=str(keys.ca_path),
        provisioning_sp_id=identities.provisioning_sp_id, provisioning_job_id=identities.provisioning_job_id)


def bench_environment(*, metrics_dir: Path, **wiring: Any) -> dict[str, str]:
    """The deploy tier's staging environment (tests/deploy/deploy_stack.py), with the bench's metrics folder."""
    return {**staging_environment(**wiring), "ACTIVATION_METRICS_TOKEN": secrets.token_urlsafe(24),
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}


def start_gunicorn(name: str, app: str, env: dict[str, str], log_dir: Path, extra_env: dict[str, str], *,
                   cwd: Path = ROOT, pythonpath: str = str(ROOT / "bench")) -> Gunicorn:
    """gunicorn -c config/gunicorn.conf.py from `cwd` (a baseline tree has its own copy of the conf)."""
    port = free_port()
    command = [str(VENV_BIN / "gunicorn"), "-c", "config/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", app]
    process = start_process(name, command, log_dir, env={**env, **extra_env, "PYTHONPATH": pythonpath}, cwd=cwd)
    server = Gunicorn(process, port)

    def healthy() -> bool:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{name} exited:\n{process.log()[-3000:]}")
        return requests.get(f"{server.url}/healthz", timeout=2).status_code == 200

    wait_for(healthy, name, timeout=90)
    return server


def start(root: Path, exits: ExitStack, *, postgres_url: str, gunicorn_env: dict[str, str],
          emulator_keepalive: bool = True) -> BenchStack:
    """Start everything under `root`; `exits` stops it all (in reverse) and drops the database."""
    from aiosmtpd.controller import Controller

    from activation import migrate
    from activation.config import load_settings
    from activation.db import make_engine
    from activation.runtime import Runtime

    logs = root / "logs"
    logs.mkdir(parents=True)
    emulator_start = start_emulator_keepalive if emulator_keepalive else start_emulator
    emulator_process, info = emulator_start(root / "emulator", logs)
    exits.callback(emulator_process.stop)
    redis, redis_url = start_redis(logs)
    exits.callback(redis.stop)
    mailbox = CodeMailbox()
    smtp_port = free_port()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    exits.callback(smtp.stop)

    admin_url = make_url(postgres_url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    database_name = f"activation_bench_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database_name}"'))
    admin.dispose()

    def drop_database() -> None:
        engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database_name}" WITH (FORCE)'))
        engine.dispose()

    exits.callback(drop_database)
    database_url = make_url(postgres_url).set(database=database_name).render_as_string(hide_password=False)
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    engine.dispose()

    config_dir = root / "config"
    config_dir.mkdir()
    # The credential watch (issue 16) first looks at a new account 60 s after its TAP: in a bench of a
    # minute or two it would read Graph and update the burst's activations during the refusal and flood
    # phases (and, with --baseline, during the second run), charging their CPU to the wrong phase and
    # showing up as changes "made by the flood". Here it first looks after an hour.
    defaults = (ROOT / "config" / "default.toml").read_text(encoding="utf-8")
    for key in ("credential_check_first_seconds", "credential_check_max_seconds"):
        defaults = re.sub(rf"(?m)^{key} = \d+", f"{key} = 3600", defaults)
    (config_dir / "default.toml").write_text(defaults, encoding="utf-8")
    public_url = "https://activate.bench.example"
    env = bench_environment(public_url=public_url, database_url=database_url, redis_url=redis_url,
                              smtp_port=smtp_port, info=info, config_dir=config_dir,
                              instance_dir=root / "instance", metrics_dir=root / "metrics")
    (root / "metrics").mkdir()
    portal = start_gunicorn("portal", "portal:create_app()", env, logs, gunicorn_env)
    exits.callback(portal.process.stop)
    job_worker = start_process("worker", [str(VENV_BIN / "activation"), "worker"], logs, env=env)
    exits.callback(job_worker.stop)
    floor_env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(root / "floor-metrics")}
    floor = start_gunicorn("floor", "floor_app:create_app()", floor_env, logs, gunicorn_env)
    exits.callback(floor.process.stop)

    runtime = Runtime.from_settings(load_settings(env, config_dir=config_dir))
    exits.callback(runtime.dispose)
    control = requests.Session()
    control.trust_env = False
    control.verify = info.ca_path
    return BenchStack(root=root, public_url=public_url, env=env, portal=portal, floor=floor, emulator=info,
                      emulator_pid=emulator_process.popen.pid, control=control, mailbox=mailbox, runtime=runtime,
                      database_url=database_url, database_name=database_name, admin_url=admin_url,
                      redis_pid=redis.popen.pid, job_worker_pid=job_worker.popen.pid)
