"""CSV and JSON readers: encodings, delimiters, line endings, quoting, positions and file-level errors."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from activation.errors import ConfigurationError
from activation.provisioning.mapping import load_mapping
from activation.provisioning.readers import InputFileError, read_csv, read_json, read_rows, rows_from_objects
from activation.provisioning.validation import validate

MAPPING = load_mapping()
HEADER = ("employee_id,first_name,last_name,preferred_name,personal_email,mobile_phone,manager_id,start_date,"
          "end_date,department,job_title,company,country,usage_location,preferred_language,time_zone,"
          "worker_type,status")
ROW1 = ("E1,Ada,Lovelace,,ada@example.com,,,2026-02-02,,Engineering,Engineer,Contoso,GB,GB,en-GB,"
        "Europe/London,Employee,active")
ROW2 = ("E2,Alan,Turing,,alan@example.com,,E1,2026-02-03,,Research,Scientist,Contoso,GB,GB,en,"
        "Europe/London,Employee,active")


def write(tmp_path: Path, text: str, *, name: str = "hr.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def refs(path: Path) -> list[str]:
    return [row.source_ref for row in read_rows(path, MAPPING)]


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (f"{HEADER}\n{ROW1}\n{ROW2}\n", "utf-8"),
        (f"{HEADER}\r\n{ROW1}\r\n{ROW2}\r\n", "utf-8"),
        (f"\ufeff{HEADER}\r\n{ROW1}\r\n{ROW2}", "utf-8"),
        (f"{HEADER}\n{ROW1}\n{ROW2}\n".replace(",", ";"), "utf-8"),
        (f"\ufeff{HEADER}\r\n{ROW1}\r\n{ROW2}\r\n".replace(",", ";"), "utf-8"),
    ],
    ids=["lf", "crlf", "bom-crlf-no-final-newline", "semicolon", "bom-semicolon-crlf"],
)
def test_csv_variants_read_the_same(tmp_path: Path, text: str, encoding: str) -> None:
    rows = list(read_csv(write(tmp_path, text, encoding=encoding), MAPPING))
    assert [r.source_ref for r in rows] == ["line 2", "line 3"]
    assert rows[0].values["employee_id"] == "E1"  # no BOM glued to the first column name
    assert rows[1].values["manager_id"] == "E1" and rows[1].values["status"] == "active"
    assert all(r.defect is None for r in rows)


def test_quoted_commas_and_newlines_keep_physical_line_numbers(tmp_path: Path) -> None:
    quoted = ROW1.replace("Engineering", '"Sales, EMEA\nLondon"').replace("Engineer,", '"Engineer, ""Senior""",')
    path = write(tmp_path, f"{HEADER}\r\n{quoted}\r\n\r\n{ROW2}\r\n")
    rows = list(read_csv(path, MAPPING))
    assert [r.source_ref for r in rows] == ["line 2", "line 5"]
    assert rows[0].values["department"] == "Sales, EMEA\nLondon"
    assert rows[0].values["job_title"] == 'Engineer, "Senior"'


def test_a_newline_inside_quotes_is_then_rejected_by_validation(tmp_path: Path) -> None:
    quoted = ROW1.replace("Lovelace", '"Lovelace\nBcc: x@example.com"')
    result = validate(read_rows(write(tmp_path, f"{HEADER}\n{quoted}\n"), MAPPING), mapping=MAPPING,
                      today=date(2026, 1, 5))
    assert result.records == [] and result.rejections[0].field == "family_name"


def test_semicolon_file_with_commas_in_values(tmp_path: Path) -> None:
    row = ROW1.replace(",", ";").replace("Engineering", "Sales, EMEA")
    rows = list(read_csv(write(tmp_path, f"{HEADER.replace(',', ';')}\n{row}\n"), MAPPING))
    assert rows[0].values["department"] == "Sales, EMEA"


