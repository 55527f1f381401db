"""Validation rules, table-driven: every rule rejects with field, masked value and an actionable reason."""

from __future__ import annotations

from datetime import date

import pytest

from activation.provisioning.mapping import DEFAULT_MAPPING_PATH as MAPPING_TEXT_PATH
from activation.provisioning.mapping import load_mapping
from activation.provisioning.planner import KnownPerson
from activation.provisioning.readers import SourceRow
from activation.provisioning.records import HrRecord, new_record
from activation.provisioning.validation import ValidationResult, validate

TODAY = date(2026, 1, 5)
MAPPING = load_mapping()
GOOD = {
    "employee_id": "E1", "first_name": "Ada", "last_name": "Lovelace", "preferred_name": "",
    "personal_email": "ada.lovelace@example.com", "mobile_phone": "+44 7700 900001", "manager_id": "",
    "start_date": "2026-02-02", "end_date": "", "department": "Engineering", "job_title": "Engineer",
    "company": "Contoso", "country": "GB", "usage_location": "GB", "preferred_language": "en-GB",
    "time_zone": "Europe/London", "worker_type": "Employee", "status": "active",
}


def person(n: int, **overrides: str) -> dict[str, str]:
    row = {**GOOD, "employee_id": f"E{n}", "personal_email": f"person{n}@example.com"}
    row.update(overrides)
    return row


def run(*rows: dict[str, str], known: dict[str, KnownPerson] | None = None) -> ValidationResult:
    source = [SourceRow(f"line {i + 2}", dict(row)) for i, row in enumerate(rows)]
    return validate(source, mapping=MAPPING, known_people=known, today=TODAY)


def test_a_good_row_becomes_a_canonical_record() -> None:
    result = run({**GOOD, "personal_email": " Ada.Lovelace@EXAMPLE.Com ", "country": "gb", "status": "Active"})
    assert result.rejections == [] and result.warnings == []
    record = result.records[0]
    assert record == HrRecord(
        employee_id="E1", given_name="Ada", family_name="Lovelace", preferred_name="",
        display_name="Ada Lovelace", personal_email="Ada.Lovelace@example.com", mobile="+447700900001",
        manager_employee_id="", department="Engineering", job_title="Engineer", company="Contoso",
        country="GB", usage_location="GB", preferred_language="en-GB", time_zone="Europe/London",
        worker_type="Employee", start_date=date(2026, 2, 2), end_date=None, hr_status="active",
    )
    assert record.source_ref == "line 2"


def test_display_name_prefers_the_preferred_name() -> None:
    assert run({**GOOD, "preferred_name": "Addie"}).records[0].display_name == "Addie Lovelace"


