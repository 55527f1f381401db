"""`activation emulator` runs standalone: one JSON line for scripts, a settings file, clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import requests


def test_emulator_command_prints_wiring_writes_config_and_stops(tmp_path: Path) -> None:
    config = tmp_path / "demo.toml"
    env = dict(os.environ, ACTIVATION_ENV="test", ACTIVATION_INSTANCE_DIR=str(tmp_path / "instance"))
    process = subprocess.Popen(
        [sys.executable, "-m", "activation.cli", "emulator", "--state-dir", str(tmp_path / "state"),
         "--write-config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        line = process.stdout.readline()  # type: ignore[union-attr]
        info = json.loads(line)
        assert {"base_url", "tenant_id", "client_id", "client_secret", "ca_path",
                "provisioning_sp_id", "provisioning_job_id"} <= set(info)
        written = tomllib.loads(config.read_text(encoding="utf-8"))
        assert written["microsoft"]["tenant_id"] == info["tenant_id"]
        assert info["client_secret"] not in config.read_text(encoding="utf-8")
        session = requests.Session()
        session.trust_env = False
        discovery = session.get(f"{info['base_url']}/{info['tenant_id']}/v2.0/.well-known/openid-configuration",
                                verify=info["ca_path"], timeout=10)
        assert discovery.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


def test_the_emulator_leaves_a_running_demos_wiring_alone(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    (instance / "demo").mkdir(parents=True)
    (instance / "demo" / ".demo.pid").write_text(str(os.getpid()), encoding="utf-8")  # a live process
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "demo.toml").write_text("# the demo's wiring\n", encoding="utf-8")
    env = dict(os.environ, ACTIVATION_ENV="test", ACTIVATION_INSTANCE_DIR=str(instance),
               ACTIVATION_CONFIG_DIR=str(config_dir))
    refused = subprocess.run(
        [sys.executable, "-m", "activation.cli", "emulator", "--state-dir", str(tmp_path / "state"),
         "--write-config", str(config_dir / "demo.toml")],
        capture_output=True, text=True, env=env, timeout=60, check=False)
    assert refused.returncode == 2
    assert "A demo is running" in refused.stderr + refused.stdout
    assert (config_dir / "demo.toml").read_text(encoding="utf-8") == "# the demo's wiring\n"
