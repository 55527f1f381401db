"""The command line: help lists the commands; migrations run; configuration errors exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "activation.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60, check=False)


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("check", "db", "demo", "emulator", "invites"):
        assert f"  {command} " in result.stdout


def test_db_upgrade_then_check(tmp_path: Path) -> None:
    env = {"ACTIVATION_ENV": "test", "ACTIVATION_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
           "ACTIVATION_INSTANCE_DIR": str(tmp_path)}
    assert run("db", "upgrade", env=env).returncode == 0
    checked = run("db", "check", env=env)
    assert checked.returncode == 0 and "No drift" in checked.stdout


def test_configuration_error_exits_2_and_names_the_variable(tmp_path: Path) -> None:
    result = run("db", "upgrade", env={"ACTIVATION_ENV": "test", "ACTIVATION_TRUSTED_PROXIES": "many",
                                       "ACTIVATION_INSTANCE_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "ACTIVATION_TRUSTED_PROXIES" in result.stderr
