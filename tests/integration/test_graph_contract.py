"""One contract, two implementations: FakeGraph and HttpGraphClient over HTTPS + MSAL to the emulator.

If the fake and the real adapter disagree on any of these, the fake is lying to the unit tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from graph_fixtures import (
    Emulator,
    EmulatorHarness,
    FakeHarness,
    Harness,
    bulk_request,
    running_emulator,
    scim_operation,
)

from activation.graph.errors import (
    InvalidBulkRequest,
    NotFound,
    OnPremisesMastered,
    PasswordComplexity,
    TapPolicyViolation,
    TokenError,
)
from activation.graph.models import MailMessage

DOMAIN = "contoso.example"
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    yield from running_emulator(tmp_path)


@pytest.fixture(params=["fake", "emulator"])
def harness(request: pytest.FixtureRequest) -> Harness:
    if request.param == "fake":
        return FakeHarness()
    return EmulatorHarness(request.getfixturevalue("emulator"))


def _new_person(
    harness: Harness, *, enabled: bool = False, on_prem: bool = False, employee_id: str | None = None
):
    employee_id = employee_id or f"T{uuid.uuid4().hex[:8]}"
    upn = f"{employee_id.replace(chr(39), '')}@{DOMAIN}".lower()
    return harness.add_user(employee_id, upn, f"Test {employee_id}", enabled=enabled, on_prem=on_prem)


# -- users --------------------------------------------------------------------------------------------


def test_get_user_by_id(harness: Harness) -> None:
    user = _new_person(harness)
    fetched = harness.client.get_user(user.id)
    assert fetched == user
    assert fetched.account_enabled is False
    assert not fetched.on_premises_sync_enabled


def test_get_missing_user_raises_not_found(harness: Harness) -> None:
    with pytest.raises(NotFound) as excinfo:
        harness.client.get_user(str(uuid.uuid4()))
    assert excinfo.value.status == 404


def test_employee_id_of_a_user_from_the_directory(harness: Harness) -> None:
    user = _new_person(harness)
    assert harness.client.get_employee_id(user.id) == user.employee_id
    with pytest.raises(NotFound):
        harness.client.get_employee_id(str(uuid.uuid4()))


def test_find_user_by_employee_id_including_a_quote(harness: Harness) -> None:
    plain = _new_person(harness)
    quoted = _new_person(harness, employee_id=f"O'B{uuid.uuid4().hex[:6]}")
    assert harness.client.find_user_by_employee_id(plain.employee_id or "") == plain
    assert harness.client.find_user_by_employee_id(quoted.employee_id or "") == quoted
    assert harness.client.find_user_by_employee_id("does-not-exist-9") is None


def test_enable_and_disable_user(harness: Harness) -> None:
    user = _new_person(harness)
    harness.client.enable_user(user.id)
    assert harness.client.get_user(user.id).account_enabled is True
    harness.client.disable_user(user.id)
    assert harness.client.get_user(user.id).account_enabled is False


def test_enable_missing_user_is_not_found(harness: Harness) -> None:
    with pytest.raises(NotFound):
        harness.client.enable_user(str(uuid.uuid4()))


def test_on_premises_mastered_user_cannot_be_enabled(harness: Harness) -> None:
    user = _new_person(harness, on_prem=True)
    assert user.on_premises_sync_enabled is True
    with pytest.raises(OnPremisesMastered) as excinfo:
        harness.client.enable_user(user.id)
    assert excinfo.value.status == 400
    assert harness.client.get_user(user.id).account_enabled is False


def test_revoke_sessions(harness: Harness) -> None:
    user = _new_person(harness, enabled=True)
    harness.client.revoke_sessions(user.id)
    with pytest.raises(NotFound):
        harness.client.revoke_sessions(str(uuid.uuid4()))


# -- Temporary Access Pass ------------------------------------------------------------------------------


def test_tap_create_replace_list_delete(harness: Harness) -> None:
    user = _new_person(harness)
    first = harness.client.create_tap(user.id, 60, True)
    assert first.value and first.lifetime_minutes == 60 and first.is_usable_once is True
    assert first.value not in repr(first)
    second = harness.client.create_tap(user.id, 120, True)
    assert second.value and second.value != first.value
    listed = harness.client.list_taps(user.id)
    assert [tap.id for tap in listed] == [second.id]  # one TAP per user: the new one replaced the old
    assert listed[0].value is None  # later reads never return the pass
    assert listed[0].lifetime_minutes == 120
    harness.client.delete_tap(user.id, second.id)
    assert harness.client.list_taps(user.id) == []


@pytest.mark.parametrize("minutes", [59, 481])
def test_tap_outside_policy_is_refused(harness: Harness, minutes: int) -> None:
    user = _new_person(harness)
    with pytest.raises(TapPolicyViolation) as excinfo:
        harness.client.create_tap(user.id, minutes, True)
    assert excinfo.value.status == 400
    assert harness.client.list_taps(user.id) == []


# -- password -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["short1A", "alllowercase", "ALLUPPER123"])
def test_password_complexity_is_enforced(harness: Harness, password: str) -> None:
    user = _new_person(harness)
    with pytest.raises(PasswordComplexity) as excinfo:
        harness.client.set_password(user.id, password)
    assert password not in str(excinfo.value)


def test_good_password_is_accepted(harness: Harness) -> None:
    user = _new_person(harness)
    harness.client.set_password(user.id, "Correct-Horse-Battery-9")


def test_password_of_on_prem_user_is_refused(harness: Harness) -> None:
    user = _new_person(harness, on_prem=True)
    with pytest.raises(OnPremisesMastered):
        harness.client.set_password(user.id, "Correct-Horse-Battery-9")


# -- inbound provisioning -------------------------------------------------------------------------------


def test_bulk_upload_of_51_operations_is_refused_before_sending(harness: Harness) -> None:
    ops = [scim_operation(f"X{i}", f"x{i}@{DOMAIN}", f"X {i}", False) for i in range(51)]
    with pytest.raises(InvalidBulkRequest):
        harness.client.bulk_upload(bulk_request(*ops))


def test_bulk_upload_creates_disabled_users_and_logs(harness: Harness) -> None:
    suffix = uuid.uuid4().hex[:6]
    inactive, missing = f"J{suffix}A", f"J{suffix}B"
    payload = bulk_request(
        scim_operation(inactive, f"{inactive.lower()}@{DOMAIN}", "Joan Inactive", False),
        scim_operation(missing, f"{missing.lower()}@{DOMAIN}", "Jim Missing", None),
    )
    result = harness.client.bulk_upload(payload)
    assert result.location
    harness.process_uploads()

    by_job = [
        e
        for e in harness.client.provisioning_logs(job_id=harness.job_id)
        if e.source_id in (inactive, missing)
    ]
    assert {e.source_id for e in by_job} == {inactive, missing}
    for external_id in (inactive, missing):
        entries = list(harness.client.provisioning_logs(external_id=external_id))
        assert entries and all(e.source_id == external_id for e in entries)
        created = next(e for e in entries if e.action and e.action.lower() == "create")
        assert created.status == "success"
        assert created.job_id == harness.job_id
        user = harness.client.find_user_by_employee_id(external_id)
        assert user is not None
        assert created.target_id == user.id
        assert created.target_upn == user.user_principal_name
        assert user.account_enabled is False  # joiners are created disabled, with or without `active`
        assert user.user_principal_name == f"{external_id.lower()}@{DOMAIN}"


# -- mail -----------------------------------------------------------------------------------------------


def test_send_mail(harness: Harness) -> None:
    sender = _new_person(harness, enabled=True)
    message = MailMessage(
        to=["new.starter@example.org"], subject="Welcome", html="<p>Hello</p>", text="Hello"
    )
    harness.client.send_mail(sender.user_principal_name or "", message)
    assert harness.mail_count(sender.user_principal_name or "") == 1


# -- real adapter only: credentials and trust --------------------------------------------------------------


def test_certificate_credential_end_to_end(emulator: Emulator) -> None:
    client = emulator.client(certificate=True)
    assert client.find_user_by_employee_id("nobody-here") is None
    harness = EmulatorHarness(emulator)
    user = _new_person(harness)
    assert client.get_user(user.id) == user


def test_environment_ca_bundle_does_not_override_our_trust(emulator: Emulator, monkeypatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", SYSTEM_BUNDLE)
    monkeypatch.setenv("CURL_CA_BUNDLE", SYSTEM_BUNDLE)
    assert emulator.client().find_user_by_employee_id("nobody-here") is None
    # Control: a session that trusts the environment cannot reach the emulator, so this test can fail.
    naive = requests.Session()
    naive.verify = emulator.info.ca_path
    with pytest.raises(requests.exceptions.SSLError):
        naive.get(
            f"{emulator.base}/{emulator.info.tenant_id}/v2.0/.well-known/openid-configuration", timeout=10
        )


def test_wrong_secret_names_aadsts7000215_and_the_fix(emulator: Emulator) -> None:
    client = emulator.client(client_secret="definitely-not-the-secret")
    with pytest.raises(TokenError) as excinfo:
        client.get_user(str(uuid.uuid4()))
    message = str(excinfo.value)
    assert "AADSTS7000215" in message
    assert "ACTIVATION_CLIENT_SECRET" in message
    assert "definitely-not-the-secret" not in message
    assert 7000215 in excinfo.value.error_codes


def test_untrusted_emulator_ca_is_explained(emulator: Emulator) -> None:
    from activation.graph.factory import build_graph_client

    client = build_graph_client(
        graph_url=emulator.info.base_url,
        authority_host=emulator.info.base_url,
        tenant_id=emulator.info.tenant_id,
        client_id=emulator.info.client_id,
        client_secret=emulator.info.client_secret,
        ca_bundle=None,
    )
    with pytest.raises(TokenError, match="ACTIVATION_CA_BUNDLE"):
        client.get_user("x")
