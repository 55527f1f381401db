"""Registers the command groups, each defined in its own module next to the service it drives."""

from __future__ import annotations

import click


def register(root: click.Group) -> None:
    from activation.cli_api_keys import api_key_group
    from activation.cli_check import check
    from activation.cli_db import db
    from activation.cli_demo import demo
    from activation.cli_emulator import emulator
    from activation.cli_invites import invites_group
    from activation.cli_provision import provision, reconcile_command
    from activation.cli_worker import worker

    for command in (check, db, demo, emulator, invites_group, provision, reconcile_command, api_key_group,
                    worker):
        if command.name not in root.commands:
            root.add_command(command)
    from activation.cli_credentials import credentials_group, readiness_command

    for command in (credentials_group, readiness_command):
        if command.name not in root.commands:
            root.add_command(command)
