"""`activation check`: a preflight an operator runs before the first real run."""

from __future__ import annotations

import sys

import click
from rich.table import Table
from rich.text import Text

from activation.cli import EXIT_FAILED, Context, pass_context
from activation.preflight import run_checks


@click.command("check", short_help="Check settings, database, token, Graph and the schema.")
@pass_context
def check(ctx: Context) -> None:
    """Check configuration, database, token and a harmless Graph read; exit 1 if any fails."""
    results = run_checks(ctx.runtime)
    table = Table("check", "result", "detail", title="Preflight")
    for result in results:
        table.add_row(result.name, "[green]ok[/green]" if result.ok else "[red]FAILED[/red]",
                      Text(result.detail))  # details quote settings like [provisioning]: not markup
    ctx.console.print(table)
    if not all(result.ok for result in results):
        sys.exit(EXIT_FAILED)
