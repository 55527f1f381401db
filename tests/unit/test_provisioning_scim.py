"""SCIM payloads compared with reviewed golden files (tests/unit/golden/*.json).

Regenerate after an intended change with UPDATE_GOLDEN=1, then review the diff against DESIGN section 5.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from activation.errors import ActivationError, ConfigurationError
from activation.provisioning.mapping import CSV2SCIM_MAPPING_PATH, load_mapping
from activation.provisioning.records import HrRecord
from activation.provisioning.scim import (
    BulkRequestError,
    ascii_fold,
    build_bulk_request,
    build_operation,
    payload_hash,
    user_name,
)

PINNED_HASH = "82ac529f0b48ecfc7f44cd1ed29c2cdf2ebb968c9de9f6a39968079092ff5d90"
GOLDEN = Path(__file__).parent / "golden"
MAPPING = load_mapping()
FULL = HrRecord(
    employee_id="E1001", given_name="José", family_name="García-Núñez", preferred_name="Pepe",
    display_name="Pepe García-Núñez", personal_email="Jose.Garcia@example.org", mobile="+34600000001",
    manager_employee_id="E0001", department="Sales, EMEA", job_title="Account Executive",
    company="Contoso Ltd", country="ES", usage_location="ES", preferred_language="es-ES",
    time_zone="Europe/Madrid", worker_type="Employee", start_date=date(2026, 3, 9), end_date=None,
    hr_status="active", source_ref="line 2",
)
LEAVER = HrRecord(
    employee_id="E1003", given_name="Mei", family_name="Chen", preferred_name="", display_name="Mei Chen",
    personal_email="mei.chen@example.net", mobile="", manager_employee_id="E1001", department="Engineering",
    job_title="Contractor", company="Contoso Ltd", country="DE", usage_location="DE",
    preferred_language="de-DE", time_zone="Europe/Berlin", worker_type="Contractor",
    start_date=date(2025, 9, 1), end_date=date(2026, 2, 27), hr_status="terminated",
)
MINIMAL = HrRecord(
    employee_id="E2000", given_name="Ada", family_name="Lovelace", preferred_name="", display_name="Ada Lovelace",
    personal_email="", mobile="", manager_employee_id="", department="", job_title="", company="", country="",
    usage_location="", preferred_language="", time_zone="", worker_type="", start_date=date(2026, 1, 5),
    end_date=None, hr_status="active",
)

# Everything Microsoft's CSV2SCIM layout carries (AttributeMapping.psd1).
CSV2SCIM_FULL = replace(
    FULL, display_name="José García-Núñez", cost_center="CC3035", division="Electronics",
    street_address="303 Mansion Ct", locality="Chicago", postal_code="85434", work_phone="2599151098",
)


def assert_golden(name: str, actual: dict[str, Any]) -> None:
    path = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert actual == json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("name", "record", "active", "mapping_path"),
    [
        ("joiner_inactive", FULL, False, None),
        ("activated_mover", FULL, True, None),
        ("leaver", LEAVER, False, None),
        ("minimal", MINIMAL, False, None),
        ("csv2scim_joiner", CSV2SCIM_FULL, False, CSV2SCIM_MAPPING_PATH),
        ("csv2scim_user_name", replace(CSV2SCIM_FULL, user_name="EMP1222"), False, CSV2SCIM_MAPPING_PATH),
    ],
)
def test_operation_matches_golden(name: str, record: HrRecord, active: bool, mapping_path: Path | None) -> None:
    mapping = load_mapping(mapping_path) if mapping_path else MAPPING
    operation = build_operation(record, active=active, bulk_id=record.employee_id, mapping=mapping,
                                upn_domain="contoso.example")
    assert_golden(name, operation)


def test_bulk_request_matches_golden() -> None:
    operations = [
        build_operation(r, active=False, bulk_id=r.employee_id, mapping=MAPPING, upn_domain="contoso.example")
        for r in (FULL, MINIMAL)
    ]
    assert_golden("bulk_request", build_bulk_request(operations))


@pytest.mark.parametrize("active", [True, False])
def test_active_is_always_explicit(active: bool) -> None:
    data = build_operation(MINIMAL, active=active, bulk_id="1", mapping=MAPPING, upn_domain="contoso.example")["data"]
    assert data["active"] is active


def test_personal_data_never_goes_to_core_emails_or_phones() -> None:
    data = build_operation(FULL, active=False, bulk_id="1", mapping=MAPPING, upn_domain="contoso.example")["data"]
    assert "emails" not in data and "phoneNumbers" not in data
    custom = data[MAPPING.custom_extension]
    assert custom["personalEmail"] == "Jose.Garcia@example.org" and custom["mobile"] == "+34600000001"


@pytest.mark.parametrize(
    ("given", "family", "employee_id", "expected"),
    [
        ("José", "García-Núñez", "E1", "jose.garcia-nunez@contoso.example"),
        ("Søren", "Ødegaard", "E1", "soren.odegaard@contoso.example"),
        ("Anne Marie", "O'Brien", "E1", "annemarie.obrien@contoso.example"),
        ("Ståle", "Straße", "E1", "stale.strasse@contoso.example"),
        ("李", "小龙", "E-77", "e-77@contoso.example"),
        ("..Ada..", "-Lovelace-", "E1", "ada.lovelace@contoso.example"),
    ],
)
def test_user_name_is_folded_to_a_safe_upn(given: str, family: str, employee_id: str, expected: str) -> None:
    record = replace(MINIMAL, given_name=given, family_name=family, employee_id=employee_id)
    assert user_name(record, "Contoso.Example") == expected


def test_ascii_fold_keeps_only_upn_characters() -> None:
    assert ascii_fold("Zoë-Æsa.  Smith!") == "zoe-aesa.smith"


def test_bad_upn_domain_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="UPN domain"):
        user_name(MINIMAL, "not a domain")


def test_bulk_request_limits() -> None:
    operation = build_operation(MINIMAL, active=False, bulk_id="1", mapping=MAPPING, upn_domain="contoso.example")
    with pytest.raises(BulkRequestError, match="at least one"):
        build_bulk_request([])
    with pytest.raises(BulkRequestError, match="at most 50"):
        build_bulk_request([{**operation, "bulkId": str(n)} for n in range(51)])
    with pytest.raises(BulkRequestError, match="unique"):
        build_bulk_request([operation, operation])
    assert len(build_bulk_request([{**operation, "bulkId": str(n)} for n in range(50)])["Operations"]) == 50
    assert issubclass(BulkRequestError, ActivationError)


def test_payload_hash_is_stable_and_sensitive() -> None:
    assert payload_hash(FULL, False) == payload_hash(FULL, False)
    # Pinned: changing the hash input re-uploads every person once; do it only on purpose.
    assert payload_hash(FULL, False) == PINNED_HASH
    changed = replace(FULL, department="Finance")
    assert payload_hash(changed, False) != payload_hash(FULL, False)
    assert payload_hash(FULL, True) != payload_hash(FULL, False)
    assert payload_hash(FULL, False, context="other mapping") != payload_hash(FULL, False)
    moved = replace(FULL, source_ref="line 99")
    assert payload_hash(moved, False) == payload_hash(FULL, False)
