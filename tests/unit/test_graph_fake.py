"""FakeGraph behaves like Graph: the rules the services rely on, without a network."""

from __future__ import annotations

from typing import Any

import pytest

from activation.clock import FakeClock
from activation.graph.errors import (
    BadRequest,
    InvalidBulkRequest,
    NotFound,
    OnPremisesMastered,
    PasswordComplexity,
    ServiceUnavailable,
    TapPolicyViolation,
)
from activation.graph.fake import FakeGraph
from activation.graph.models import MailMessage

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def operation(external_id: str, upn: str, active: bool | None, bulk_id: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schemas": [CORE, ENTERPRISE],
        "externalId": external_id,
        "userName": upn,
        "displayName": f"Person {external_id}",
        ENTERPRISE: {"employeeNumber": external_id},
    }
    if active is not None:
        data["active"] = active
    return {"method": "POST", "bulkId": bulk_id or f"b-{external_id}", "path": "/Users", "data": data}


def bulk(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [BULK], "Operations": list(operations), "failOnErrors": None}


@pytest.fixture
def fake() -> FakeGraph:
    return FakeGraph(clock=FakeClock(), job_id="job-1")


def test_lookup_by_id_upn_and_employee_id(fake: FakeGraph) -> None:
    user = fake.add_user("E1", "ada@contoso.test", "Ada")
    assert fake.get_user(user.id) == user
    assert fake.get_user("ADA@contoso.test") == user
    assert fake.find_user_by_employee_id("E1") == user
    assert fake.find_user_by_employee_id("E2") is None
    with pytest.raises(NotFound) as excinfo:
        fake.get_user("missing")
    assert excinfo.value.status == 404


def test_enable_and_disable(fake: FakeGraph) -> None:
    user = fake.add_user("E1", "ada@contoso.test")
    assert user.account_enabled is False
    fake.enable_user(user.id)
    assert fake.get_user(user.id).account_enabled is True
    fake.disable_user(user.id)
    assert fake.get_user(user.id).account_enabled is False


def test_on_premises_mastered_user_cannot_be_enabled_or_get_password(fake: FakeGraph) -> None:
    user = fake.add_user("E1", "ada@contoso.test", on_premises_sync_enabled=True)
    with pytest.raises(OnPremisesMastered):
        fake.enable_user(user.id)
    with pytest.raises(OnPremisesMastered):
        fake.set_password(user.id, "Correct-Horse-9")
    assert fake.get_user(user.id).account_enabled is False


def test_tap_value_only_on_create_and_replaced_by_next(fake: FakeGraph) -> None:
    user = fake.add_user("E1", "ada@contoso.test")
    first = fake.create_tap(user.id, 60, True)
    second = fake.create_tap(user.id, 120, False)
    assert first.value and second.value and first.value != second.value
    assert first.value not in repr(first)
    listed = fake.list_taps(user.id)
    assert [t.id for t in listed] == [second.id]
    assert listed[0].value is None
    assert (listed[0].lifetime_minutes, listed[0].is_usable_once) == (120, False)
    fake.delete_tap(user.id, second.id)
    assert fake.list_taps(user.id) == []
    with pytest.raises(NotFound):
        fake.delete_tap(user.id, second.id)


@pytest.mark.parametrize(("minutes", "ok"), [(59, False), (60, True), (480, True), (481, False), (0, False)])
def test_tap_lifetime_policy(fake: FakeGraph, minutes: int, ok: bool) -> None:
    user = fake.add_user("E1", "ada@contoso.test")
    if ok:
        assert fake.create_tap(user.id, minutes, True).lifetime_minutes == minutes
    else:
        with pytest.raises(TapPolicyViolation):
            fake.create_tap(user.id, minutes, True)
        assert fake.list_taps(user.id) == []


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("Abcdef1!", True),  # 8 chars, 4 classes
        ("abcdefg1!", True),  # lower, digit, symbol
        ("ABCDEFG1a", True),  # upper, digit, lower
        ("Abc1!", False),  # too short
        ("abcdefgh1", False),  # only 2 classes
        ("ABCDEFGH!", False),  # only 2 classes
        ("Aa1!" * 64, True),  # 256 chars
        ("Aa1!" * 64 + "x", False),  # 257 chars
    ],
)
def test_password_complexity(fake: FakeGraph, password: str, ok: bool) -> None:
    user = fake.add_user("E1", "ada@contoso.test")
    if ok:
        fake.set_password(user.id, password)
        assert fake.password_was_set(user.id)
    else:
        with pytest.raises(PasswordComplexity):
            fake.set_password(user.id, password)
        assert not fake.password_was_set(user.id)


