"""`activation api-key create|rotate|revoke|list`: keys for the HR push API (POST /api/v1/workers).

Exit codes: 0 ok; 2 usage errors (bad name, unknown key, bad --expires / --overlap-hours).
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta

import click
from rich.table import Table

from activation import api_keys
from activation.cli import EXIT_USAGE, Context, pass_context
from activation.errors import NotFoundError


@click.group("api-key")
def api_key_group() -> None:
    """Keys for the HR push API (POST /api/v1/workers)."""


def _show_once(ctx: Context, created: api_keys.NewApiKey, what: str) -> None:
    ctx.console.print(f"{what} (shown only now; store it in the HR system's secret store):", markup=False)
    ctx.console.print(created.key, markup=False, highlight=False, soft_wrap=True)
    if created.client.expires_at is not None:
        ctx.console.print(f"It expires on {_when(created.client.expires_at)} UTC; rotate it before then "
                          f"with `activation api-key rotate {created.client.name}`.", markup=False)


@api_key_group.command("create")
@click.argument("name")
@click.option("--expires", "expires_days", type=int, default=None, metavar="DAYS",
              help="The key stops working after DAYS days (1-3650). Default: no expiry.")
@pass_context
def api_key_create(ctx: Context, name: str, expires_days: int | None) -> None:
    """Create a key for NAME and print it once."""
    try:
        with ctx.runtime.session_factory() as session:
            created = api_keys.create_api_key(session, name, clock=ctx.runtime.clock, expires_in_days=expires_days)
            _show_once(ctx, created, f"API key for {name}")
    except api_keys.ApiKeyError as exc:
        ctx.errors.print(f"Error: {exc}", markup=False)
        sys.exit(EXIT_USAGE)


@api_key_group.command("rotate")
@click.argument("name")
@click.option("--expires", "expires_days", type=int, default=None, metavar="DAYS",
              help="The new key's lifetime in days. Default: the old key's lifetime, or none.")
@click.option("--overlap-hours", type=int, default=24, show_default=True,
              help="How long the previous key keeps working (0: it stops at once).")
@pass_context
def api_key_rotate(ctx: Context, name: str, expires_days: int | None, overlap_hours: int) -> None:
    """Give NAME a new key, printed once; the previous one works for the overlap only."""
    try:
        with ctx.runtime.session_factory() as session:
            created = api_keys.rotate_api_key(session, name, clock=ctx.runtime.clock, expires_in_days=expires_days,
                                              overlap=timedelta(hours=overlap_hours))
            _show_once(ctx, created, f"New API key for {name}")
            until = created.client.previous_valid_until
            ctx.console.print(f"The previous key works until {_when(until)} UTC." if until
                              else "The previous key has stopped working.", markup=False)
    except (api_keys.ApiKeyError, NotFoundError) as exc:
        ctx.errors.print(f"Error: {exc}", markup=False)
        sys.exit(EXIT_USAGE)


@api_key_group.command("revoke")
@click.argument("name")
@pass_context
def api_key_revoke(ctx: Context, name: str) -> None:
    """Revoke the key called NAME at once."""
    try:
        with ctx.runtime.session_factory() as session:
            api_keys.revoke_api_key(session, name, clock=ctx.runtime.clock)
    except NotFoundError as exc:
        ctx.errors.print(f"Error: {exc}", markup=False)
        sys.exit(EXIT_USAGE)
    ctx.console.print(f"API key {name} is revoked.", markup=False)


@api_key_group.command("list")
@pass_context
def api_key_list(ctx: Context) -> None:
    """List keys (names and prefixes only; keys themselves are never stored)."""
    table = Table("name", "prefix", "created", "last used", "expires", "state", title="API keys")
    now = ctx.runtime.clock.now()
    with ctx.runtime.session_factory() as session:
        for client in api_keys.list_api_keys(session):
            if client.revoked_at:
                state = f"revoked {_when(client.revoked_at)}"
            elif client.expires_at and client.expires_at <= now:
                state = "expired"
            else:
                state = "active"
            table.add_row(client.name, client.key_prefix, _when(client.created_at), _when(client.last_used_at),
                          _when(client.expires_at), state)
    ctx.console.print(table)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else "-"
