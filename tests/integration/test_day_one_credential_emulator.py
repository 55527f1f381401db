"""Day one ends where a real one does, against the emulator over HTTPS: the starter gets a TAP, signs in
to My Security Info with it, adds a passkey; the watcher records it, deletes the TAP and tells the desk's
funnel. Also: a pre-TAP check failing against the emulator's policy sends the starter to the desk."""

from __future__ import annotations

import html
import re

import test_starter_end_to_end as starter_path
from graph_fixtures import Emulator
from sqlalchemy import select

from activation import credentials, invites
from activation.models import Activation, ActivationState
from activation.runtime import Runtime
from activation.staff import funnel
from portal import create_app
from tests.portal_support import csrf_token, post_form

# The same emulator, SMTP inbox and runtime as the starter's end-to-end path.
emulator, inbox, runtime = starter_path.emulator, starter_path.inbox, starter_path.runtime
invite_path, joiner, latest_code = starter_path.invite_path, starter_path.joiner, starter_path.latest_code


def activate(runtime: Runtime, mails):  # type: ignore[no-untyped-def]
    with runtime.session_factory() as session:
        invites.send_due(session, runtime.deps())
    link = invite_path(mails)
    client = create_app(runtime=runtime).test_client()
    assert post_form(client, link, f"{link}/send-code").status_code == 302
    page = client.get(f"{link}/code").get_data(as_text=True)
    return client.post(f"{link}/code", data={"csrf_token": csrf_token(page), "code": latest_code(mails)},
                       follow_redirects=True)  # post/redirect/get: the pass is shown on the GET


def test_the_starter_registers_a_passkey_and_the_watcher_deletes_the_tap(runtime: Runtime, emulator: Emulator,
                                                                          inbox) -> None:
    mails, _ = inbox
    joiner(runtime, emulator)
    result = activate(runtime, mails)
    assert result.status_code == 200
    tap = html.unescape(re.search(r'id="tap">([^<]+)<', result.get_data(as_text=True)).group(1).strip())  # type: ignore[union-attr]
    with runtime.session_factory() as session:
        assert credentials.watch_due(session, runtime.deps()).registered == []

    browser = emulator.control  # My Security Info is a browser page on the emulator
    signed_in = browser.post(f"{emulator.base}/mysecurityinfo/sign-in",
                             data={"upn": "e900@contoso.example", "tap": tap}, timeout=10)
    assert signed_in.status_code == 200
    ticket = re.search(r'name="ticket" value="([^"]+)"', signed_in.text).group(1)  # type: ignore[union-attr]
    assert browser.post(f"{emulator.base}/mysecurityinfo/register", data={"ticket": ticket, "kind": "passkey"},
                        timeout=10).status_code == 200

    with runtime.session_factory() as session:
        row = session.scalars(select(Activation)).one()
        row.credential_next_check_at = None  # due now, rather than waiting out the first backoff
        session.commit()
        report = credentials.watch_due(session, runtime.deps())
        assert report.registered == [("E900", "passkey")]
        row = session.scalars(select(Activation)).one()
        assert row.credential_type == "passkey" and row.tap_method_id is None
        board = funnel.compute(session, runtime.deps().clock.now())
    assert [(s.name, s.count) for s in board.steps] == [("invited", 1), ("code sent", 1), ("TAP issued", 1),
                                                        ("credential registered", 1)]
    assert emulator.post("users/E900/tap/verify", {"value": tap}).json() == {"valid": False}  # the TAP is gone


def test_a_user_outside_the_tap_policy_is_sent_to_the_desk(runtime: Runtime, emulator: Emulator, inbox) -> None:
    mails, _ = inbox
    joiner(runtime, emulator)
    emulator.control.put(f"{emulator.base}/_emulator/tap-policy-targets",
                         json={"includeTargets": [{"id": "group-other", "targetType": "group"}]},
                         timeout=10).raise_for_status()
    result = activate(runtime, mails)
    assert result.status_code == 409 and "The service desk needs to finish this" in result.get_data(as_text=True)
    with runtime.session_factory() as session:
        row = session.scalars(select(Activation)).one()
        assert row.state is ActivationState.FAILED and "outside the Temporary Access Pass policy" in row.failure_reason
