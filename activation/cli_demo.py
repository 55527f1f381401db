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
from activation.demo_data import DEMO_LOCK, shifted_copy
from activation.provisioning.apply import provision_file, resolve_mapping
from activation.runtime import Runtime

READY_TIMEOUT_SECONDS = 60
SYNCED_FROM_AD = "AD4001"  # the demo marks this account as mastered in on-premises AD


@click.command(short_help="Run the demo until Ctrl-C (--reset starts afresh).")
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
    for private in (demo_dir.parent, demo_dir):  # the instance folder: secret key, database, emulator keys
        private.mkdir(mode=0o700, parents=True, exist_ok=True)
        private.chmod(0o700)
    console = ctx.console
    base = f"http://{host}:{port}"
    lock = demo_dir / DEMO_LOCK
    demo_dir.mkdir(parents=True, exist_ok=True)
    lock.write_text(str(os.getpid()), encoding="utf-8")  # `activation emulator` leaves our wiring alone
    console.print("[bold]Starting the Entra ID + Graph emulator[/bold] (HTTPS, local)...")
    emulator = start_emulator(demo_dir / "emulator", 0, processing_delay=0.5)
    portal: subprocess.Popen[bytes] | None = None
    watcher: subprocess.Popen[bytes] | None = None
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
        _map_custom_attributes(runtime, emulator.info)
        _seed(ctx, runtime, emulator.info, config_dir / "demo" / "hr.csv", demo_dir)
        watcher = _start_credential_watcher()  # every 2 s, so the demo's funnel moves at once (the queue: 5 min)
        _print_welcome(ctx, base, runtime.settings.portal.my_security_info_url, emulator.info.ca_path)
        while not stop.is_set() and portal.poll() is None and worker.poll() is None:
            stop.wait(0.5)
    finally:
        console.print("Stopping the demo...")
        for process in (portal, worker, watcher):
            if process is not None:
                _stop(process)
        emulator.stop()
        lock.unlink(missing_ok=True)


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
    ctx.console.print(f"To plan that file again: activation provision {hr_file} --dry-run (the copy with today's "
                      "dates; config/demo/hr.csv is its undated template).", markup=False)


def _map_custom_attributes(runtime: Runtime, info) -> None:  # type: ignore[no-untyped-def]
    """Map every attribute the demo's profile sends in the emulator's provisioning app, as an admin would."""
    from activation.provisioning.custom_attributes import suggested_mappings
    from activation.provisioning.schema_check import unmapped_attributes

    mapping = resolve_mapping(runtime.settings)
    missing = set(unmapped_attributes(mapping, runtime.graph.provisioning_schema()))
    if not missing:
        return
    control = requests.Session()
    control.trust_env = False
    control.verify = info.ca_path
    url = f"{info.base_url}/_emulator/provisioning-schema"
    current = control.get(url, timeout=10)
    current.raise_for_status()
    added = [*current.json()["mappings"], *suggested_mappings(mapping, missing)]
    control.put(url, json={"mappings": added}, timeout=10).raise_for_status()


def _mark_synced_from_ad(info) -> None:  # type: ignore[no-untyped-def]
    control = requests.Session()
    control.trust_env = False
    control.verify = info.ca_path
    response = control.patch(f"{info.base_url}/_emulator/users/{SYNCED_FROM_AD}",
                             json={"onPremisesSyncEnabled": True}, timeout=10)
    response.raise_for_status()


def _print_welcome(ctx: Context, base: str, security_info_url: str, ca_path: str) -> None:
    table = Table("open", "what you will see", title="The demo is running", show_lines=True)
    table.add_row(f"{base}/_demo/mailbox/",
                  "Every new starter's personal inbox. Open an invite, follow its link, ask for a code, "
                  "and the code arrives here too.")
    table.add_row(f"{base}/staff/",
                  "Staff sign-in through the emulator. Pick Morgan Manager (manager of the joiners), "
                  "Riley Reviewer (a manager HR never sent: found through the directory) or Dana Desk "
                  "(service desk); Sam Second approves as the second agent, Lee Lead switches threat mode.")
    table.add_row(f"{base}/", "The starter landing page (lost link form).")
    table.add_row(security_info_url, "After the pass: the emulator's My Security Info. Sign in with the "
                  "Temporary Access Pass and add a passkey; the desk's funnel then shows the credential.")
    ctx.console.print(table)
    ctx.console.print(f"Staff sign-in opens the emulator over HTTPS with a certificate from a CA made on this "
                      f"machine, so the browser warns once. Trust {ca_path} in the browser (it is kept between "
                      "runs), or choose Advanced, then Proceed: it is your own loopback emulator.")
    ctx.console.print("Try: Amara Okafor starts today; Grace Synced is mastered in on-premises AD (ends at the "
                      "desk); Mateo starts tomorrow (window not open yet). Press Ctrl-C to stop.")


def _start_credential_watcher() -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "activation.cli", "credentials", "watch", "--keep-running", "--interval", "2"]
    return subprocess.Popen(command, env=dict(os.environ, ACTIVATION_ENV="demo"))  # noqa: S603 - our own module


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
