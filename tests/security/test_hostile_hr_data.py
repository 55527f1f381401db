"""HR data is untrusted input: at import (the CLI, files in odd encodings, deep JSON), in pages, in
emails and in exports."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from activation import cli_commands
from activation.cli import cli
from activation.models import Person
from tests.provisioning_support import HEADER, REPO_ROOT, write_hr
from tests.provisioning_support import hr_line as _hr_line
from tests.security.starter_support import starter_world
from tests.staff_support import StaffWorld

HOSTILE_NAME = '<script>alert(1)</script>{{ 7*7 }}{% raw %}"\'&'

VERIFIED = {"method": "id_check", "reference": "IDV-1"}  # account-handing desk actions verify the caller


def hr_line(employee_id: str, **values: str) -> str:
    """An HR line starting a month from today: the CLI runs on the real clock, and a start date long past
    is held back (a decision for HR), which would hide what these tests look at."""
    values.setdefault("start", (date.today() + timedelta(days=30)).isoformat())
    return _hr_line(employee_id, **values)


@pytest.fixture
def provision(monkeypatch, tmp_path, database_url, db_engine):  # type: ignore[no-untyped-def]
    cli_commands.register(cli)
    for name, value in {"ACTIVATION_ENV": "test", "ACTIVATION_DATABASE_URL": database_url,
                        "ACTIVATION_INSTANCE_DIR": str(tmp_path), "ACTIVATION_CONFIG_DIR": str(REPO_ROOT / "config"),
                        "COLUMNS": "200"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)

    def run(path: Path) -> tuple[int, str]:
        result = CliRunner().invoke(cli, ["provision", str(path), "--dry-run"], catch_exceptions=False)
        return result.exit_code, result.output

    return run


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (hr_line("E2", given="Ada\x00"), "first_name"),
        (hr_line("E2", given="Ada\x1b[31m"), "first_name"),
        (hr_line("E2", family="Smith\u202eevil"), "last_name"),
        (hr_line("E2", given="Ada\u200b"), "first_name"),
        (hr_line("E2", email='"a@home.example\r\nBcc: x@evil.example"'), "personal_email"),
        (hr_line("E2", email="a@home.example%0ABcc:x@evil.example"), "personal_email"),
        (hr_line("E2", given="A" * 5000), "first_name"),
        (hr_line("E2", department="D" * 100_000), "department"),
    ],
    ids=["nul", "escape", "bidi", "zero-width", "header-injection", "encoded-header-injection", "long-name",
         "huge-value"],
)
def test_hostile_rows_are_rejected_at_import_naming_line_and_field(provision, tmp_path: Path, line: str,
                                                                   field: str) -> None:
    code, output = provision(write_hr(tmp_path / "hr.csv", hr_line("E1"), line))
    assert code == 1, output
    assert "1 valid, 1 rejected" in output, output
    rejected = " ".join(ln for ln in output.splitlines() if "line 3" in ln)  # named by the file's column
    assert "E2" in rejected and field in rejected, output
    assert "\x1b[31m" not in output and "\u202e" not in output and "\x00" not in output


@pytest.mark.parametrize("value", ["=HYPERLINK(\"https://evil.example\")", "+SUM(A1)", "@cmd", "<b>Bold</b>",
                                   "{{ config }}"])
def test_spreadsheet_formulas_and_markup_are_data_not_errors(provision, tmp_path: Path, value: str) -> None:
    code, output = provision(write_hr(tmp_path / "hr.csv", hr_line("E1", title=value.replace(",", " "))))
    assert code in (0, 1) and "Traceback" not in output


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        ((HEADER + "\n" + hr_line("E1") + "\n").encode("utf-16"), "UTF-8"),
        ((HEADER + "\n" + hr_line("E1", given="Ren\xe9e") + "\n").encode("latin-1"), "UTF-8"),
        (b"\xff\xfe\x00\x00garbage", "UTF-8"),
        (b"", ""),
    ],
    ids=["utf-16", "latin-1", "binary", "empty"],
)
def test_odd_encodings_exit_with_a_message_not_a_traceback(provision, tmp_path: Path, content: bytes,
                                                          expect: str) -> None:
    path = tmp_path / "hr.csv"
    path.write_bytes(content)
    code, output = provision(path)
    assert code in (1, 2) and "Traceback" not in output and expect in output


def test_a_utf8_bom_is_fine(provision, tmp_path: Path) -> None:
    path = tmp_path / "hr.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + "\n" + hr_line("E1") + "\n").encode())
    assert provision(path)[0] == 0


@pytest.mark.parametrize("depth", [50, 5000])
def test_deeply_nested_json_files_exit_2_not_a_traceback(provision, tmp_path: Path, depth: int) -> None:
    path = tmp_path / "hr.json"
    path.write_text("[" + '{"employee_id": "E1", "extra": ' + "[" * depth + "]" * depth + "}]", encoding="utf-8")
    code, output = provision(path)
    assert code in (1, 2) and "Traceback" not in output and "RecursionError" not in output


@pytest.fixture
def world(make_settings, database_url, db_engine) -> StaffWorld:  # type: ignore[no-untyped-def]
    return starter_world(make_settings, database_url, db_engine)


def _hostile_person(world: StaffWorld) -> int:
    """As if HR data had got past import: the pages and emails must still be safe."""
    person = world.person("E1", "Grace Hopper", manager="M1")
    with world.runtime.session_factory() as session:
        row = session.get(Person, person)
        assert row is not None
        row.given_name = row.preferred_name = HOSTILE_NAME
        row.display_name = HOSTILE_NAME
        row.department = "=HYPERLINK(\"https://evil.example\")"
        session.commit()
    return person


def test_hostile_names_are_escaped_in_every_page(world: StaffWorld) -> None:
    person = _hostile_person(world)
    link = world.invite_link(person)
    desk = world.sign_in(world.staff("Dana Desk", desk=True))
    manager = world.sign_in(world.staff("Morgan Manager", employee_id="M1"))
    pages = [world.app.test_client().get(link), desk.get(f"/staff/desk/people/{person}"),
             desk.get("/staff/desk/search?q=E1"), manager.get("/staff/starters/")]
    for page in pages:
        body = page.get_data(as_text=True)
        assert page.status_code == 200
        assert "<script>alert(1)" not in body
        assert "&lt;script&gt;" in body, page.request.path
        assert "{{ 7*7 }}" in body  # shown as typed, never evaluated


def test_hostile_names_are_escaped_in_emails_and_headers(world: StaffWorld) -> None:
    person = _hostile_person(world)
    world.invite_link(person)
    desk = world.sign_in(world.staff("Dana Desk", desk=True))
    world.post(desk, f"/staff/desk/people/{person}/resend-invite",
               data={**VERIFIED, "reason": "Caller verified, ticket 9"})
    mail = world.mailer.sent_to("grace@home.example", "invite")[-1]
    assert "<script>" not in mail.html and "&lt;script&gt;" in mail.html
    assert "{{ 7*7 }}" in mail.text and "49" not in mail.text.replace("2049", "")
    assert "\n" not in mail.subject and "\r" not in mail.subject


def test_hostile_values_are_neutralised_in_the_csv_export(world: StaffWorld) -> None:
    person = world.person("=1+1", "Grace Hopper")
    desk = world.sign_in(world.staff("Dana Desk", desk=True))
    world.post(desk, f"/staff/desk/people/{person}/cancel", data={"reason": "=cmd|'/c calc'!A1 withdrawn"})
    exported = desk.get("/staff/desk/audit/export.csv?employee_id=%3D1%2B1").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert rows
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@")), value
    assert json.dumps  # the details column is JSON text, neutralised like every other cell