def test_calls_are_recorded_without_secrets(fake: FakeGraph) -> None:
    user = fake.add_user("E1", "ada@contoso.test")
    tap = fake.create_tap(user.id, 60, True)
    fake.set_password(user.id, "Sup3r-Secret-Pw")
    fake.revoke_sessions(user.id)
    assert [name for name, _ in fake.calls] == ["create_tap", "set_password", "revoke_sessions"]
    assert "Sup3r-Secret-Pw" not in repr(fake.calls)
    assert tap.value not in repr(fake.calls) and tap.value not in repr(fake)
    assert fake.sessions_revoked(user.id) == 1


def test_fail_next_scripts_errors_then_recovers(fake: FakeGraph) -> None:
    user = fake.add_user("E1", "ada@contoso.test")
    fake.fail_next("create_tap", ServiceUnavailable("down", status=503), times=2)
    for _ in range(2):
        with pytest.raises(ServiceUnavailable):
            fake.create_tap(user.id, 60, True)
    assert fake.create_tap(user.id, 60, True).value


def test_send_mail_is_recorded(fake: FakeGraph) -> None:
    message = MailMessage(to=["new.starter@example.org"], subject="Welcome", html="<p>Hi</p>", text="Hi")
    fake.send_mail("noreply@contoso.test", message)
    assert fake.sent_mail == [("noreply@contoso.test", message)]
    with pytest.raises(BadRequest):
        fake.send_mail("noreply@contoso.test", MailMessage(to=[], subject="x", html=None, text="x"))


def test_bulk_upload_creates_disabled_users_on_processing(fake: FakeGraph) -> None:
    result = fake.bulk_upload(
        bulk(operation("E1", "e1@contoso.test", False), operation("E2", "e2@contoso.test", None))
    )
    assert "jobid" in result.location and result.request_id
    assert fake.find_user_by_employee_id("E1") is None  # asynchronous, like Graph
    fake.process_uploads()
    for employee_id in ("E1", "E2"):
        user = fake.find_user_by_employee_id(employee_id)
        assert user is not None and user.account_enabled is False
        (entry,) = fake.provisioning_logs(job_id="job-1", external_id=employee_id)
        assert (entry.action, entry.status, entry.target_id) == ("create", "success", user.id)
        assert entry.target_upn == user.user_principal_name


def test_bulk_upload_update_and_disable(fake: FakeGraph) -> None:
    user = fake.add_user("E1", "e1@contoso.test", account_enabled=True)
    fake.auto_process = True
    fake.bulk_upload(bulk(operation("E1", "e1@contoso.test", True)))
    assert fake.get_user(user.id).account_enabled is True
    fake.bulk_upload(bulk(operation("E1", "e1@contoso.test", None)))  # missing active disables
    assert fake.get_user(user.id).account_enabled is False
    actions = [e.action for e in fake.provisioning_logs(external_id="E1")]
    assert actions == ["disable", "update"]  # newest first
    assert list(fake.provisioning_logs(job_id="other-job")) == []
    assert [e.status for e in fake.provisioning_logs(status="success")] == ["success", "success"]


def test_bulk_upload_size_limits(fake: FakeGraph) -> None:
    ops = [operation(f"E{i}", f"e{i}@contoso.test", False) for i in range(51)]
    with pytest.raises(InvalidBulkRequest):
        fake.bulk_upload(bulk(*ops))
    with pytest.raises(InvalidBulkRequest):
        fake.bulk_upload(bulk())
    fake.bulk_upload(bulk(*ops[:50]))
    assert len(fake.process_uploads()) == 50


def _without(d: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != key}


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"Operations": [operation("E1", "e1@x.test", False)]}, id="no-schemas"),
        pytest.param(
            bulk(operation("E1", "e1@x.test", False, "b"), operation("E2", "e2@x.test", False, "b")),
            id="duplicate-bulkId",
        ),
        pytest.param(bulk({**operation("E1", "e1@x.test", False), "method": "PATCH"}), id="wrong-method"),
        pytest.param(bulk(_without(operation("E1", "e1@x.test", False), "bulkId")), id="no-bulkId"),
        pytest.param(
            bulk(
                {
                    **operation("E1", "e1@x.test", False),
                    "data": _without(operation("E1", "e1@x.test", False)["data"], "externalId"),
                }
            ),
            id="no-externalId",
        ),
        pytest.param(
            bulk(
                {
                    **operation("E1", "e1@x.test", False),
                    "data": {**operation("E1", "e1@x.test", False)["data"], "schemas": [CORE]},
                }
            ),
            id="extension-not-listed",
        ),
    ],
)
def test_bulk_upload_schema_rules(fake: FakeGraph, payload: dict[str, Any]) -> None:
    with pytest.raises(BadRequest) as excinfo:
        fake.bulk_upload(payload)
    assert excinfo.value.status == 400
    assert fake.process_uploads() == []
