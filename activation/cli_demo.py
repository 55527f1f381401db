"""`activation demo`: the whole product on embedded defaults, for a newcomer's first look.

Starts the emulator (HTTPS), writes config/demo.toml, migrates a SQLite database, starts the portal and
the job consumer (`activation worker`),
provisions the seeded HR file through the real bulk upload path, reconciles, sends invites to the
outbox, and prints what to open. Ctrl-C stops everything.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import date
from pathlib import Path
from urllib.error import URLError

import click
import requests
from rich.table import Table

from activation import invites, migrate
from activation.cli import EXIT_FAILED, Context, pass_context
from activation.cli_emulator import start_emulator, wiring_of
from activation.config import load_settings
from activation.demo_config import write_demo_toml
from activation.demo_data import shifted_copy
from activation.provisioning.apply import provision_file, resolve_mapping
from activation.runtime import Runtime

READY_TIMEOUT_SECONDS = 60
SYNCED_FROM_AD = "AD4001"  # the demo marks this account as mastered in on-premises AD


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--reset", is_flag=True, help="Start from scratch: forget the demo database and emulator state.")
@pass_context
def demo(ctx: Context, host: str, port: int, reset: bool) -> None:
    """Run the demo until Ctrl-C (state is kept between runs; --reset starts afresh)."""
    if ctx.settings.env != "demo":
        raise click.UsageError("Run the demo with ACTIVATION_ENV=demo (make demo does this for you).")
    config_dir = Path(os.environ.get("ACTIVATION_CONFIG_DIR", "config"))
    demo_dir = Path(ctx.settings.instance_dir).resolve() / "demo"
    if reset and demo_dir.exists():
        shutil.rmtree(demo_dir)
    console = ctx.console
    base = f"http://{host}:{port}"
    console.print("[bold]Starting the Entra ID + Graph emulator[/bold] (HTTPS, local)...")
    emulator = start_emulator(demo_dir / "emulator", 0, processing_delay=0.5)
    portal: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    os.environ.setdefault("ACTIVATION_QUEUE_URL", f"sqlite:///{demo_dir / 'queue.db'}")  # --reset forgets it too
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        write_demo_toml(config_dir / "demo.toml", wiring_of(emulator.info), base,
                        database_url=f"sqlite:///{demo_dir / 'activation.db'}")
        runtime = Runtime.from_settings(load_settings())
        migrate.upgrade(runtime.engine)
        portal = _start_portal(host, port)
        worker = _start_worker()
        if not _wait_ready(f"{base}/readyz", portal):
            ctx.errors.print(f"The portal did not become ready within {READY_TIMEOUT_SECONDS} s; see the log above.")
            sys.exit(EXIT_FAILED)
        _seed(ctx, runtime, emulator.info, config_dir / "demo" / "hr.csv", demo_dir)
        _print_welcome(ctx, base)
        while not stop.is_set() and portal.poll() is None and worker.poll() is None:
            stop.wait(0.5)
    finally:
        console.print("Stopping the demo...")
        for process in (portal, worker):
            if process is not None:
                _stop(process)
        emulator.stop()


def _seed(ctx: Context, runtime: Runtime, info, source: Path, demo_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """Provision the seeded HR file through the real bulk upload path, reconcile, send invites."""
    hr_file = shifted_copy(source, demo_dir / "hr.csv", date.today())
    deps = runtime.deps()
    with runtime.session_factory() as session:
        result = provision_file(session, deps, hr_file, mapping=resolve_mapping(runtime.settings), wait=True,
                                wait_seconds=60)
        plan = ", ".join(f"{count} {action}" for action, count in result.counts.get("plan", {}).items() if count)
        ctx.console.print(
            f"Provisioned the demo HR file through the bulk upload API: {plan or 'nothing new'}; "
            f"{result.counts.get('adopted', 0)} existing account(s) adopted; {len(result.rejections)} problem(s) "
            "reported (the demo file has one bad row on purpose):"
        )
        for rejection in result.rejections[:5]:
            ctx.console.print(f"  rejected {rejection.source_ref} {rejection.field}: {rejection.reason}")
        _mark_synced_from_ad(info)
        report = invites.send_due(session, deps)
    ctx.console.print(f"Invited {len(report.sent)} joiner(s) by email (to the demo mailbox).")


def _mark_synced_from_ad(info) -> None:  # type: ignore[no-untyped-def]
    control = requests.Session()
    control.trust_env = False
    control.verify = info.ca_path
    response = control.patch(f"{info.base_url}/_emulator/users/{SYNCED_FROM_AD}",
                             json={"onPremisesSyncEnabled": True}, timeout=10)
    response.raise_for_status()


def _print_welcome(ctx: Context, base: str) -> None:
    table = Table("open", "what you will see", title="The demo is running", show_lines=True)
    table.add_row(f"{base}/_demo/mailbox/",
                  "Every new starter's personal inbox. Open an invite, follow its link, ask for a code, "
                  "and the code arrives here too.")
    table.add_row(f"{base}/staff/",
                  "Staff sign-in through the emulator. Pick Morgan Manager (manager of the joiners) or "
                  "Dana Desk (service desk).")
    table.add_row(f"{base}/", "The starter landing page (lost link form).")
    ctx.console.print(table)
    ctx.console.print("Try: Amara Okafor starts today; Grace Synced is mastered in on-premises AD (ends at the "
                      "desk); Mateo starts tomorrow (window not open yet). Press Ctrl-C to stop.")


def _start_portal(host: str, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "portal", "--host", host, "--port", str(port)]
    return subprocess.Popen(command, env=dict(os.environ, ACTIVATION_ENV="demo"))  # noqa: S603 - our own module


def _start_worker() -> subprocess.Popen[bytes]:
    """The job consumer: lost-link and manager mail, the schedule (reconcile, invites), push-API runs."""
    command = [sys.executable, "-m", "activation.cli", "worker"]
    return subprocess.Popen(command, env=dict(os.environ, ACTIVATION_ENV="demo"))  # noqa: S603 - our own module


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own loopback URL
                if response.status == 200:
                    return True
        except (URLError, OSError):
            pass
        time.sleep(0.2)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