def test_short_or_long_rows_carry_a_defect(tmp_path: Path) -> None:
    rows = list(read_csv(write(tmp_path, f"{HEADER}\nE1,Ada\n{ROW2},extra\n"), MAPPING))
    assert [r.source_ref for r in rows] == ["line 2", "line 3"]
    assert "2 cells but the header has 18" in rows[0].defect
    assert "19 cells" in rows[1].defect


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "no header line"),
        (b"\n\n", "no header line"),
        (f"{HEADER}\nE1,Ad\xe9,x\n".encode("latin-1"), "not UTF-8"),
        (f"{HEADER}\n".encode("utf-16"), "UTF-16"),
        (HEADER.replace("first_name", "given").encode(), "required column(s) first_name missing"),
        (HEADER.replace("status", "status,salary").encode(), "unknown column(s) 'salary'"),
        (HEADER.replace("department", "company").encode(), "appears twice"),
        (f'{HEADER}\nE1,"Ada\n'.encode(), "malformed CSV"),
    ],
    ids=["empty", "blank", "latin-1", "utf-16", "missing", "unknown", "duplicate", "open-quote"],
)
def test_file_level_errors_name_file_and_fix(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(content)
    with pytest.raises(InputFileError) as info:
        list(read_csv(path, MAPPING))
    assert message in str(info.value)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ConfigurationError)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="cannot be opened"):
        read_csv(tmp_path / "nope.csv", MAPPING)


def test_unknown_columns_are_reported_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(InputFileError) as info:
        list(read_csv(write(tmp_path, HEADER + ",Salary\n"), MAPPING))
    assert "ignored_columns" in str(info.value) and "'Salary'" in str(info.value)


def obj(**overrides: object) -> dict[str, object]:
    keys = HEADER.split(",")
    base: dict[str, object] = dict(zip(keys, ROW1.split(","), strict=True))
    base.update(overrides)
    return base


def test_json_array_positions_are_indexes(tmp_path: Path) -> None:
    items = [obj(), obj(employee_id="E2", personal_email="b@example.com"), obj(employee_id=3, end_date=None)]
    path = write(tmp_path, json.dumps(items, indent=2), name="hr.json")
    rows = list(read_rows(path, MAPPING))
    assert [r.source_ref for r in rows] == ["index 0", "index 1", "index 2"]
    assert rows[2].values["employee_id"] == "3" and rows[2].values["end_date"] == ""


def test_json_items_that_are_not_objects_or_hold_nested_values_are_defects(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps([obj(), "E2", obj(department={"name": "x"})]), name="hr.json")
    rows = list(read_json(path, MAPPING))
    assert rows[0].defect is None
    assert "not an object" in rows[1].defect
    assert "'department' holds a JSON dict" in rows[2].defect


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"employee_id": "E1"}', "without a \"rows\" array"),
        ('{"rows": [{"employee_id": "E1"}', "invalid JSON"),
        ("", "not a JSON array"),
        ('[{"employee_id": "E1"', "index 0: invalid JSON"),
        ('[{"employee_id": "E1"} {"employee_id": "E2"}]', "expected , or ]"),
        ('[{"employee_id": "E1"}] x', "data after the closing ]"),
        ('[{"employee_id": "E1", "salary": 1}]', "unknown field(s) 'salary'"),
    ],
)
def test_json_file_errors(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text, name="hr.json")
    with pytest.raises(InputFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        list(read_json(path, MAPPING))


def test_empty_json_array_has_no_rows(tmp_path: Path) -> None:
    assert list(read_json(write(tmp_path, " [ ] ", name="hr.json"), MAPPING)) == []


def test_large_json_streams_across_chunk_boundaries(tmp_path: Path) -> None:
    items = [obj(employee_id=f"E{n}", personal_email=f"p{n}@example.com", mobile_phone=10**9 + n)
             for n in range(6000)]
    path = write(tmp_path, json.dumps(items), name="hr.json")
    assert path.stat().st_size > 2 * (1 << 20)
    rows = list(read_json(path, MAPPING))
    assert len(rows) == 6000
    assert rows[-1].source_ref == "index 5999" and rows[-1].values["mobile_phone"] == str(10**9 + 5999)
    assert all(r.values["employee_id"] == f"E{n}" for n, r in enumerate(rows))


def test_rows_from_objects_serves_an_api_body() -> None:
    rows = list(rows_from_objects([obj()], mapping=MAPPING))
    assert rows[0].source_ref == "index 0" and rows[0].values["first_name"] == "Ada"


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 64])
def test_tiny_chunks_decode_exactly_like_json_load(tmp_path: Path, chunk_size: int) -> None:
    items = [obj(employee_id=f"E{n}", mobile_phone=12345678 * (n + 1), end_date=None) for n in range(5)]
    text = " \n[ " + " ,\n ".join(json.dumps(item) for item in items) + " ]\n"
    rows = list(read_json(write(tmp_path, text, name="hr.json"), MAPPING, chunk_size=chunk_size))
    assert [r.values["mobile_phone"] for r in rows] == [str(12345678 * (n + 1)) for n in range(5)]
    assert [r.values["employee_id"] for r in rows] == [f"E{n}" for n in range(5)]