def test_fast_record_factory_matches_the_constructor() -> None:
    record = run(GOOD).records[0]
    values = tuple(getattr(record, name) for name in HrRecord.__slots__)
    rebuilt = new_record(values)
    assert rebuilt == record and hash(rebuilt) == hash(record)
    with pytest.raises(AttributeError):
        rebuilt.given_name = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("overrides", "field", "reason_part"),
    [
        ({"employee_id": ""}, "employee_id", "is required"),
        ({"first_name": "  "}, "given_name", "fill in column 'first_name'"),
        ({"last_name": ""}, "family_name", "is required"),
        ({"start_date": ""}, "start_date", "is required"),
        ({"status": ""}, "hr_status", "is required"),
        ({"status": "on leave"}, "hr_status", "must be 'active' or 'terminated'"),
        ({"start_date": "2026-02-30"}, "start_date", "not a real calendar date"),
        ({"start_date": "02/03/2026"}, "start_date", "in the format ISO 8601"),
        ({"start_date": "2026-02-30T00:00:00-05:00"}, "start_date", "not a real calendar date"),
        ({"start_date": "2026-02-02T25:00:00-05:00"}, "start_date", "not a real calendar date"),
        ({"start_date": "20260203"}, "start_date", "not a real calendar date"),
        ({"end_date": "2026-13-01"}, "end_date", "not a real calendar date"),
        ({"end_date": "2026-02-01"}, "end_date", "is before start_date 2026-02-02"),
        ({"country": "XX"}, "country", "ISO 3166-1 alpha-2"),
        ({"country": "GBR"}, "country", "longer than 2"),
        ({"usage_location": "UK"}, "usage_location", "ISO 3166-1 alpha-2"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "IANA time zone"),
        ({"time_zone": "../../etc/passwd"}, "time_zone", "IANA time zone"),
        ({"preferred_language": "english!"}, "preferred_language", "language tag"),
        ({"last_name": "Smith\r\nBcc: evil@example.com"}, "family_name", "U+000D"),
        ({"first_name": "Ada\nX"}, "given_name", "U+000A"),
        ({"department": "Sales\tEMEA"}, "department", "U+0009"),
        ({"job_title": "Engineer\x00"}, "job_title", "U+0000"),
        ({"first_name": "Ada\u202eevil"}, "given_name", "U+202E"),
        ({"first_name": "Ada\u200b"}, "given_name", "U+200B"),
        ({"personal_email": "ada@example.com\r\nBcc: x@example.com"}, "personal_email", "U+000D"),
        ({"personal_email": "not-an-email"}, "personal_email", "not a valid email"),
        ({"personal_email": "ada@@example.com"}, "personal_email", "not a valid email"),
        ({"personal_email": "ada@example"}, "personal_email", "not a valid email"),
        ({"personal_email": "ada..l@example.com"}, "personal_email", "not a valid email"),
        ({"personal_email": "ada@-example.com"}, "personal_email", "not a valid email"),
        ({"personal_email": "аda@example.com"}, "personal_email", "non-ASCII characters before @"),
        ({"personal_email": "ada@exаmple.com"}, "personal_email", "mixes scripts (CYRILLIC and LATIN)"),
        ({"personal_email": "ada@ｅxample.com"}, "personal_email", "compatibility character U+FF45"),
        ({"personal_email": "ada@ex☃ample.com"}, "personal_email", "only letters, digits"),
        ({"personal_email": "a" * 65 + "@example.com"}, "personal_email", "longer than 64"),
        ({"personal_email": "a@" + "b" * 250 + ".com"}, "personal_email", "longer than 254"),
        ({"mobile_phone": "call me"}, "mobile", "not a phone number"),
        ({"mobile_phone": "+1 23"}, "mobile", "not a phone number"),
        ({"first_name": "A" * 65}, "given_name", "longer than 64"),
        ({"last_name": "L" * 65}, "family_name", "longer than 64"),
        ({"department": "D" * 129}, "department", "longer than 128"),
        ({"job_title": "J" * 129}, "job_title", "longer than 128"),
        ({"company": "C" * 129}, "company", "longer than 128"),
        ({"employee_id": "E" * 65}, "employee_id", "longer than 64"),
        ({"employee_id": "E 1"}, "employee_id", "may only hold letters"),
        ({"employee_id": "E1' or '1'='1"}, "employee_id", "may only hold letters"),
        ({"manager_id": "E1"}, "manager_employee_id", "is the person themself"),
        ({"manager_id": "M 9"}, "manager_employee_id", "not a valid employee id"),
    ],
)
def test_row_rule_rejects(overrides: dict[str, str], field: str, reason_part: str) -> None:
    result = run({**GOOD, **overrides})
    assert result.records == []
    assert field in {r.field for r in result.rejections}
    rejection = next(r for r in result.rejections if r.field == field)
    assert reason_part in rejection.reason
    assert rejection.source_ref == "line 2"
    assert result.rejected_rows == frozenset({"line 2"})


@pytest.mark.parametrize(
    ("overrides", "check"),
    [
        ({"personal_email": "ada@bücher.de"}, lambda r: r.personal_email == "ada@bücher.de"),
        ({"personal_email": "ada@ПРИМЕР.рф"}, lambda r: r.personal_email == "ada@пример.рф"),
        ({"country": "de", "usage_location": "de"}, lambda r: (r.country, r.usage_location) == ("DE", "DE")),
        ({"end_date": "2026-02-02"}, lambda r: r.end_date == date(2026, 2, 2)),
        # ISO 8601 date-times with an offset (Microsoft's examples): the calendar date as written.
        ({"start_date": "2026-02-02T00:00:00-05:00"}, lambda r: r.start_date == date(2026, 2, 2)),
        ({"start_date": "2026-02-02T23:30:00+09:00"}, lambda r: r.start_date == date(2026, 2, 2)),
        ({"start_date": "2026-02-02T00:00:00Z"}, lambda r: r.start_date == date(2026, 2, 2)),
        ({"start_date": "2026-02-02T08:00:00.000+01:00"}, lambda r: r.start_date == date(2026, 2, 2)),
        ({"end_date": "2026-03-31T17:00:00-05:00"}, lambda r: r.end_date == date(2026, 3, 31)),
        ({"end_date": "2025-12-31", "start_date": "2025-01-01"}, lambda r: r.hr_status == "terminated"),
        ({"status": "terminated", "personal_email": ""}, lambda r: r.personal_email == ""),
        ({"first_name": "  Anne   Marie "}, lambda r: r.given_name == "Anne Marie"),
        ({"first_name": "Zoë", "last_name": "Ødegaard"}, lambda r: r.display_name == "Zoë Ødegaard"),
        ({"mobile_phone": ""}, lambda r: r.mobile == ""),
        ({"country": "", "time_zone": "", "preferred_language": ""}, lambda r: r.country == ""),
    ],
)
def test_row_rule_accepts(overrides: dict[str, str], check) -> None:
    result = run({**GOOD, **overrides})
    assert result.rejections == []
    assert check(result.records[0])


