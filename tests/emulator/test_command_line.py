"""``python -m entra_emulator`` prints its info as one JSON line and stops cleanly on SIGTERM."""

from __future__ import annotations

import ast
import json
import signal
import subprocess
import sys
from pathlib import Path

import entra_emulator
from entra_emulator.server import EmulatorInfo

from .conftest import app_token, http_session


def test_main_serves_and_stops_on_sigterm(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "entra_emulator", "--state-dir", str(tmp_path), "--port", "0",
         "--processing-delay", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = process.stdout.readline()
        info = EmulatorInfo(**json.loads(line))
        assert app_token(info, http_session(info))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert (tmp_path / "state.json").exists()


def test_emulator_imports_nothing_from_our_client():
    package = Path(entra_emulator.__file__).parent
    for module in package.glob("*.py"):
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in {"activation", "portal"}, f"{module.name} imports {name}"
