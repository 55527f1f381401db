"""People for the deploy tests: a joiner in the emulator and in HR, invited through real SMTP."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests
from sqlalchemy import select, update

from activation import invites
from activation.models import Activation, ActivationState, HrStatus, Invite, Person

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
PHONE = {"width": 390, "height": 844}


def new_joiner(stack: Any, employee_id: str, email: str, manager_id: str | None = None) -> str:
    """Create the joiner, send the invite as `activation invites send` would, return the emailed link."""
    info, control = stack.emulator, stack.control
    user = control.post(f"{info.base_url}/_emulator/users", timeout=10, json={
        "employeeId": employee_id, "userPrincipalName": f"{employee_id.lower()}@contoso.example",
        "displayName": "Dorothy Vaughan", "accountEnabled": False}).json()
    with stack.runtime.session_factory() as session:
        person = Person(employee_id=employee_id, given_name="Dorothy", family_name="Vaughan",
                        display_name="Dorothy Vaughan", personal_email=email, start_date=datetime.now(UTC).date(),
                        hr_status=HrStatus.ACTIVE, time_zone="UTC", entra_object_id=user["id"],
                        upn=user["userPrincipalName"], manager_employee_id=manager_id)
        session.add(person)
        session.flush()
        invites.ensure_activation(session, person)
        session.commit()
        report = invites.send_due(session, stack.runtime.deps())
    assert employee_id in report.sent, report
    return stack.mailbox.link(email, stack.url)


def staff_person(stack: Any, employee_id: str, given: str, family: str) -> None:
    """HR knows the staff member, matched to their (seeded) emulator account."""
    info, control = stack.emulator, stack.control
    user = control.get(f"{info.base_url}/_emulator/users/{employee_id}", timeout=10).json()
    with stack.runtime.session_factory() as session:
        if session.scalars(select(Person).where(Person.employee_id == employee_id)).first():
            return
        person = Person(employee_id=employee_id, given_name=given, family_name=family,
                        display_name=f"{given} {family}", start_date=datetime(2019, 3, 4).date(),
                        hr_status=HrStatus.ACTIVE, entra_object_id=user["id"], upn=user["userPrincipalName"])
        person.activation = Activation(state=ActivationState.COMPLETED, failed_code_count=0, codes_sent=0)
        session.add(person)
        session.commit()


def invited_yesterday(stack: Any, employee_id: str) -> None:
    with stack.runtime.session_factory() as session:
        person = session.scalars(select(Person).where(Person.employee_id == employee_id)).one()
        session.execute(update(Invite).where(Invite.person_id == person.id)
                        .values(issued_at=datetime.now(UTC) - timedelta(days=1)))
        session.commit()


def lock(stack: Any, employee_id: str) -> None:
    with stack.runtime.session_factory() as session:
        person = session.scalars(select(Person).where(Person.employee_id == employee_id)).one()
        person.activation.state = ActivationState.LOCKED  # type: ignore[union-attr]
        person.activation.lock_reason = "too many wrong codes"  # type: ignore[union-attr]
        session.commit()


def privileged(stack: Any, employee_id: str, mobile: str = "+44 7700 900555") -> None:
    """HR flags the person as privileged (two desk agents) and holds their phone number (for a callback)."""
    with stack.runtime.session_factory() as session:
        person = session.scalars(select(Person).where(Person.employee_id == employee_id)).one()
        person.hr_privileged = True
        person.mobile = mobile
        session.commit()


def state_of(stack: Any, employee_id: str) -> ActivationState:
    with stack.runtime.session_factory() as session:
        person = session.scalars(select(Person).where(Person.employee_id == employee_id)).one()
        return person.activation.state  # type: ignore[union-attr]


def last_code_a_minute_ago(stack: Any, employee_id: str) -> None:
    """Time passes: the last code was emailed longer ago than the resend cooldown (60 s in staging)."""
    with stack.runtime.session_factory() as session:
        person = session.scalars(select(Person).where(Person.employee_id == employee_id)).one()
        person.activation.last_code_sent_at = datetime.now(UTC) - timedelta(seconds=61)  # type: ignore[union-attr]
        session.commit()


def phone_page(browser: Any) -> Any:
    """A phone-sized Chromium tab in a context of its own (its own cookies: one person per context)."""
    return browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True).new_page()


def sign_in_as(page: Any, stack: Any, account: str) -> None:
    page.goto(f"{stack.url}/staff/")
    page.get_by_role("button", name=re.compile(account)).click()  # the emulator's sign-in page, over TLS
    page.wait_for_url(f"{stack.url}/staff/**")


def screenshot(page: Any, default_dir: Path, name: str) -> Path:
    """A full-page screenshot to $ACTIVATION_DEPLOY_SHOTS (a folder), else to the test's own folder."""
    folder = Path(os.environ.get("ACTIVATION_DEPLOY_SHOTS", str(default_dir)))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    page.screenshot(path=str(path), full_page=True)
    return path


def fits_the_width(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"))


def small_choices(page: Any) -> list[str]:
    """Radios and checkboxes smaller than 24 x 24 CSS px (WCAG 2.5.8's minimum target), by label."""
    return page.evaluate("""() => [...document.querySelectorAll('input[type=radio], input[type=checkbox]')]
        .filter(box => { const r = box.getBoundingClientRect(); return r.width < 24 || r.height < 24; })
        .map(box => (box.labels && box.labels[0] ? box.labels[0].textContent.trim() : box.name))""")


class StarterClient:
    """A starter's browser without the browser: cookies, the page's CSRF token, our Origin on posts."""

    def __init__(self, stack: Any, link: str) -> None:
        self.stack = stack
        self.link = link
        self.http: requests.Session = stack.https()
        self.served_by: list[str] = []
        self.posted_to: list[str] = []  # the master that served each POST (a redirect's GET may go elsewhere)
        self.token = ""

    def _note(self, response: requests.Response) -> requests.Response:
        self.served_by.append(response.headers.get("X-Served-By", ""))
        match = _CSRF.search(response.text)
        if match:
            self.token = match.group(1)
        return response

    def open(self) -> requests.Response:
        return self._note(self.http.get(self.link, timeout=20))

    def post(self, path: str, **data: str) -> requests.Response:
        response = self.http.post(f"{self.link}{path}", data={"csrf_token": self.token, **data},
                                  headers={"Origin": self.stack.url}, timeout=30, allow_redirects=False)
        self.served_by.append(response.headers.get("X-Served-By", ""))
        self.posted_to.append(self.served_by[-1])
        if response.is_redirect:
            return self._note(self.http.get(urljoin(self.link, response.headers["Location"]), timeout=20))
        return self._note(response)
