"""Mapping profiles: strict loading with clear errors, transforms, value maps, and the CSV2SCIM profile."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

import pytest

from activation.errors import ConfigurationError
from activation.provisioning.mapping import (
    CSV2SCIM_MAPPING_PATH,
    DEFAULT_MAPPING_PATH,
    load_mapping,
    parse_mapping,
)
from activation.provisioning.planner import plan
from activation.provisioning.readers import read_rows
from activation.provisioning.records import MAPPABLE_FIELDS
from activation.provisioning.validation import validate

TODAY = date(2026, 1, 5)
TEMPLATE = DEFAULT_MAPPING_PATH.parent / "hr-template.csv"
MINIMAL = """
[profile]
name = "tiny"
[fields.employee_id]
column = "id"
[fields.given_name]
column = "first"
[fields.family_name]
column = "last"
[fields.start_date]
column = "start"
[fields.hr_status]
column = "state"
"""


def write(tmp_path: Path, text: str, name: str = "mapping.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_profiles_load() -> None:
    default, csv2scim = load_mapping(), load_mapping(CSV2SCIM_MAPPING_PATH)
    assert default.custom_extension == csv2scim.custom_extension == (
        "urn:ietf:params:scim:schemas:extension:dayone:1.0:User"
    )
    assert default.fingerprint != csv2scim.fingerprint
    assert "WorkerID" in csv2scim.required_columns


def test_the_template_imports_with_the_default_profile() -> None:
    mapping = load_mapping()
    result = validate(read_rows(TEMPLATE, mapping), mapping=mapping, today=TODAY)
    assert result.rejections == [] and result.warnings == []
    assert [r.employee_id for r in result.records] == ["E1001", "E1002", "E1003"]
    header = TEMPLATE.read_text(encoding="utf-8").splitlines()[0]
    assert header == ("employee_id,first_name,last_name,preferred_name,personal_email,mobile_phone,manager_id,"
                      "start_date,end_date,department,job_title,company,country,usage_location,"
                      "preferred_language,time_zone,worker_type,status")


CSV2SCIM_FILE = (
    "WorkerID,WorkerStatus,WorkerType,UserID,FirstName,LastName,FullName,Email,PersonalEmail,Mobile,HireDate,"
    "LeaveDate,ManagerID,Department,JobTitle,Company,CountryCode,UsageLocation,PreferredLanguage,TimeZone,"
    "CostCenter\n"
    "21001,Active,Employee,jdoe,John,Doe,John Doe,john.doe@contoso.com,john.doe@example.com,+1 425 555 0100,"
    "02/03/2026,,21000,Sales,Sales Rep,Contoso,us,US,en-US,America/Los_Angeles,CC-1\n"
    "21000,Active,Employee,asmith,Alice,Smith,Alice Smith,alice@contoso.com,alice.smith@example.com,,"
    "2020-07-15,,,Sales,Sales Director,Contoso,US,US,en-US,America/Los_Angeles,CC-1\n"
    "21002,Inactive,Contractor,bmiller,Bob,Miller,Bob Miller,bob@contoso.com,bob@example.com,,"
    "01/10/2024,12/31/2025,21000,Sales,Consultant,Contoso,US,US,en-US,America/New_York,CC-2\n"
)


def test_a_csv2scim_file_imports_with_the_mapping_alone(tmp_path: Path) -> None:
    mapping = load_mapping(CSV2SCIM_MAPPING_PATH)
    path = write(tmp_path, CSV2SCIM_FILE, "csv2scim.csv")
    result = validate(read_rows(path, mapping), mapping=mapping, today=TODAY)
    assert result.rejections == [] and result.warnings == []
    john, alice, bob = result.records
    assert (john.employee_id, john.given_name, john.manager_employee_id) == ("21001", "John", "21000")
    assert john.start_date == date(2026, 2, 3) and john.country == "US" and john.mobile == "+14255550100"
    assert john.personal_email == "john.doe@example.com" and john.hr_status == "active"
    assert alice.start_date == date(2020, 7, 15)
    assert (bob.hr_status, bob.end_date, bob.worker_type) == ("terminated", date(2025, 12, 31), "Contractor")
    planned = plan(result.records, {}, today=TODAY, upn_domain="contoso.com", mapping=mapping)
    assert [c.record.employee_id for c in planned.joiners] == ["21001", "21000"]
    assert [c.record.employee_id for c in planned.skipped] == ["21002"]


# The header of Microsoft's own sample (PowerShell/CSV2SCIM/Samples), with made-up people.
MICROSOFT_SAMPLE = (
    "WorkerID,WorkerStatus,WorkerType,UserID,FirstName,LastName,FullName,GenderPronoun,ManagerID,HireDate,OnLeave,"
    "Department,Division,CostCenter,Company,Location,JobTitle,StreetAddress,City,CountryCode,OfficePhone,Custom01,"
    "Custom02,ZipCode\n"
    "3101,Inactive,Contractor,EMP3101,Rui,Costa,Rui Costa,HE/HIM,3200,2013-01-01,True,Sales,Retail,CC1,Fabrikam,"
    "Europe,Sales Executive,1 Main St,Leeds,UK,555-0101,T1,X1,LS1\n"
    "3102,Active,Employee,EMP3102,Ana,Silva,Ana Silva,SHE/HER,3200,2026-02-09,False,Engineering,Retail,CC2,Fabrikam,"
    "Europe,Project Manager,2 Main St,Leeds,UK,555-0102,T2,,LS2\n"
)


def test_microsofts_own_sample_layout_imports_with_the_mapping_alone(tmp_path: Path) -> None:
    mapping = load_mapping(CSV2SCIM_MAPPING_PATH)
    path = write(tmp_path, MICROSOFT_SAMPLE, "csv-with-2-records.csv")
    result = validate(read_rows(path, mapping), mapping=mapping, today=TODAY)
    assert result.rejections == []
    inactive, active = result.records
    assert (active.employee_id, active.country, active.company, active.hr_status) == ("3102", "GB", "Fabrikam",
                                                                                        "active")
    assert inactive.hr_status == "terminated"
    warned = {(w.employee_id, w.field) for w in result.warnings}
    assert ("3102", "personal_email") in warned  # no personal email column: imported, flagged for the invite run


def test_csv2scim_unknown_status_is_rejected_with_the_mapping_named(tmp_path: Path) -> None:
    mapping = load_mapping(CSV2SCIM_MAPPING_PATH)
    path = write(tmp_path, CSV2SCIM_FILE.replace("21001,Active", "21001,OnLeave"), "csv2scim.csv")
    result = validate(read_rows(path, mapping), mapping=mapping, today=TODAY)
    rejection = next(r for r in result.rejections if r.employee_id == "21001")
    assert rejection.field == "hr_status" and "mapping-csv2scim.toml" in rejection.reason


def test_transforms_value_maps_and_defaults(tmp_path: Path) -> None:
    text = MINIMAL.replace('column = "state"', 'column = "state"\ntransforms = ["trim", "lower"]\n'
                           'values = { yes = "active", no = "terminated" }')
    text += '[fields.worker_type]\ncolumn = "kind"\ndefault = "Employee"\ntransforms = ["trim", "title"]\n'
    mapping = load_mapping(write(tmp_path, text))
    canonical = mapping.to_canonical({"id": " 7 ", "first": "a", "last": "b", "start": "x", "state": " YES ",
                                      "kind": ""})
    assert canonical == {
        **dict.fromkeys(MAPPABLE_FIELDS, ""),
        "employee_id": "7", "given_name": "a", "family_name": "b", "start_date": "x", "hr_status": "active",
        "worker_type": "Employee",
    }
    assert mapping.to_canonical({"state": "No", "kind": "contractor"})["worker_type"] == "Contractor"
    assert mapping.to_canonical({"state": "No"})["hr_status"] == "terminated"


def test_custom_date_format(tmp_path: Path) -> None:
    mapping = load_mapping(write(tmp_path, MINIMAL.replace('column = "start"', 'column = "start"\n'
                                                           'date_formats = ["%d.%m.%Y"]')))
    assert mapping.date_formats("start_date") == ("%d.%m.%Y",)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t + "\n[extras]\nx = 1\n", "unknown key(s) extras in the top level"),
        (lambda t: t.replace('name = "tiny"', 'name = "tiny"\ncolour = "red"'), "unknown key(s) colour in [profile]"),
        (lambda t: t.replace('column = "id"', 'column = "id"\ntrim = true'),
         "unknown key(s) trim in [fields.employee_id]"),
        (lambda t: t.replace('column = "id"', 'column = "id"\ntransforms = ["shout"]'), "transforms ['shout']"),
        (lambda t: t + '\n[fields.salary]\ncolumn = "pay"\n', "[fields.salary] is not a canonical field"),
        (lambda t: t.replace('[fields.hr_status]\ncolumn = "state"', ""), "required fields not mapped: hr_status"),
        (lambda t: t.replace('column = "id"', 'column = ""'), "fields.employee_id.column must name"),
        (lambda t: t.replace('column = "id"', 'column = "id"\ndate_formats = ["%Y"]'), "only applies to"),
        (lambda t: t.replace('column = "start"', 'column = "start"\ndate_formats = []'), "non-empty list"),
        (lambda t: t + '\n[scim]\nfavourite = "x"\n', "unknown key(s) favourite in [scim]"),
        (lambda t: t + '\n[scim]\ncustom_extension = "dayone"\n', "is not a URN"),
        (lambda t: t + '\n[scim.core]\nemails = "given_name"\n', "scim.core.emails is not supported"),
        (lambda t: t + '\n[scim.enterprise]\nboss = "given_name"\n', "scim.enterprise.boss is not supported"),
        (lambda t: t + '\n[scim.custom]\n"bad-name" = "given_name"\n', "scim.custom.bad-name is not supported"),
        (lambda t: t + '\n[scim.custom]\nhireDate = "department"\n', "'department' is not a mapped field"),
        (lambda t: t.replace('name = "tiny"', 'unknown_columns = "maybe"'), "use \"reject\" or \"ignore\""),
        (lambda t: t + "\n[fields", "not valid UTF-8 TOML"),
    ],
)
def test_bad_mapping_files_fail_clearly(tmp_path: Path, change, message: str) -> None:
    path = write(tmp_path, change(MINIMAL))
    with pytest.raises(ConfigurationError) as info:
        load_mapping(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_missing_mapping_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot be read"):
        load_mapping(tmp_path / "absent.toml")


def test_parse_mapping_accepts_a_document() -> None:
    mapping = parse_mapping(tomllib.loads(MINIMAL), source="inline")
    assert mapping.name == "tiny" and mapping.required_columns == frozenset({"id", "first", "last", "start", "state"})
    assert mapping.allowed_columns == frozenset({"id", "first", "last", "start", "state"})