def test_internationalised_domain_is_accepted_with_a_warning() -> None:
    result = run({**GOOD, "personal_email": "ada@bücher.de"})
    assert [w.field for w in result.warnings] == ["personal_email"]


def test_every_problem_of_a_row_is_reported() -> None:
    result = run({**GOOD, "country": "XX", "time_zone": "Nowhere/Else", "start_date": "2026-02-30"})
    assert {r.field for r in result.rejections} == {"country", "time_zone", "start_date"}
    assert result.rejected_rows == frozenset({"line 2"})


def test_personal_email_is_optional_for_a_known_person() -> None:
    known = {"E1": KnownPerson("E1", None, False, "active", {}, True)}
    assert run({**GOOD, "personal_email": ""}, known=known).rejections == []


@pytest.mark.parametrize(
    ("field", "overrides", "forbidden"),
    [
        ("personal_email", {"personal_email": "ada.lovelace@exаmple.com"}, "lovelace"),
        ("given_name", {"first_name": "Adelaide\n"}, "delaide"),
        ("mobile", {"mobile_phone": "+44 7700 CALLME"}, "7700"),
    ],
)
def test_personal_values_are_masked_in_rejections(field: str, overrides: dict[str, str], forbidden: str) -> None:
    rejection = next(r for r in run({**GOOD, **overrides}).rejections if r.field == field)
    assert forbidden not in rejection.value_masked
    assert "***" in rejection.value_masked
    assert forbidden not in rejection.reason


def test_masked_email_shape() -> None:
    rejection = run({**GOOD, "personal_email": "jane@exаmple.com"}).rejections[0]
    assert rejection.value_masked == "j***@e***.com"


def test_a_strict_profile_names_the_format_to_add_for_offset_datetimes(tmp_path) -> None:
    text = (MAPPING_TEXT_PATH.read_text(encoding="utf-8").replace('date_formats = ["iso8601"]',
                                                                  'date_formats = ["%Y-%m-%d"]'))
    strict = tmp_path / "strict.toml"
    strict.write_text(text, encoding="utf-8")
    source = [SourceRow("line 2", {**GOOD, "start_date": "2021-05-01T00:00:00-05:00"})]
    result = validate(source, mapping=load_mapping(strict), today=TODAY)
    assert result.records == []
    reason = result.rejections[0].reason
    assert "is an ISO 8601 date and time" in reason and 'add "iso8601"' in reason
    assert "not a real calendar date" not in reason


def test_identical_duplicate_rows_collapse_into_one() -> None:
    result = run(person(1), person(2), person(1))
    assert [r.employee_id for r in result.records] == ["E1", "E2"]
    assert result.rejections == [] and result.duplicates_collapsed == 1
    assert result.records[0].source_ref == "line 2"


def test_conflicting_duplicate_rows_reject_the_id_naming_every_line() -> None:
    result = run(person(1), person(2), person(1, department="Sales"))
    assert [r.employee_id for r in result.records] == ["E2"]
    assert {r.source_ref for r in result.rejections} == {"line 2", "line 4"}
    for rejection in result.rejections:
        assert rejection.employee_id == "E1"
        assert "line 2 and line 4" in rejection.reason


def test_duplicate_id_with_one_rejected_row_rejects_the_other_too() -> None:
    result = run(person(1), person(1, country="XX"))
    assert result.records == []
    assert {r.source_ref for r in result.rejections} == {"line 2", "line 3"}
    assert any("line 3, which was rejected" in r.reason for r in result.rejections)


def test_the_same_personal_email_on_two_people_rejects_both_naming_both_lines() -> None:
    result = run(person(1, personal_email="shared@example.com"), person(2),
                 person(3, personal_email="SHARED@example.com"))
    assert [r.employee_id for r in result.records] == ["E2"]
    by_id = {r.employee_id: r for r in result.rejections}
    assert set(by_id) == {"E1", "E3"}
    assert "E3 (line 4)" in by_id["E1"].reason and "E1 (line 2)" in by_id["E3"].reason
    assert by_id["E1"].value_masked == "s***@e***.com"


def test_an_email_already_held_by_a_known_person_is_rejected() -> None:
    known = {"E9": KnownPerson("E9", "h", True, "active", {"personal_email": "person1@example.com"}, True)}
    result = run(person(1), known=known)
    assert result.records == []
    assert "E9 (already provisioned)" in result.rejections[0].reason


