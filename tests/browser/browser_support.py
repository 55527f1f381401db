"""Helpers shared by the browser tests (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests

from activation import invites
from activation.models import HrStatus, Person

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@dataclass
class Live:
    """The running system: portal URL, emulator control, and the runtime the portal uses."""

    url: str
    runtime: object
    emulator: object

    def mailbox_text(self, address: str) -> list[str]:
        from activation import mailbox

        with self.runtime.session_factory() as session:  # type: ignore[attr-defined]
            return [m.text_body for m in mailbox.recent(session, to=address)]

    def latest_code(self, address: str) -> str:
        for text in self.mailbox_text(address):
            match = re.search(r"\b(\d{6,8})\b", text)
            if match and "code" in text.lower():
                return match.group(1)
        raise AssertionError(f"no code mailed to {address}")


def serious_violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    """axe-core (bundled by axe-playwright-python): serious and critical violations on the page."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)" for v in results.response["violations"]
            if v.get("impact") in ("serious", "critical")]


def screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Small PNGs for the README; written only when asked, so test runs do not churn the repository."""
    if os.environ.get("ACTIVATION_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def new_joiner(live: Live, employee_id: str, email: str) -> None:
    info, control = live.emulator  # type: ignore[misc]
    user = control.post(f"{info.base_url}/_emulator/users", timeout=10, json={
        "employeeId": employee_id, "userPrincipalName": f"{employee_id.lower()}@contoso.example",
        "displayName": "Dorothy Vaughan", "accountEnabled": False}).json()
    with live.runtime.session_factory() as session:  # type: ignore[attr-defined]
        person = Person(employee_id=employee_id, given_name="Dorothy", family_name="Vaughan",
                        display_name="Dorothy Vaughan", personal_email=email, start_date=datetime.now(UTC).date(),
                        hr_status=HrStatus.ACTIVE, time_zone="UTC", entra_object_id=user["id"],
                        upn=user["userPrincipalName"])
        session.add(person)
        session.flush()
        invites.ensure_activation(session, person)
        session.commit()
        report = invites.send_due(session, live.runtime.deps())  # type: ignore[attr-defined]
    assert employee_id in report.sent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serve_portal(instance_dir: Path, database_url: str, info, *, cooldown_seconds: int) -> Iterator[Live]:  # type: ignore[no-untyped-def]
    """The portal on a real threaded HTTP server (demo settings, outbox mail), wired to the emulator."""
    from werkzeug.serving import make_server

    from activation import migrate
    from activation.config import load_settings
    from activation.db import make_engine
    from activation.runtime import Runtime
    from portal import create_app

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = load_settings(
        {"ACTIVATION_ENV": "demo", "ACTIVATION_INSTANCE_DIR": str(instance_dir)},
        config_dir=Path(__file__).resolve().parents[2] / "config",
        overrides={
            "database": {"url": database_url},
            "portal": {"public_url": url, "organisation_name": "Contoso"},
            "microsoft": {"tenant_id": info.tenant_id, "client_id": info.client_id,
                          "client_secret": info.client_secret, "authority_host": info.base_url,
                          "graph_url": info.base_url, "ca_bundle": info.ca_path,
                          "provisioning_sp_id": info.provisioning_sp_id,
                          "provisioning_job_id": info.provisioning_job_id},
            "mail": {"backend": "outbox"},
            "policy": {"resend_cooldown_seconds": cooldown_seconds},
        },
    )
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    runtime = Runtime.from_settings(settings, engine=engine)
    server = make_server("127.0.0.1", port, create_app(runtime=runtime), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    control = requests.Session()
    control.trust_env = False
    control.verify = info.ca_path
    try:
        yield Live(url=url, runtime=runtime, emulator=(info, control))
    finally:
        server.shutdown()
        engine.dispose()
