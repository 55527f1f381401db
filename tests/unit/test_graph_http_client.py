"""HttpGraphClient against the HTTPS stub: request shape, typed results, error mapping, paging."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_graph_support import Canned, StubServer, envelope, make_client, stub_server

from activation.errors import ActivationError, ConfigurationError
from activation.graph.errors import (
    AmbiguousUser,
    BadRequest,
    Forbidden,
    GraphError,
    InvalidBulkRequest,
    NotFound,
    OnPremisesMastered,
    PasswordComplexity,
    ServiceUnavailable,
    TapPolicyViolation,
    Throttled,
    Unauthorized,
)
from activation.graph.http_client import HttpGraphClient
from activation.graph.models import MailMessage

USER = {
    "id": "11111111-2222-3333-4444-555555555555",
    "userPrincipalName": "ada@contoso.test",
    "displayName": "Ada Lovelace",
    "employeeId": "E1",
    "accountEnabled": False,
    "onPremisesSyncEnabled": None,
}


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[StubServer]:
    yield from stub_server(tmp_path)


@pytest.fixture
def client(stub: StubServer) -> HttpGraphClient:
    return make_client(stub)


def _json_body(stub: StubServer) -> Any:
    return json.loads(stub.graph_requests()[-1].body)


def test_every_call_has_bearer_token_fresh_client_request_id_and_json(
    stub: StubServer, client: HttpGraphClient
):
    stub.add("PATCH", "/v1.0/users/*", Canned(204), times=2)
    client.enable_user(USER["id"])
    client.disable_user(USER["id"])
    first, second = stub.graph_requests()
    for request in (first, second):
        assert request.headers["Authorization"] == "Bearer stub-access-token"
        assert request.headers["Content-Type"] == "application/json"
        uuid.UUID(request.headers["client-request-id"])
    assert first.headers["client-request-id"] != second.headers["client-request-id"]
    assert json.loads(first.body) == {"accountEnabled": True}
    assert json.loads(second.body) == {"accountEnabled": False}
    assert first.path == f"/v1.0/users/{USER['id']}"


def test_token_is_acquired_once_and_reused(stub: StubServer, client: HttpGraphClient) -> None:
    stub.add("GET", "/v1.0/users/*", Canned(200, USER), times=3)
    for _ in range(3):
        client.get_user(USER["id"])
    token_calls = [r for r in stub.requests if r.path.endswith("/oauth2/v2.0/token")]
    assert len(token_calls) == 1


def test_get_user_returns_typed_user(stub: StubServer, client: HttpGraphClient) -> None:
    stub.add("GET", "/v1.0/users/*", Canned(200, USER))
    user = client.get_user(USER["id"])
    assert (user.id, user.user_principal_name, user.employee_id, user.account_enabled) == (
        USER["id"],
        "ada@contoso.test",
        "E1",
        False,
    )
    assert "accountEnabled" in stub.graph_requests()[0].query["$select"][0]


def test_find_user_by_employee_id_escapes_quotes(stub: StubServer, client: HttpGraphClient) -> None:
    stub.add("GET", "/v1.0/users", Canned(200, {"value": [USER]}))
    stub.add("GET", "/v1.0/users", Canned(200, {"value": []}))
    stub.add("GET", "/v1.0/users", Canned(200, {"value": [USER, {**USER, "id": "other"}]}))
    assert client.find_user_by_employee_id("O'Brien-1") is not None
    assert stub.graph_requests()[0].query["$filter"] == ["employeeId eq 'O''Brien-1'"]
    assert client.find_user_by_employee_id("nobody") is None
    with pytest.raises(AmbiguousUser):
        client.find_user_by_employee_id("E1")


def test_bulk_upload_sends_scim_json_and_returns_location(stub: StubServer, client: HttpGraphClient) -> None:
    location = f"{stub.base_url}/v1.0/auditLogs/provisioning?$filter=jobid eq 'job-1'"
    stub.add(
        "POST",
        "/v1.0/servicePrincipals/sp-1/synchronization/jobs/job-1/bulkUpload",
        Canned(202, None, {"Location": location, "request-id": "rid-9"}),
    )
    payload = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [{"x": 1}]}
    result = client.bulk_upload(payload)
    assert (result.location, result.request_id) == (location, "rid-9")
    request = stub.graph_requests()[0]
    assert request.headers["Content-Type"] == "application/scim+json"
    assert json.loads(request.body) == payload


@pytest.mark.parametrize("count", [0, 51])
def test_bulk_upload_size_checked_before_sending(
    stub: StubServer, client: HttpGraphClient, count: int
) -> None:
    with pytest.raises(InvalidBulkRequest) as excinfo:
        client.bulk_upload({"Operations": [{}] * count})
    assert isinstance(excinfo.value, ValueError) and isinstance(excinfo.value, ActivationError)
    assert stub.requests == []


def test_bulk_upload_needs_provisioning_ids(stub: StubServer) -> None:
    client = make_client(stub)
    client._sp_id = None
    with pytest.raises(ConfigurationError, match="ACTIVATION_PROVISIONING_SP_ID"):
        client.bulk_upload({"Operations": [{}]})


def test_provisioning_logs_filter_and_paging(stub: StubServer, client: HttpGraphClient) -> None:
    entry = {
        "id": "log-1",
        "activityDateTime": "2026-01-05T09:00:00Z",
        "jobId": "job-1",
        "changeId": "c-1",
        "provisioningAction": "create",
        "provisioningStatusInfo": {
            "status": "failure",
            "errorInformation": {"errorCode": "E42", "reason": "no"},
        },
        "sourceIdentity": {"id": "E1", "displayName": "Ada"},
        "targetIdentity": {"id": "oid-1", "userPrincipalName": "ada@contoso.test"},
    }
    next_link = f"{stub.base_url}/v1.0/auditLogs/provisioning?$skiptoken=abc"
    stub.add(
        "GET", "/v1.0/auditLogs/provisioning", Canned(200, {"value": [entry], "@odata.nextLink": next_link})
    )
    stub.add("GET", "/v1.0/auditLogs/provisioning", Canned(200, {"value": [{**entry, "id": "log-2"}]}))
    entries = list(client.provisioning_logs(job_id="job-1", external_id="O'Neil", status="failure", top=5))
    assert [e.id for e in entries] == ["log-1", "log-2"]
    first = entries[0]
    assert (first.action, first.status, first.source_id, first.target_id, first.target_upn) == (
        "create",
        "failure",
        "E1",
        "oid-1",
        "ada@contoso.test",
    )
    assert (first.error_code, first.error_reason, first.activity_at.year) == ("E42", "no", 2026)
    page_one, page_two = stub.graph_requests()
    assert page_one.query["$filter"] == [
        "jobid eq 'job-1' and sourceIdentity/id eq 'O''Neil' and provisioningStatusInfo/status eq 'failure'"
    ]
    assert page_one.query["$top"] == ["5"]
    assert page_two.query == {"$skiptoken": ["abc"]}


def test_paging_never_follows_a_foreign_host(stub: StubServer, client: HttpGraphClient) -> None:
    foreign = {"value": [], "@odata.nextLink": "https://evil.example/v1.0/auditLogs/provisioning"}
    stub.add("GET", "/v1.0/auditLogs/provisioning", Canned(200, foreign))
    with pytest.raises(GraphError, match="outside"):
        list(client.provisioning_logs())


def test_tap_create_list_delete(stub: StubServer, client: HttpGraphClient) -> None:
    created = {
        "id": "tap-1",
        "temporaryAccessPass": "Xy7#kP2q",
        "createdDateTime": "2026-01-05T09:00:00Z",
        "startDateTime": "2026-01-05T09:00:00Z",
        "lifetimeInMinutes": 60,
        "isUsableOnce": True,
        "isUsable": True,
    }
    path = f"/v1.0/users/{USER['id']}/authentication/temporaryAccessPassMethods"
    stub.add("POST", path, Canned(201, created))
    stub.add("GET", path, Canned(200, {"value": [{**created, "temporaryAccessPass": None}]}))
    stub.add("DELETE", path + "/tap-1", Canned(204))
    tap = client.create_tap(USER["id"], 60, True)
    assert (tap.id, tap.value, tap.lifetime_minutes, tap.is_usable_once) == ("tap-1", "Xy7#kP2q", 60, True)
    assert "Xy7#kP2q" not in repr(tap)
    assert _json_body(stub) == {"lifetimeInMinutes": 60, "isUsableOnce": True}
    (listed,) = client.list_taps(USER["id"])
    assert listed.value is None and listed.id == "tap-1"
    client.delete_tap(USER["id"], "tap-1")
    assert stub.graph_requests()[-1].method == "DELETE"


def test_set_password_and_revoke_sessions_shapes(stub: StubServer, client: HttpGraphClient) -> None:
    stub.add("PATCH", "/v1.0/users/*", Canned(204))
    stub.add("POST", "/v1.0/users/*/revokeSignInSessions", Canned(200, {"value": True}))
    client.set_password(USER["id"], "Correct-Horse-9")
    assert _json_body(stub) == {
        "passwordProfile": {"password": "Correct-Horse-9", "forceChangePasswordNextSignIn": False}
    }
    client.revoke_sessions(USER["id"])
    assert stub.graph_requests()[-1].path.endswith("/revokeSignInSessions")


@pytest.mark.parametrize(
    ("html", "content_type", "content"), [("<p>Hi</p>", "HTML", "<p>Hi</p>"), (None, "Text", "Hi")]
)
def test_send_mail_prefers_html(
    stub: StubServer, client: HttpGraphClient, html, content_type, content
) -> None:
    stub.add("POST", "/v1.0/users/noreply@contoso.test/sendMail", Canned(202))
    client.send_mail(
        "noreply@contoso.test", MailMessage(to=["a@x.org", "b@x.org"], subject="S", html=html, text="Hi")
    )
    message = _json_body(stub)["message"]
    assert message["body"] == {"contentType": content_type, "content": content}
    assert [r["emailAddress"]["address"] for r in message["toRecipients"]] == ["a@x.org", "b@x.org"]
    assert message["subject"] == "S"


ON_PREM = (
    "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects "
    "currently undergoing migration."
)
COMPLEXITY = "The specified password does not comply with password complexity requirements."


@pytest.mark.parametrize(
    ("method", "call", "status", "message", "expected"),
    [
        ("PATCH", "enable", 400, ON_PREM, OnPremisesMastered),
        ("PATCH", "password", 400, COMPLEXITY, PasswordComplexity),
        ("PATCH", "enable", 400, "Invalid value specified for property", BadRequest),
        ("POST", "tap", 400, "lifetimeInMinutes is outside the policy", TapPolicyViolation),
        ("PATCH", "enable", 401, "Access token has expired", Unauthorized),
        ("PATCH", "enable", 403, "Insufficient privileges", Forbidden),
        ("PATCH", "enable", 404, "Resource 'x' does not exist", NotFound),
        ("PATCH", "enable", 500, "boom", GraphError),
    ],
)
def test_error_envelopes_map_to_typed_errors(stub, client, method, call, status, message, expected) -> None:
    stub.add(method, "/v1.0/users/*", Canned(status, envelope("SomeCode", message, "rid-7")))
    run = {
        "enable": lambda: client.enable_user("u1"),
        "password": lambda: client.set_password("u1", "short-pw"),
        "tap": lambda: client.create_tap("u1", 9999, True),
    }[call]
    with pytest.raises(expected) as excinfo:
        run()
    error = excinfo.value
    assert type(error) is expected
    assert (error.status, error.code, error.request_id) == (status, "SomeCode", "rid-7")
    assert error.client_request_id == stub.graph_requests()[-1].headers["client-request-id"]
    assert "rid-7" in str(error) and message[:20] in str(error)


def test_not_found_is_also_the_domain_not_found() -> None:
    from activation.errors import NotFoundError

    assert issubclass(NotFound, NotFoundError)


def test_non_json_error_body(stub: StubServer, client: HttpGraphClient) -> None:
    stub.add("PATCH", "/v1.0/users/*", Canned(403, b"<html>proxy says no</html>"))
    with pytest.raises(Forbidden) as excinfo:
        client.enable_user("u1")
    assert "proxy" not in str(excinfo.value)


def test_throttled_keeps_retry_after(stub: StubServer) -> None:
    from activation.graph.retry import RetryPolicy

    stub.add("PATCH", "/v1.0/users/*", Canned(429, envelope("TooManyRequests", "x"), {"Retry-After": "7"}))
    with pytest.raises(Throttled) as excinfo:
        make_client(stub, retry=RetryPolicy(max_attempts=1)).enable_user("u1")
    assert excinfo.value.retry_after == 7.0


def test_service_unavailable_after_budget(stub: StubServer) -> None:
    from activation.graph.retry import RetryPolicy

    stub.add("PATCH", "/v1.0/users/*", Canned(503, envelope("serviceNotAvailable", "x")))
    with pytest.raises(ServiceUnavailable):
        make_client(stub, retry=RetryPolicy(max_attempts=1)).enable_user("u1")


def test_one_log_line_per_attempt_without_query_values(stub: StubServer, caplog) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="activation.graph")
    stub.add("GET", "/v1.0/users", Canned(429, envelope("TooManyRequests", "x"), {"Retry-After": "1"}))
    stub.add("GET", "/v1.0/users", Canned(200, {"value": []}, {"request-id": "rid-ok"}))
    make_client(stub).find_user_by_employee_id("EMP-SECRETIVE-42")
    lines = [r.getMessage() for r in caplog.records if r.name == "activation.graph.http_client"]
    assert len(lines) == 2
    assert "GET /v1.0/users -> 429" in lines[0] and "attempt=1" in lines[0]
    assert "-> 200" in lines[1] and "attempt=2" in lines[1] and "request-id=rid-ok" in lines[1]
    assert " ms " in lines[1] and "client-request-id=" in lines[1]
    assert not any("EMP-SECRETIVE-42" in line for line in lines)


def test_graph_trusts_exactly_the_configured_ca(stub: StubServer) -> None:
    """The stub's CA signed its certificate: a pool that trusts only the default store refuses it, with the fix."""
    from activation.graph.errors import GraphUnavailable

    stub.add("GET", "/v1.0/users/*", Canned(200, USER), times=2)
    trusting = make_client(stub)
    assert trusting.get_user(USER["id"]).user_principal_name == "ada@contoso.test"
    untrusting = make_client(stub, trust=None)  # the default store: certifi's, which never signed the stub
    with pytest.raises(GraphUnavailable, match="ACTIVATION_CA_BUNDLE"):
        untrusting.get_user(USER["id"])


def test_each_call_says_who_is_calling_and_sends_the_query_encoded(stub: StubServer, client: HttpGraphClient) -> None:
    stub.add("GET", "/v1.0/users", Canned(200, {"value": [USER]}))
    client.find_user_by_employee_id("O'Neil & Co")
    [request] = stub.graph_requests()
    assert request.headers["User-Agent"].startswith("day-one-activation/")
    assert request.query["$filter"] == ["employeeId eq 'O''Neil & Co'"]  # the & stayed inside the value
