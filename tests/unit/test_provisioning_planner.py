"""Planning: day-1/day-2 deltas, explicit `active` per DESIGN section 5, leaver safety, mass-change guard."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from activation.provisioning.mapping import load_mapping
from activation.provisioning.planner import (
    JOINER,
    LEAVER,
    MOVER,
    REHIRE,
    RESYNC,
    KnownPerson,
    Plan,
    check_mass_change,
    plan,
)
from activation.provisioning.readers import read_rows
from activation.provisioning.records import HrRecord, canonical_fields
from activation.provisioning.validation import validate

TODAY = date(2026, 1, 5)
DOMAIN = "contoso.example"
MAPPING = load_mapping()
HEADER = ("employee_id,first_name,last_name,preferred_name,personal_email,mobile_phone,manager_id,start_date,"
          "end_date,department,job_title,company,country,usage_location,preferred_language,time_zone,"
          "worker_type,status")


def line(n: int, *, department: str = "Engineering", status: str = "active", end: str = "",
         given: str = "Ada", email: str = "") -> str:
    email = email or f"person{n}@example.com"
    manager = "" if n == 1 else "E1"
    return (f"E{n},{given},Person{n},,{email},,{manager},2025-06-01,{end},{department},Engineer,Contoso,GB,GB,"
            f"en-GB,Europe/London,Employee,{status}")


def records_from(tmp_path: Path, name: str, lines: list[str]) -> list[HrRecord]:
    path = tmp_path / name
    path.write_text(HEADER + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    result = validate(read_rows(path, MAPPING), mapping=MAPPING, today=TODAY)
    assert result.rejections == []
    return result.records


def store(result: Plan, known: dict[str, KnownPerson], *, activated: set[str] = frozenset()) -> dict[str, KnownPerson]:
    """What the apply step records after a successful upload (a leaver's activation is cancelled)."""
    updated = dict(known)
    for change in [*result.to_upload(), *result.unchanged]:
        record = change.record
        before = known.get(record.employee_id)
        was_activated = before is not None and before.activated and change.action != LEAVER
        updated[record.employee_id] = KnownPerson(
            record.employee_id, change.payload_hash, record.employee_id in activated or was_activated,
            record.hr_status, canonical_fields(record), True,
        )
    return updated


def settled(records: list[HrRecord], activated: set[str]) -> dict[str, KnownPerson]:
    """Known state after day 1 was applied, some people activated, and that re-synced (active=true)."""
    known = store(run(records, {}), {}, activated=activated)
    return store(run(records, known), known, activated=activated)


def run(records: list[HrRecord], known: dict[str, KnownPerson], *, full: bool = False) -> Plan:
    return plan(records, known, today=TODAY, upn_domain=DOMAIN, mapping=MAPPING, full=full)


def test_day_one_everyone_active_is_a_joiner_with_active_false(tmp_path: Path) -> None:
    day1 = run(records_from(tmp_path, "day1.csv", [line(n) for n in range(1, 6)]), {})
    assert [c.action for c in day1.joiners] == [JOINER] * 5
    operations = list(day1.operations())
    assert [op.employee_id for op in operations] == ["E1", "E2", "E3", "E4", "E5"]
    assert all(op.operation["data"]["active"] is False for op in operations)
    assert all(op.payload_hash == c.payload_hash for op, c in zip(operations, day1.joiners, strict=True))


def test_day_two_uploads_only_the_changed_people(tmp_path: Path) -> None:
    day1_records = records_from(tmp_path, "day1.csv", [line(n) for n in range(1, 6)])
    known = store(run(day1_records, {}), {})
    day2_records = records_from(tmp_path, "day2.csv", [
        line(1), line(2, department="Finance"), line(3, status="terminated"), line(4), line(5, given="Adelaide"),
        line(6),
    ])
    day2 = run(day2_records, known)
    assert {c.record.employee_id: c.action for c in day2.to_upload()} == {
        "E2": MOVER, "E3": LEAVER, "E5": MOVER, "E6": JOINER,
    }
    assert [c.record.employee_id for c in day2.unchanged] == ["E1", "E4"]
    assert day2.upload_count == 4
    mover = next(c for c in day2.movers if c.record.employee_id == "E2")
    assert [(d.field, d.old, d.new) for d in mover.diff] == [("department", "Engineering", "Finance")]
    renamed = next(c for c in day2.movers if c.record.employee_id == "E5")
    assert [(d.field, d.old, d.new) for d in renamed.diff] == [
        ("given_name", "A***", "A***"), ("display_name", "A***", "A***"),
    ]
    # The same file again changes nothing.
    known = store(day2, known)
    assert run(day2_records, known).upload_count == 0


def test_full_resends_unchanged_people_as_resyncs(tmp_path: Path) -> None:
    records = records_from(tmp_path, "day1.csv", [line(1), line(2)])
    known = store(run(records, {}), {})
    again = run(records, known, full=True)
    assert [c.action for c in again.resyncs] == [RESYNC, RESYNC] and again.unchanged == []


def test_an_activated_person_stays_active_on_every_resync(tmp_path: Path) -> None:
    records = records_from(tmp_path, "day1.csv", [line(1), line(2)])
    known = store(run(records, {}), {}, activated={"E1"})
    # Nothing changed in HR, but the portal enabled E1: we must now send active=true, never false.
    after_activation = run(records, known)
    assert [(c.record.employee_id, c.action, c.active) for c in after_activation.to_upload()] == [
        ("E1", RESYNC, True),
    ]
    known = store(after_activation, known, activated={"E1"})
    moved = run(records_from(tmp_path, "day2.csv", [line(1, department="Finance"), line(2)]), known)
    assert [(c.record.employee_id, c.action, c.active) for c in moved.to_upload()] == [("E1", MOVER, True)]
    assert all(op.operation["data"]["active"] is True for op in moved.operations())
    for change in [*moved.unchanged, *run(records, known, full=True).to_upload()]:
        if change.record.employee_id == "E1":
            assert change.active is True


@pytest.mark.parametrize(
    "leaver_line",
    [line(1, status="terminated"), line(1, end="2026-01-04"), line(1, status="TERMINATED", end="2026-03-01")],
    ids=["terminated", "end-date-passed", "terminated-future-end"],
)
def test_a_leaver_is_always_switched_off_even_when_activated(tmp_path: Path, leaver_line: str) -> None:
    known = settled(records_from(tmp_path, "day1.csv", [line(1), line(2)]), {"E1", "E2"})
    result = run(records_from(tmp_path, "day2.csv", [leaver_line, line(2)]), known)
    assert [(c.record.employee_id, c.action, c.active) for c in result.to_upload()] == [("E1", LEAVER, False)]
    operation = next(result.operations())
    assert operation.action == LEAVER and operation.operation["data"]["active"] is False
    # Once applied, the same file is not a leaver again.
    assert run(records_from(tmp_path, "day3.csv", [leaver_line, line(2)]), store(result, known)).upload_count == 0


def test_an_end_date_in_the_future_is_not_a_leaver_yet(tmp_path: Path) -> None:
    known = settled(records_from(tmp_path, "day1.csv", [line(1)]), {"E1"})
    result = run(records_from(tmp_path, "day2.csv", [line(1, end="2026-01-05")]), known)
    assert [(c.action, c.active) for c in result.to_upload()] == [(MOVER, True)]


def test_absence_from_a_file_never_makes_a_leaver(tmp_path: Path) -> None:
    known = store(run(records_from(tmp_path, "day1.csv", [line(1), line(2)]), {}), {})
    result = run(records_from(tmp_path, "day2.csv", [line(1)]), known)
    assert result.leavers == [] and result.upload_count == 0


def test_a_terminated_stranger_is_skipped(tmp_path: Path) -> None:
    result = run(records_from(tmp_path, "day1.csv", [line(1, status="terminated")]), {})
    assert result.upload_count == 0 and [c.record.employee_id for c in result.skipped] == ["E1"]


def test_a_rehire_starts_disabled_again(tmp_path: Path) -> None:
    known = settled(records_from(tmp_path, "d1.csv", [line(1)]), {"E1"})
    known = store(run(records_from(tmp_path, "d2.csv", [line(1, status="terminated")]), known), known)
    result = run(records_from(tmp_path, "d3.csv", [line(1)]), known)
    assert [(c.action, c.active) for c in result.to_upload()] == [(REHIRE, False)]


def test_personal_values_are_masked_in_diffs(tmp_path: Path) -> None:
    known = store(run(records_from(tmp_path, "d1.csv", [line(1, email="old.address@example.com")]), {}), {})
    result = run(records_from(tmp_path, "d2.csv", [line(1, email="new.address@example.org")]), known)
    (change,) = result.movers
    assert [(d.field, d.old, d.new) for d in change.diff] == [
        ("personal_email", "o***@e***.com", "n***@e***.org"),
    ]


def known_people(active: int, terminated: int = 0) -> dict[str, KnownPerson]:
    people = {f"K{n}": KnownPerson(f"K{n}", "h", True, "active") for n in range(active)}
    people.update({f"T{n}": KnownPerson(f"T{n}", "h", False, "terminated") for n in range(terminated)})
    return people


def leaver_plan(tmp_path: Path, known: dict[str, KnownPerson], count: int) -> Plan:
    lines = [line(n, status="terminated").replace(f"E{n},", f"K{n},", 1) for n in range(count)]
    records = records_from(tmp_path, "leavers.csv", lines)
    return run(records, known)


@pytest.mark.parametrize(
    ("active", "leaving", "kwargs", "blocked"),
    [
        (100, 10, {}, False),  # exactly 10%: allowed
        (100, 11, {}, True),  # more than 10%
        (1000, 50, {}, False),  # exactly 50
        (1000, 51, {}, True),  # more than 50, though only 5.1%
        (100, 30, {"max_share": 0.5}, False),
        (10, 2, {"max_share": 0.5, "max_count": 1}, True),
        (0, 0, {}, False),
    ],
)
def test_mass_change_guard(tmp_path: Path, active: int, leaving: int, kwargs: dict, blocked: bool) -> None:
    known = known_people(active, terminated=5)
    verdict = check_mass_change(leaver_plan(tmp_path, known, leaving), known, **kwargs)
    assert verdict.blocked is blocked
    assert verdict.switching_off == leaving and verdict.known_active == active
    assert f"{leaving} of {active} known active people" in verdict.reason
    if blocked:
        assert "--force" in verdict.reason


def test_mass_change_reason_names_the_limits(tmp_path: Path) -> None:
    known = known_people(20)
    verdict = check_mass_change(leaver_plan(tmp_path, known, 3), known)
    assert verdict.blocked
    assert "switch off 3 of 20" in verdict.reason and "10%" in verdict.reason and "50" in verdict.reason


def test_plan_accepts_records_built_directly() -> None:
    record = HrRecord(
        employee_id="E9", given_name="Grace", family_name="Hopper", preferred_name="", display_name="Grace Hopper",
        personal_email="grace@example.com", mobile="", manager_employee_id="", department="", job_title="",
        company="", country="US", usage_location="US", preferred_language="en-US", time_zone="America/New_York",
        worker_type="Employee", start_date=date(2026, 2, 1), end_date=None, hr_status="active",
    )
    result = run([record], {"E9": KnownPerson("E9", None, True, "active", canonical_fields(record), True)})
    assert [(c.action, c.active) for c in result.to_upload()] == [(RESYNC, True)]
    assert replace(record, source_ref="x") == record
