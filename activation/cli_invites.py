"""`activation invites send`: the cron-friendly invite run."""

from __future__ import annotations

import sys

import click
from rich.table import Table

from activation import invites
from activation.cli import EXIT_FAILED, Context, pass_context


@click.group("invites")
def invites_group() -> None:
    """Activation invites."""


@invites_group.command("send")
@click.option("--dry-run", is_flag=True, help="Say who would be invited; send nothing, change nothing.")
@pass_context
def send(ctx: Context, dry_run: bool) -> None:
    """Invite joiners whose account exists and whose start date is within the lead time.

    Never sends twice; lists everyone due who could not be invited, and why. Exit code 1 if any
    email failed, so a scheduler notices.
    """
    with ctx.runtime.session_factory() as session:
        report = invites.send_due(session, ctx.runtime.deps(), dry_run=dry_run)
    verb = "Would invite" if dry_run else "Invited"
    ctx.console.print(f"{verb} {len(report.sent)} joiner(s): {', '.join(report.sent) or '-'}")
    if report.expired:
        ctx.console.print(f"{'Would expire' if dry_run else 'Expired'} {len(report.expired)} activation(s) whose "
                          f"window closed: {', '.join(report.expired)} (the desk can re-invite)")
    if report.skipped or report.failed:
        table = Table("employee_id", "outcome", "reason", title="Not invited")
        for employee_id, reason in report.failed:
            table.add_row(employee_id, "[red]failed[/red]", reason)
        for employee_id, reason in report.skipped:
            table.add_row(employee_id, "skipped", reason)
        ctx.console.print(table)
    if report.failed:
        sys.exit(EXIT_FAILED)
