"""`activation credentials watch` and `activation readiness` ."""

from __future__ import annotations

import sys

import click
from rich.table import Table
from sqlalchemy.exc import OperationalError

from activation import credentials, day_before
from activation.cli import EXIT_FAILED, Context, pass_context


@click.group("credentials", short_help="Watch for first passkeys and Authenticators; delete used TAPs.")
def credentials_group() -> None:
    """Day one ends with a credential: watch new users' authentication methods."""


@credentials_group.command("watch")
@click.option("--once", is_flag=True, help="One pass over what is due, then exit (for cron or a job queue).")
@click.option("--interval", default=30.0, show_default=True, type=float, help="Seconds between passes.")
@click.option("--keep-running", is_flag=True, help="Keep watching even when nothing is left (the demo uses this).")
@pass_context
def watch(ctx: Context, once: bool, interval: float, keep_running: bool) -> None:
    """Poll due users until no Temporary Access Pass is left to watch (or once with --once).

    Records a passkey or Microsoft Authenticator when it appears, deletes the TAP and tells the
    manager. The same work as the periodic job `activation.credentials.watch_due`.
    """
    runtime = ctx.runtime
    while True:
        try:
            with runtime.session_factory() as session:
                report = credentials.watch_due(session, runtime.deps())
        except OperationalError as exc:  # the database was busy or away: try again on the next pass
            if once:
                raise
            ctx.errors.print(f"credential watch pass skipped: database not available ({type(exc.orig).__name__})")
            runtime.deps().clock.sleep(interval)
            continue
        for employee_id, kind in report.registered:
            ctx.console.print(f"{employee_id}: {kind} registered; Temporary Access Pass deleted")
        for employee_id, error in report.failed:
            ctx.errors.print(f"{employee_id}: could not read authentication methods ({error})")
        if once or (report.still_watching == 0 and not keep_running):
            ctx.console.print(f"Checked {report.checked}; still watching {report.still_watching}.")
            if report.failed and once:
                sys.exit(EXIT_FAILED)
            return
        runtime.deps().clock.sleep(interval)


@click.command("readiness", short_help="Who starts tomorrow and will get stuck, and why.")
@pass_context
def readiness_command(ctx: Context) -> None:
    """Day-before report: who starts tomorrow and will get stuck, and why. Exit code 1 if anyone."""
    with ctx.runtime.session_factory() as session:
        report = day_before.tomorrow(session, ctx.runtime.deps())
    ctx.console.print(f"Starting {report.day:%A %d %B %Y}: {report.checked} not activated yet, "
                      f"{len(report.stuck)} will get stuck.")
    if report.stuck:
        table = Table("employee_id", "name", "why", title="Will get stuck")
        for row in report.stuck:
            table.add_row(row.employee_id, row.name, "; ".join(row.reasons))
        ctx.console.print(table)
        sys.exit(EXIT_FAILED)
