"""A gunicorn worker is SIGKILLed in the middle of an activation (after the account was enabled,
while the TAP call is in flight): the starter can finish afterwards, with one enable and a pass
that works, and the half-way state is visible (state `enabled`, audited) meanwhile."""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess
import threading
from datetime import UTC, datetime

import requests
from sqlalchemy import func, select

from activation import audit, invites
from activation.db import make_engine, make_session_factory
from activation.models import Activation, ActivationState, AuditEvent, HrStatus, OutboxMessage, Person
from activation.runtime import Runtime
from tests.portal_support import csrf_token
from tests.reliability.support import (
    emulator_env,
    emulator_settings,
    free_port,
    gunicorn_command,
    program,
    program_env,
    wait_for,
    write_config_dir,
)

SECRET = "reliability-" + "g" * 40
TAP_PATH = "/v1.0/users/*/authentication/temporaryAccessPassMethods"


def worker_pids(master: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True, check=False)  # noqa: S603, S607
    return [int(pid) for pid in found.stdout.split()]


def test_a_worker_killed_mid_activation_leaves_nothing_half_done(  # type: ignore[no-untyped-def]
        make_settings, postgres_url, emulator, tmp_path) -> None:
    from activation.graph.http_session import build_http_session

    info = emulator.info
    control = build_http_session(info.ca_path)
    user = control.post(f"{info.base_url}/_emulator/users", json={
        "employeeId": "G1", "displayName": "Grace Hopper", "userPrincipalName": "g1@contoso.example",
        "accountEnabled": False}).json()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = make_settings(database={"url": postgres_url}, portal={"public_url": base}, secret_key=SECRET,
                             microsoft=emulator_settings(info))
    runtime = Runtime.from_settings(settings)
    with runtime.session_factory() as session:
        person = Person(employee_id="G1", given_name="Grace", family_name="Hopper", display_name="Grace Hopper",
                        personal_email="grace@home.example", start_date=datetime.now(UTC).date(),
                        hr_status=HrStatus.ACTIVE, time_zone="UTC", entra_object_id=user["id"],
                        upn=user["userPrincipalName"])
        session.add(person)
        session.flush()
        invite = invites.issue(session, runtime.deps(), person, audit.Actor.system())
        session.commit()
        link = f"{base}/a/{invites.token_service(runtime.deps()).dumps(invite.id)}"
    runtime.dispose()

    # The lease outlives the dead worker's TAP call (held 4 s at the emulator, which still answers it after
    # the kill), as the default 120 s outlives the Graph client's 60 s retry budget: with a shorter one, a
    # fast retry could create its pass before the dead request's late one replaced it.
    config = write_config_dir(tmp_path, policy={"account_step_lease_seconds": 6, "manager_notification": False})
    env = program_env(ACTIVATION_CONFIG_DIR=str(config), ACTIVATION_DATABASE_URL=postgres_url,
                      ACTIVATION_SECRET_KEY=SECRET, ACTIVATION_PUBLIC_URL=base,
                      ACTIVATION_QUEUE_URL=f"sqlite:///{tmp_path / 'queue.db'}", **emulator_env(info))
    engine = make_engine(postgres_url)
    sessions = make_session_factory(engine)

    def state() -> Activation:
        with sessions() as session:
            return session.scalars(select(Activation)).one()

    with program(gunicorn_command(port), env, tmp_path / "gunicorn.log") as master:
        wait_for(lambda: requests.get(f"{base}/healthz", timeout=2).status_code == 200, timeout=60,
                 what="gunicorn serving")
        browser = requests.Session()
        landing = browser.get(link, timeout=10)
        assert browser.post(f"{link}/send-code", data={"csrf_token": csrf_token(landing.text)}, timeout=10,
                            allow_redirects=False).status_code == 302
        with sessions() as session:
            mail = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
        code = re.search(r"\b(\d{6,8})\b", mail.text_body).group(1)  # type: ignore[union-attr]
        code_page = browser.get(f"{link}/code", timeout=10).text
        control.post(f"{info.base_url}/_emulator/faults", json={"method": "POST", "path": TAP_PATH, "delay": 4,
                                                                "times": 1}).raise_for_status()
        outcome: dict[str, object] = {}

        def type_the_code() -> None:
            try:
                outcome["answer"] = browser.post(f"{link}/code", timeout=30, data={
                    "csrf_token": csrf_token(code_page), "code": code})
            except requests.RequestException as exc:
                outcome["error"] = exc

        typing = threading.Thread(target=type_the_code)
        typing.start()
        wait_for(lambda: state().state is ActivationState.ENABLED, timeout=30, what="enabled, TAP call in flight")
        for pid in worker_pids(master.pid):  # every worker, so certainly the one handling the request
            os.kill(pid, signal.SIGKILL)
        typing.join(timeout=30)
        assert "error" in outcome or getattr(outcome.get("answer"), "status_code", 200) >= 500

        half_way = state()  # visible meanwhile: the desk sees `enabled` and the audit says what happened
        assert half_way.state is ActivationState.ENABLED and half_way.enabled_at is not None

        def finished() -> requests.Response | None:
            page = browser.get(link, timeout=10)
            token_page = page.text if "csrf_token" in page.text else code_page
            answer = browser.post(f"{link}/finish", data={"csrf_token": csrf_token(token_page)}, timeout=30)
            assert answer.status_code in (200, 409, 503), answer.text  # never a 500 with internals
            return answer if answer.status_code == 200 else None

        wait_for(lambda: len(worker_pids(master.pid)) == 2, timeout=30, what="gunicorn replaced its workers")
        done = wait_for(finished, timeout=60, interval=0.5, what="the starter could finish")
        tap = html.unescape(re.search(r'id="tap">([^<]+)<', done.text).group(1).strip())  # type: ignore[union-attr]

    assert control.post(f"{info.base_url}/_emulator/users/G1/tap/verify", json={"value": tap}).json() == {"valid": True}
    log = control.get(f"{info.base_url}/_emulator/requests").json()
    log = log["value"] if isinstance(log, dict) else log
    enables = [e for e in log if e["method"] == "PATCH" and e["status"] == 204]
    with sessions() as session:
        final = session.scalars(select(Activation)).one()
        counts = {action: session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.outcome == "success"))
            for action in ("account.enabled", "tap.issued", "activation.completed")}
    engine.dispose()
    assert final.state is ActivationState.COMPLETED
    assert len(enables) == 1 and counts == {"account.enabled": 1, "tap.issued": 1, "activation.completed": 1}
    print(f"\n[gunicorn worker killed] injected: SIGKILL of both workers during the TAP call (after enable); "  # noqa: T201
          f"counted: {len(enables)} enable, audit {counts}, the pass shown verifies at the emulator")
