"""The whole starter path against the emulator over HTTPS, with real MSAL and a real SMTP server.

Also: the TAP value is searched for everywhere it must never be (logs, audit, database, cookies,
emails), and fifty simultaneous "finish" requests produce exactly one TAP.
"""

from __future__ import annotations

import email
import email.policy
import html
import logging
import re
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from graph_fixtures import Emulator, running_emulator
from sqlalchemy import select, text

from activation import account_steps, codes, invites
from activation.models import ActivationState, AuditEvent, Base, HrStatus, Person
from activation.runtime import Runtime
from portal import create_app
from tests.portal_support import csrf_token, post_form


@dataclass
class Inbox:
    """A real SMTP server (aiosmtpd) keeping every message it accepts."""

    messages: list[email.message.EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
        return "250 OK"

    def text_to(self, address: str) -> list[str]:
        return [m.get_body(("plain",)).get_content() for m in self.messages if m["To"] == address]  # type: ignore[union-attr]

    def raw(self) -> str:
        return "\n".join(m.as_string() for m in self.messages)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    yield from running_emulator(tmp_path)


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def runtime(make_settings, database_url, db_engine, emulator: Emulator, inbox) -> Runtime:  # type: ignore[no-untyped-def]
    info = emulator.info
    settings = make_settings(
        database={"url": database_url},
        portal={"public_url": "http://localhost"},
        microsoft={"tenant_id": info.tenant_id, "client_id": info.client_id, "client_secret": info.client_secret,
                   "authority_host": info.base_url, "graph_url": info.base_url, "ca_bundle": info.ca_path,
                   "provisioning_sp_id": info.provisioning_sp_id, "provisioning_job_id": info.provisioning_job_id},
        mail={"backend": "smtp", "smtp_host": "127.0.0.1", "smtp_port": inbox[1], "smtp_security": "none"},
        policy={"activation_days_before_start": 3},
    )
    return Runtime.from_settings(settings, engine=db_engine)


def joiner(runtime: Runtime, emulator: Emulator, employee_id: str = "E900") -> Person:
    user = emulator.post("users", {"employeeId": employee_id, "displayName": "Katherine Johnson",
                                   "userPrincipalName": f"{employee_id.lower()}@contoso.example",
                                   "accountEnabled": False}).json()
    with runtime.session_factory() as session:
        person = Person(employee_id=employee_id, given_name="Katherine", family_name="Johnson",
                        display_name="Katherine Johnson", personal_email="kj@home.example",
                        start_date=datetime.now(UTC).date(), hr_status=HrStatus.ACTIVE, time_zone="UTC",
                        entra_object_id=user["id"], upn=user["userPrincipalName"])
        session.add(person)
        session.flush()
        invites.ensure_activation(session, person)
        session.commit()
        return person


def invite_path(inbox: Inbox) -> str:
    match = re.search(r"http://localhost(/a/[A-Za-z0-9_.\-]+)", inbox.text_to("kj@home.example")[-1])
    assert match, "no invite link in the email"
    return match.group(1)


def latest_code(inbox: Inbox) -> str:
    match = re.search(r"\b(\d{6,8})\b", inbox.text_to("kj@home.example")[-1])
    assert match, "no code in the email"
    return match.group(1)


def test_full_path_over_https_and_smtp_and_the_tap_leaks_nowhere(
    runtime: Runtime, emulator: Emulator, inbox, caplog: pytest.LogCaptureFixture
) -> None:
    mails, _ = inbox
    joiner(runtime, emulator)
    caplog.set_level(logging.DEBUG)
    with runtime.session_factory() as session:
        report = invites.send_due(session, runtime.deps())
    assert report.sent == ["E900"], report
    link = invite_path(mails)

    client = create_app(runtime=runtime).test_client()
    assert post_form(client, link, f"{link}/send-code").status_code == 302
    page = client.get(f"{link}/code").get_data(as_text=True)
    result = client.post(f"{link}/code", data={"csrf_token": csrf_token(page), "code": latest_code(mails)},
                         follow_redirects=True)
    body = result.get_data(as_text=True)
    assert result.status_code == 200, body
    tap = html.unescape(re.search(r'id="tap">([^<]+)<', body).group(1).strip())  # type: ignore[union-attr]

    user = emulator.control.get(f"{emulator.base}/_emulator/users/E900", timeout=10).json()
    assert user["accountEnabled"] is True
    assert emulator.post("users/E900/tap/verify", {"value": tap}).json() == {"valid": True}

    # The TAP value appears nowhere it must not.
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
    assert tap not in logged
    with runtime.session_factory() as session:
        audit_text = " ".join(f"{e.action} {e.reason} {e.details}" for e in session.scalars(select(AuditEvent)))
        assert "tap.issued" in audit_text and tap not in audit_text
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                assert tap not in " ".join(str(value) for value in row), f"TAP found in table {table.name}"
    for cookie in client._cookies.values():  # noqa: SLF001 - the browser's cookie jar
        assert tap not in cookie.value
    assert tap not in mails.raw()
    sent = mails.text_to("kj@home.example")  # the invite, the code, and the "this wasn't me" notice (issue 16)
    assert len(sent) == 3 and "/not-me/" in sent[2] and tap not in sent[2]


def test_on_premises_mastered_user_ends_failed_with_a_reason(runtime: Runtime, emulator: Emulator, inbox) -> None:
    mails, _ = inbox
    joiner(runtime, emulator)
    emulator.control.patch(f"{emulator.base}/_emulator/users/E900", json={"onPremisesSyncEnabled": True},
                           timeout=10).raise_for_status()
    with runtime.session_factory() as session:
        invites.send_due(session, runtime.deps())
    link = invite_path(mails)
    client = create_app(runtime=runtime).test_client()
    post_form(client, link, f"{link}/send-code")
    posted = post_form(client, f"{link}/code", f"{link}/code", {"code": latest_code(mails)})
    response = client.get(posted.headers["Location"])
    body = response.get_data(as_text=True)
    assert response.status_code == 409 and "service desk needs to finish this" in body  # a dead end, not a crash
    again = client.get(link)  # opening the link again: the same calm page, not "send me a code"
    assert again.status_code == 200 and "service desk needs to finish this" in again.get_data(as_text=True)
    assert "on-premises" not in body.lower() and "Request_BadRequest" not in body
    with runtime.session_factory() as session:
        person = session.scalars(select(Person).where(Person.employee_id == "E900")).one()
        assert person.activation.state is ActivationState.FAILED
        assert "on-premises" in (person.activation.failure_reason or "")


def test_graph_503_is_retried_within_bounds(runtime: Runtime, emulator: Emulator, inbox) -> None:
    mails, _ = inbox
    joiner(runtime, emulator)
    with runtime.session_factory() as session:
        invites.send_due(session, runtime.deps())
    link = invite_path(mails)
    client = create_app(runtime=runtime).test_client()
    post_form(client, link, f"{link}/send-code")
    emulator.add_fault(method="POST", path="/v1.0/users/*/authentication/temporaryAccessPassMethods",
                       status=503, times=1)
    posted = post_form(client, f"{link}/code", f"{link}/code", {"code": latest_code(mails)})
    response = client.get(posted.headers["Location"])
    assert response.status_code == 200 and 'id="tap"' in response.get_data(as_text=True)
    taps = [r for r in emulator.requests_log() if r["path"].endswith("temporaryAccessPassMethods")]
    assert [r["status"] for r in taps] == [503, 201]


def test_fifty_simultaneous_finishes_make_exactly_one_tap(runtime: Runtime, emulator: Emulator, inbox) -> None:
    mails, _ = inbox
    person = joiner(runtime, emulator)
    deps = runtime.deps()
    browser = "z" * 43
    with runtime.session_factory() as session:
        invites.send_due(session, deps)
        token = invite_path(mails).rsplit("/", 1)[1]
        opened = invites.open_invite(session, deps, token)
        codes.request_code(session, deps, opened, browser)
        codes.verify_code(session, deps, invites.open_invite(session, deps, token), browser, latest_code(mails))
    emulator.clear_requests()
    start = threading.Barrier(50)

    def finish() -> str:
        with runtime.session_factory() as session:
            start.wait(timeout=30)
            try:
                opened = invites.open_invite(session, deps, token)
                account_steps.finish(session, deps, opened, browser)
                return "issued"
            except account_steps.StepsInProgress:
                return "in progress"
            except (invites.InviteProblem, account_steps.ResumeNotAllowed):
                return "already done"

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(lambda _: finish(), range(50)))

    assert outcomes.count("issued") == 1, outcomes
    created = [r for r in emulator.requests_log()
               if r["method"] == "POST" and r["path"].endswith("temporaryAccessPassMethods")]
    enabled = [r for r in emulator.requests_log() if r["method"] == "PATCH"]
    assert len(created) == 1 and len(enabled) == 1
    with runtime.session_factory() as session:
        state = session.execute(text("SELECT state FROM activation WHERE person_id = :id"), {"id": person.id}).scalar()
    assert state == "completed"
