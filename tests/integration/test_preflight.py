"""`activation check` against the emulator: green when wired right, specific when not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from graph_fixtures import Emulator, running_emulator

from activation.preflight import run_checks
from activation.runtime import Runtime


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    yield from running_emulator(tmp_path_factory.mktemp("preflight"))


def runtime_for(make_settings, emulator: Emulator, **microsoft) -> Runtime:  # type: ignore[no-untyped-def]
    info = emulator.info
    wiring = {"tenant_id": info.tenant_id, "client_id": info.client_id, "client_secret": info.client_secret,
              "authority_host": info.base_url, "graph_url": info.base_url, "ca_bundle": info.ca_path}
    wiring.update(microsoft)
    return Runtime.from_settings(make_settings(database={"url": "sqlite:///:memory:"}, microsoft=wiring))


def outcome(runtime: Runtime) -> dict[str, tuple[bool, str]]:
    return {result.name: (result.ok, result.detail) for result in run_checks(runtime)}


def test_green_against_the_emulator_with_secret_and_with_certificate(make_settings, emulator: Emulator) -> None:
    assert all(ok for ok, _ in outcome(runtime_for(make_settings, emulator)).values())
    certificate = runtime_for(make_settings, emulator, client_secret="",
                              certificate_path=emulator.info.client_certificate_path,
                              certificate_thumbprint=emulator.info.client_certificate_thumbprint)
    results = outcome(certificate)
    assert all(ok for ok, _ in results.values()), results
    assert "certificate" in results["configuration"][1]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"client_secret": "not-the-secret"}, ["AADSTS7000215", "ACTIVATION_CLIENT_SECRET"]),
        ({"tenant_id": "11111111-2222-3333-4444-555555555555"}, ["ACTIVATION_TENANT_ID"]),
        ({"ca_bundle": ""}, ["certificate not trusted", "ACTIVATION_CA_BUNDLE"]),
        ({"client_id": ""}, ["missing ACTIVATION_CLIENT_ID"]),
    ],
)
def test_specific_failures(make_settings, emulator: Emulator, change: dict, expected: list[str]) -> None:
    results = outcome(runtime_for(make_settings, emulator, **change))
    failed = [(name, detail) for name, (ok, detail) in results.items() if not ok]
    assert failed, results
    first_detail = failed[0][1]
    for fragment in expected:
        assert fragment in first_detail
    assert emulator.info.client_secret not in " ".join(detail for _, detail in results.values())


def test_missing_application_permission_is_named_with_its_purpose(make_settings, emulator: Emulator) -> None:
    granted = emulator.control.get(f"{emulator.base}/_emulator/permissions", timeout=10).json()["value"]
    reduced = [p for p in granted if p != "UserAuthenticationMethod.ReadWrite.All"]
    emulator.control.put(f"{emulator.base}/_emulator/permissions", json={"value": reduced},
                         timeout=10).raise_for_status()
    try:
        results = outcome(runtime_for(make_settings, emulator))
    finally:
        emulator.control.put(f"{emulator.base}/_emulator/permissions", json={"value": granted},
                             timeout=10).raise_for_status()
    ok, detail = results["permissions"]
    assert not ok
    assert "UserAuthMethod-TAP.ReadWrite.All (to issue and revoke Temporary Access Passes)" in detail
    assert "UserAuthenticationMethod.Read.All (to watch for the first passkey or Authenticator)" in detail
    assert results["token"][0] and results["graph"][0]


def test_a_tap_lifetime_outside_the_tenant_policy_is_named(make_settings, emulator: Emulator) -> None:
    policy = emulator.control.get(f"{emulator.base}/_emulator/policy", timeout=10).json()
    emulator.control.put(f"{emulator.base}/_emulator/policy", json={"maximumLifetimeInMinutes": 90},
                         timeout=10).raise_for_status()
    try:
        results = outcome(runtime_for(make_settings, emulator))
    finally:
        emulator.control.put(f"{emulator.base}/_emulator/policy", json=policy, timeout=10).raise_for_status()
    ok, detail = results["tap policy"]
    assert not ok and "policy.tap_lifetime_minutes 120 is outside the tenant's TAP range 60-90" in detail
    assert outcome(runtime_for(make_settings, emulator))["tap policy"] == (
        True, "TAP enabled for all users, lifetime 120 min within 60-480")


DAYONE = "urn:ietf:params:scim:schemas:extension:dayone:1.0:User"
DAYONE_MAPPINGS = [
    {"source": f"{DAYONE}:{name}", "target": target}
    for name, target in (("hireDate", "employeeHireDate"), ("leaveDate", "employeeLeaveDateTime"),
                         ("personalEmail", "extension_dayone_personalEmail"), ("mobile", "extension_dayone_mobile"),
                         ("timeZone", "extension_dayone_timeZone"), ("usageLocation", "usageLocation"),
                         ("workerType", "extension_dayone_workerType"))
] + [{"source": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
      "target": "extension_dayone_employeeNumber"}]


def _set_schema(emulator: Emulator, mappings: list[dict]) -> None:
    emulator.control.put(f"{emulator.base}/_emulator/provisioning-schema", json={"mappings": mappings},
                         timeout=10).raise_for_status()


def test_attributes_the_provisioning_app_does_not_map_are_named(make_settings, emulator: Emulator) -> None:
    info = emulator.info
    app = {"provisioning_sp_id": info.provisioning_sp_id, "provisioning_job_id": info.provisioning_job_id}
    _set_schema(emulator, [])
    try:
        ok, detail = outcome(runtime_for(make_settings, emulator, **app))["provisioning schema"]
        assert not ok
        for name in ("hireDate", "leaveDate", "personalEmail", "timeZone", "usageLocation"):
            assert f"{DAYONE}:{name}" in detail
        assert "enterprise:2.0:User:department" not in detail and "Edit API user attributes" in detail
        _set_schema(emulator, DAYONE_MAPPINGS)
        ok, detail = outcome(runtime_for(make_settings, emulator, **app))["provisioning schema"]
        assert ok, detail
        assert "are mapped by the app" in detail
    finally:
        _set_schema(emulator, [])


def test_without_permission_to_read_the_schema_the_check_says_which_to_grant(make_settings, emulator) -> None:  # type: ignore[no-untyped-def]
    info = emulator.info
    granted = emulator.control.get(f"{emulator.base}/_emulator/permissions", timeout=10).json()["value"]
    emulator.control.put(f"{emulator.base}/_emulator/permissions",
                         json={"value": [p for p in granted if p != "Synchronization.Read.All"]},
                         timeout=10).raise_for_status()
    try:
        results = outcome(runtime_for(make_settings, emulator, provisioning_sp_id=info.provisioning_sp_id,
                                      provisioning_job_id=info.provisioning_job_id))
    finally:
        emulator.control.put(f"{emulator.base}/_emulator/permissions", json={"value": granted},
                             timeout=10).raise_for_status()
    ok, detail = results["provisioning schema"]
    assert not ok and "Synchronization.Read.All" in detail
