"""`activation demo`: the whole product on embedded defaults, for a newcomer's first look."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from urllib.error import URLError

import click

from activation import migrate
from activation.cli import EXIT_FAILED, Context, pass_context

READY_TIMEOUT_SECONDS = 60


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@pass_context
def demo(ctx: Context, host: str, port: int) -> None:
    """Run the demo: migrate a local SQLite database and serve the portal until Ctrl-C."""
    if ctx.settings.env != "demo":
        raise click.UsageError("Run the demo with ACTIVATION_ENV=demo (make demo does this for you).")
    migrate.upgrade(ctx.runtime.engine)
    env = dict(os.environ, ACTIVATION_ENV="demo", ACTIVATION_PUBLIC_URL=f"http://{host}:{port}")
    command = [sys.executable, "-m", "portal", "--host", host, "--port", str(port)]
    portal = subprocess.Popen(command, env=env)  # noqa: S603 - our own interpreter and module
    base = f"http://{host}:{port}"
    try:
        if not _wait_ready(f"{base}/readyz", portal):
            ctx.errors.print(f"The portal did not become ready within {READY_TIMEOUT_SECONDS} s; see the log above.")
            sys.exit(EXIT_FAILED)
        ctx.console.print(f"[bold]Demo running.[/bold] Portal: {base}/  Health: {base}/healthz  {base}/readyz")
        ctx.console.print("Press Ctrl-C to stop.")
        portal.wait()
    except KeyboardInterrupt:
        ctx.console.print("Stopping the demo...")
    finally:
        _stop(portal)


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
