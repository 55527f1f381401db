"""`activation emulator`: run the local Entra ID + Graph stand-in (never in production)."""

from __future__ import annotations

import os
import signal
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from activation.cli import EXIT_USAGE, Context, pass_context
from activation.demo_config import EmulatorWiring, write_demo_toml
from activation.demo_data import running_demo_pid


def start_emulator(state_dir: Path, port: int, **options: Any):  # type: ignore[no-untyped-def]
    """Composition root only: the one place the core's CLI starts the emulator."""
    from entra_emulator.server import EmulatorServer

    server = EmulatorServer(state_dir=state_dir, host="127.0.0.1", port=port, **options)
    server.start()
    return server


def wiring_of(info: Any) -> EmulatorWiring:
    fields = EmulatorWiring.__dataclass_fields__
    return EmulatorWiring(**{name: value for name, value in asdict(info).items() if name in fields})


@click.command("emulator")
@click.option("--state-dir", type=click.Path(path_type=Path), default=Path("instance/demo/emulator"),
              show_default=True, help="Where identities, certificates and state are kept.")
@click.option("--port", type=int, default=0, show_default=True, help="0 picks a free port.")
@click.option("--write-config", type=click.Path(path_type=Path), default=Path("config/demo.toml"),
              show_default=True, help="Settings file to write the wiring into (no secrets).")
@click.option("--public-url", default="http://127.0.0.1:5000", show_default=True)
@click.option("--bulk-rate-calls", type=int, default=40, show_default=True)
@click.option("--bulk-rate-period", type=float, default=5.0, show_default=True)
@click.option("--processing-delay", type=float, default=2.0, show_default=True,
              help="Seconds before staged bulk uploads are processed.")
@pass_context
def emulator(ctx: Context, state_dir: Path, port: int, write_config: Path, public_url: str,
             bulk_rate_calls: int, bulk_rate_period: float, processing_delay: float) -> None:
    """Serve the Entra ID + Graph emulator over HTTPS until Ctrl-C.

    Prints one JSON line (base URL, tenant, client id and secret, CA path, provisioning ids) so
    scripts can wire the portal to it, and writes the same wiring (without the secret) to
    config/demo.toml.
    """
    if ctx.settings.is_production:
        ctx.errors.print("The emulator is never run with ACTIVATION_ENV=production.")
        sys.exit(EXIT_USAGE)
    instance_dir = Path(ctx.settings.instance_dir)
    demo_pid = running_demo_pid(instance_dir)
    demo_toml = Path(os.environ.get("ACTIVATION_CONFIG_DIR", "config")) / "demo.toml"
    if demo_pid is not None and (write_config.resolve() == demo_toml.resolve()
                                 or state_dir.resolve() == (instance_dir / "demo" / "emulator").resolve()):
        ctx.errors.print(
            f"A demo is running (process {demo_pid}); it owns config/demo.toml and instance/demo/emulator. "
            "Starting another emulator there would rewire the portal away from the demo's emulator. Use the "
            "demo's emulator, stop the demo first, or pass --state-dir and --write-config elsewhere.",
            markup=False)
        sys.exit(EXIT_USAGE)
    server = start_emulator(state_dir, port, bulk_rate_calls=bulk_rate_calls,
                            bulk_rate_period=bulk_rate_period, processing_delay=processing_delay)
    info = server.info
    write_demo_toml(write_config, wiring_of(info), public_url)
    click.echo(info.as_json())
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        server.stop()
