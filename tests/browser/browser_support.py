"""Helpers shared by the browser tests (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

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
