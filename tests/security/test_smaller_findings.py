"""The outside test's smaller findings: bounded callback text in the audit, bidi characters in the CSV
export, a private demo database, a daily cap on codes, and the audit page for the desk only."""

from __future__ import annotations

import csv
import io
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from activation.models import ActivationState
from tests.portal_support import csrf_token
from tests.staff_support import StaffWorld, build_world

VERIFIED = {"method": "id_check", "reference": "IDV-1"}  # account-handing desk actions verify the caller


@pytest.fixture
def world(make_settings, database_url, db_engine) -> StaffWorld:  # type: ignore[no-untyped-def]
    return build_world(make_settings, database_url, db_engine, policy={"max_codes_per_day": 3})


def test_callback_error_text_reaches_the_audit_bounded_and_printable(world: StaffWorld) -> None:
    world.runtime.override("staff_sign_in", object())  # never reached: no pending sign-in
    world.app.test_client().get("/staff/auth/callback?state=s&error=" + "%E2%80%AE%0D%0A" * 500)
    event = world.events("staff.signed_in")[-1]
    assert event.outcome == "failure" and event.reason is not None
    assert event.reason.isascii() and event.reason.isprintable() and len(event.reason) <= 96


def test_bidi_controls_in_a_desk_reason_are_escaped_in_the_csv(world: StaffWorld) -> None:
    person = world.person("E1", state=ActivationState.LOCKED)
    desk = world.sign_in(world.staff("Dana Desk", desk=True))
    reason = "Caller verified \u202eKCIT\u202c ticket\u200b 42\u2066x\u2069"
    world.post(desk, f"/staff/desk/people/{person}/unlock", data={**VERIFIED, "reason": reason, "invite": "keep"})
    exported = desk.get("/staff/desk/audit/export.csv?employee_id=E1").get_data(as_text=True)
    for invisible in ("\u202e", "\u202c", "\u200b", "\u2066", "\u2069"):
        assert invisible not in exported
    unlock = next(r for r in csv.DictReader(io.StringIO(exported)) if r["action"] == "desk.unlock")
    assert unlock["reason"] == "Caller verified \\u202eKCIT\\u202c ticket\\u200b 42\\u2066x\\u2069"


def test_managers_get_403_on_every_desk_page(world: StaffWorld) -> None:
    person = world.person("E1", manager="M1")
    manager = world.sign_in(world.staff("Morgan Manager", employee_id="M1"))
    for url in ("/staff/desk/", "/staff/desk/audit", "/staff/desk/audit/export.csv?employee_id=E1",
                "/staff/desk/search?q=grace", f"/staff/desk/people/{person}", f"/staff/desk/people/{person}/unlock"):
        assert manager.get(url).status_code == 403, url
    assert world.events("staff.access_denied")


def _starter_asks_for_a_code(world: StaffWorld, client, link: str):  # type: ignore[no-untyped-def]
    world.clock.advance(61)  # past the resend cooldown, as a patient resend loop would be
    page = client.get(link, follow_redirects=True).get_data(as_text=True)
    return client.post(link + "/send-code", data={"csrf_token": csrf_token(page)})


def test_codes_per_activation_are_capped_per_day_then_the_desk(world: StaffWorld) -> None:
    person = world.person("E1")
    link = world.invite_link(person)
    starter = world.app.test_client()
    for _ in range(3):
        assert _starter_asks_for_a_code(world, starter, link).status_code == 302
    capped = _starter_asks_for_a_code(world, starter, link)
    assert capped.status_code == 429 and "enough codes for today" in capped.get_data(as_text=True)
    other_browser = world.app.test_client()  # a fresh browser session does not reset the count
    assert _starter_asks_for_a_code(world, other_browser, link).status_code == 429
    assert len(world.mailer.sent_to("grace@home.example", "code")) == 3
    assert world.events("code.sent")[-1].outcome == "refused"

    desk = world.sign_in(world.staff("Dana Desk", desk=True))
    world.post(desk, f"/staff/desk/people/{person}/reset", data={**VERIFIED, "reason": "Caller verified, ticket 7"})
    link = re.search(r"https?://[^/\s]+(/a/[^\s\"<>]+)", world.mailer.sent_to("grace@home.example", "invite")[-1].text
                     ).group(1)  # type: ignore[union-attr]
    assert _starter_asks_for_a_code(world, starter, link).status_code == 302  # the desk lifted it
    world.clock.advance(24 * 3600)
    for _ in range(3):
        assert _starter_asks_for_a_code(world, starter, link).status_code == 302  # a new day


def test_the_sqlite_database_and_its_folder_are_private(tmp_path: Path) -> None:
    database = tmp_path / "instance" / "demo" / "activation.db"
    env = {**os.environ, "ACTIVATION_ENV": "test", "ACTIVATION_DATABASE_URL": f"sqlite:///{database}",
           "ACTIVATION_INSTANCE_DIR": str(tmp_path / "instance")}
    old_umask = os.umask(0o022)
    try:
        result = subprocess.run([sys.executable, "-m", "activation.cli", "db", "upgrade"], env=env,
                                capture_output=True, text=True, timeout=120, check=False)
    finally:
        os.umask(old_umask)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert stat.S_IMODE(database.parent.stat().st_mode) == 0o700
    for sidecar in database.parent.glob("activation.db-*"):
        assert stat.S_IMODE(sidecar.stat().st_mode) & 0o077 == 0


def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    from activation.db import make_engine

    database = tmp_path / "activation.db"
    database.touch(mode=0o644)
    database.chmod(0o644)
    make_engine(f"sqlite:///{database}").dispose()
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
