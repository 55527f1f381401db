"""The `activation` command: the command-line composition root.

Exit codes scripts can trust: 0 ok, 1 failed records or checks, 2 usage or configuration error.
"""

from __future__ import annotations

import logging
import sys

import click
from rich.console import Console

from activation.config import Settings, load_settings
from activation.errors import ConfigurationError
from activation.logging_config import configure_logging
from activation.runtime import Runtime

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class Context:
    """Lazily loads settings and the runtime so `--help` never touches configuration."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._runtime: Runtime | None = None
        self.console = Console(stderr=False, highlight=False)
        self.errors = Console(stderr=True, highlight=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = Runtime.from_settings(self.settings)
        return self._runtime


pass_context = click.make_pass_decorator(Context, ensure=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log debug details (never secrets).")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Day-one account activation for Microsoft Entra ID."""
    configure_logging(logging.DEBUG if verbose else logging.WARNING)
    ctx.ensure_object(Context)


def main(argv: list[str] | None = None) -> None:
    from activation import cli_commands

    cli_commands.register(cli)
    try:
        cli.main(args=argv, prog_name="activation", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_FAILED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except ConfigurationError as exc:
        click.echo(f"Configuration error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except SystemExit:
        raise
    sys.exit(EXIT_OK)


if __name__ == "__main__":
    main()