def test_a_known_person_who_changes_address_frees_it() -> None:
    known = {"E9": KnownPerson("E9", "h", True, "active", {"personal_email": "person1@example.com"}, True)}
    result = run(person(1), person(9), known=known)
    assert result.rejections == []


@pytest.mark.parametrize(
    ("managers", "looping"),
    [
        ({1: "E2", 2: "E1"}, {"E1", "E2"}),
        ({1: "E2", 2: "E3", 3: "E1", 4: "E1"}, {"E1", "E2", "E3"}),
        ({1: "E2", 2: "E3", 3: "E4", 4: "E5", 5: "E3"}, {"E3", "E4", "E5"}),
        ({1: "", 2: "E1", 3: "E2", 4: "E3"}, set()),
        ({1: "", 2: "E1", 3: "E4", 4: "E3", 5: "E3", 6: "E5"}, {"E3", "E4"}),  # reports to a loop, not in it
    ],
)
def test_manager_cycles_reject_every_id_in_the_cycle(managers: dict[int, str], looping: set[str]) -> None:
    result = run(*(person(n, manager_id=m) for n, m in managers.items()))
    rejected = {r.employee_id for r in result.rejections}
    assert rejected == looping
    assert all(r.field == "manager_employee_id" and "manager chain loops" in r.reason for r in result.rejections)
    assert {r.employee_id for r in result.records} == {f"E{n}" for n in managers} - looping


def test_a_cycle_through_a_known_person_is_caught() -> None:
    known = {"E7": KnownPerson("E7", "h", True, "active", {"manager_employee_id": "E1"}, True)}
    result = run(person(1, manager_id="E7"), known=known)
    assert [r.employee_id for r in result.rejections] == ["E1"]
    assert "E1 -> E7 -> E1" in result.rejections[0].reason


def test_unknown_manager_is_a_warning_not_an_error() -> None:
    result = run(person(1, manager_id="E404"))
    assert result.rejections == [] and len(result.records) == 1
    assert [(w.employee_id, w.field) for w in result.warnings] == [("E1", "manager_employee_id")]


def test_a_joiner_without_personal_email_is_imported_with_a_warning() -> None:
    result = run(person(1, personal_email=""))
    assert result.rejections == [] and [r.employee_id for r in result.records] == ["E1"]
    [warning] = result.warnings
    assert warning.field == "personal_email" and "no activation invite can be sent" in warning.reason


def test_manager_known_from_earlier_runs_gives_no_warning() -> None:
    known = {"E404": KnownPerson("E404", "h", True, "active", {}, True)}
    assert run(person(1, manager_id="E404"), known=known).warnings == []


def test_a_row_defect_from_the_reader_is_a_rejection() -> None:
    rows = [SourceRow("line 2", {"employee_id": "E1"}, "has 3 cells but the header has 18; check quoting")]
    result = validate(rows, mapping=MAPPING, today=TODAY)
    assert result.records == []
    assert result.rejections[0].field == "(row)" and "3 cells" in result.rejections[0].reason


def test_nothing_is_silently_dropped() -> None:
    rows = [person(1), person(2, country="XX"), person(3), person(3), person(4, manager_id="E5"),
            person(5, manager_id="E4"), person(6, personal_email="bad")]
    result = run(*rows)
    accounted = {r.source_ref for r in result.records} | result.rejected_rows
    assert result.rows_read == len(rows)
    assert len(accounted) + result.duplicates_collapsed == len(rows)


def test_a_duplicate_id_message_names_every_line() -> None:
    result = run(person(1), person(1, department="Sales"), person(1, country="XX"))
    reasons = {r.source_ref: r.reason for r in result.rejections if r.field == "employee_id"}
    assert "line 2, line 3 and line 4" in reasons["line 2"]


def test_rejected_rows_get_no_warnings_and_come_sorted_by_line() -> None:
    rows = [person(n, personal_email="") for n in range(1, 12)]
    rows[9] = person(10, personal_email="", start_date="2026-02-30")  # line 11
    rows[1] = person(2, personal_email="", country="XX")  # line 3
    result = run(*rows)
    assert [r.source_ref for r in result.rejections] == ["line 3", "line 11"]
    assert not any(w.source_ref in ("line 3", "line 11") for w in result.warnings)
    assert [w.source_ref for w in result.warnings][:3] == ["line 2", "line 4", "line 5"]


def test_problems_name_the_files_column() -> None:
    result = run({**GOOD, "status": "on leave", "mobile_phone": "call me"})
    columns = {r.field: r.column for r in result.rejections}
    assert columns == {"hr_status": "status", "mobile": "mobile_phone"}
    assert {r.where_in_file for r in result.rejections} == {"status", "mobile_phone"}
