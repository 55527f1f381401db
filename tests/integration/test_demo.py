"""`activation demo` (what `make demo` runs): serves, seeds, invites, stops cleanly, and runs again."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_demo(tmp_path: Path, *extra: str) -> tuple[int, str]:
    """Start the demo, wait until it has invited the joiners, check the pages, stop it with Ctrl-C."""
    port = free_port()
    env = dict(os.environ, ACTIVATION_ENV="demo", ACTIVATION_CONFIG_DIR=str(tmp_path / "config"),
               ACTIVATION_INSTANCE_DIR=str(tmp_path / "instance"))
    process = subprocess.Popen([sys.executable, "-m", "activation.cli", "demo", "--port", str(port), *extra],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = process.stdout.readline()  # type: ignore[union-attr]
            if not line and process.poll() is not None:
                break
            lines.append(line)
            if "Press Ctrl-C to stop" in line:
                break
        output = "".join(lines)
        assert "Press Ctrl-C to stop" in output, output
        base = f"http://127.0.0.1:{port}"
        session = requests.Session()
        session.trust_env = False
        assert session.get(f"{base}/healthz", timeout=5).status_code == 200
        assert session.get(f"{base}/readyz", timeout=5).status_code == 200
        mailbox = session.get(f"{base}/_demo/mailbox/?to=amara.okafor@home.example", timeout=5).text
        assert "Activate your" in mailbox
        assert session.get(f"{base}/staff/sign-in", timeout=5, allow_redirects=False).status_code == 302
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
    return code, "".join(lines)


def test_demo_runs_seeds_stops_and_runs_again(tmp_path: Path) -> None:
    shutil.copytree(REPO_CONFIG, tmp_path / "config", ignore=shutil.ignore_patterns("demo.toml"))
    code, output = run_demo(tmp_path)
    assert code == 0
    assert "adopted" in output and "line 18" in output  # staff kept enabled; the bad row reported
    assert (tmp_path / "config" / "demo.toml").is_file()

    code, output = run_demo(tmp_path)  # state kept: nothing new to upload, nobody invited twice
    assert code == 0 and "Invited 0 joiner(s)" in output

    code, output = run_demo(tmp_path, "--reset")
    assert code == 0 and "Invited 13 joiner(s)" in output
