"""Parallel code guesses against two real portal processes (`python -m portal`) sharing one database:
the per-code and per-activation caps still hold, because attempts are counted in the database."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from activation import invites, migrate
from activation.audit import Actor
from activation.config import load_settings
from activation.models import Activation, HrStatus, OtpChallenge, OutboxMessage, Person
from activation.runtime import Runtime
from tests.conftest import REPO_ROOT

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[tuple[Runtime, dict[str, str]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIVATION_")}
    env.update({"ACTIVATION_ENV": "development", "ACTIVATION_CONFIG_DIR": str(REPO_ROOT / "config"),
                "ACTIVATION_INSTANCE_DIR": str(tmp_path / "instance"),
                "ACTIVATION_DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}",
                "ACTIVATION_PUBLIC_URL": "http://127.0.0.1"})
    runtime = Runtime.from_settings(load_settings(env))
    migrate.upgrade(runtime.engine)
    yield runtime, env
    runtime.dispose()


@pytest.fixture
def two_portals(shared, tmp_path: Path) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    _runtime, env = shared
    processes, urls = [], []
    for _ in range(2):
        port = free_port()
        processes.append(subprocess.Popen([sys.executable, "-m", "portal", "--port", str(port)], cwd=tmp_path,
                                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        for url, process in zip(urls, processes, strict=True):
            while True:
                try:
                    requests.get(url + "/healthz", timeout=2)
                    break
                except requests.ConnectionError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise AssertionError("a portal did not start") from None
                    time.sleep(0.1)
        yield urls
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


def test_parallel_guesses_across_two_processes_stay_within_the_caps(shared, two_portals) -> None:  # type: ignore[no-untyped-def]
    runtime, _env = shared
    with runtime.session_factory() as session:
        person = Person(employee_id="E1", given_name="Grace", family_name="Hopper", display_name="Grace Hopper",
                        personal_email="grace@home.example", start_date=date.today(), hr_status=HrStatus.ACTIVE,
                        time_zone="UTC")
        session.add(person)
        session.flush()
        invite = invites.issue(session, runtime.deps(), person, Actor.system())
        session.commit()
        link = f"/a/{invites.token_service(runtime.deps()).dumps(invite.id)}"
    first, second = two_portals
    browser = requests.Session()
    landing = browser.get(first + link, timeout=10)
    token = _CSRF.search(landing.text).group(1)  # type: ignore[union-attr]
    assert browser.post(first + link + "/send-code", data={"csrf_token": token}, timeout=10).status_code == 200
    with runtime.session_factory() as session:
        mail = session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == "grace@home.example")).one()
        code = re.search(r"\b(\d{6,8})\b", mail.text_body).group(1)  # type: ignore[union-attr]
    cookies = browser.cookies.get_dict()
    statuses: list[int] = []

    def guess(base: str, n: int) -> None:
        wrong = str((int(code) + n) % 10 ** len(code)).zfill(len(code))
        answer = requests.post(base + link + "/code", data={"csrf_token": token, "code": wrong}, cookies=cookies,
                               timeout=30)
        statuses.append(answer.status_code)

    threads = [threading.Thread(target=guess, args=(base, n + 1)) for n, base in enumerate([first, second] * 10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(statuses) == 20 and 500 not in statuses
    with runtime.session_factory() as session:
        attempts = session.scalars(select(OtpChallenge.attempts)).all()
        failures = session.scalars(select(Activation.failed_code_count)).one()
    assert attempts == [runtime.settings.policy.otp_max_attempts]
    assert failures == runtime.settings.policy.otp_max_attempts  # five real comparisons, nothing more
