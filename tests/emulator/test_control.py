"""Control API: faults, request recording, seeding; and state persistence across restarts."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from .conftest import Graph, app_token, bulk_body, http_session, scim_user


def test_fault_429_with_retry_after_once(graph):
    fault = {"method": "PATCH", "path": "/v1.0/users/*", "status": 429, "retry_after": 2, "times": 1}
    assert graph.control("POST", "/faults", json=fault).status_code == 201
    user = graph.user_by_employee_id("M1001")
    first = graph.request("PATCH", f"/v1.0/users/{user['id']}", json={"accountEnabled": True})
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "2"
    assert first.json()["error"]["code"] == "TooManyRequests"
    second = graph.request("PATCH", f"/v1.0/users/{user['id']}", json={"accountEnabled": True})
    assert second.status_code == 204


def test_fault_503_n_times_then_ok(graph):
    graph.control("POST", "/faults", json={"method": "GET", "path": "/v1.0/users", "status": 503, "times": 2})
    statuses = [graph.request("GET", "/v1.0/users").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


def test_fault_forever_until_cleared(graph):
    graph.control("POST", "/faults", json={"path": "/v1.0/users*", "status": 500, "times": None,
                                           "code": "generalException", "message": "boom"})
    for _ in range(3):
        response = graph.request("GET", "/v1.0/users")
        assert response.status_code == 500 and response.json()["error"]["message"] == "boom"
    assert graph.control("DELETE", "/faults").status_code == 200
    assert graph.request("GET", "/v1.0/users").status_code == 200


def test_fault_latency_only(graph):
    graph.control("POST", "/faults", json={"path": "/v1.0/users", "status": None, "delay": 0.3, "times": 1})
    started = time.monotonic()
    assert graph.request("GET", "/v1.0/users").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_fault_on_token_endpoint(graph, info, session):
    graph.control("POST", "/faults", json={"path": "/*/oauth2/v2.0/token", "status": 503, "times": 1})
    response = session.post(f"{info.base_url}/{info.tenant_id}/oauth2/v2.0/token",
                            data={"grant_type": "client_credentials", "client_id": info.client_id,
                                  "client_secret": info.client_secret, "scope": f"{info.base_url}/.default"})
    assert response.status_code == 503


def test_bad_fault_rejected(graph):
    assert graph.control("POST", "/faults", json={"path": "/x", "status": None}).status_code == 400
    assert graph.control("POST", "/faults", json={"path": "/x", "status": 429, "bogus": 1}).status_code == 400


def test_requests_are_recorded_without_secrets(graph, info):
    graph.control("DELETE", "/requests")
    graph.request("GET", "/v1.0/users?$filter=employeeId eq 'M1001'", headers={"client-request-id": "c-1"})
    graph.bulk_upload(bulk_body(scim_user("Q1", "q1@contoso.example")))
    recorded = graph.control("GET", "/requests").json()["value"]
    assert [r["path"] for r in recorded] == [
        "/v1.0/users",
        f"/v1.0/servicePrincipals/{info.provisioning_sp_id}/synchronization/jobs/{info.provisioning_job_id}/bulkUpload",
    ]
    first = recorded[0]
    assert first["method"] == "GET" and first["status"] == 200
    assert first["args"]["$filter"] == ["employeeId eq 'M1001'"]
    assert isinstance(first["timestamp"], float)
    assert first["headers"]["client-request-id"] == "c-1"
    assert not any(k.lower() == "authorization" for k in first["headers"])
    assert graph.token not in graph.control("GET", "/requests").text
    assert recorded[1]["body"]["Operations"][0]["data"]["externalId"] == "Q1"
    assert recorded[0]["timestamp"] <= recorded[1]["timestamp"]


def test_reset_keeps_seeded_staff_only(graph):
    graph.control("POST", "/users", json={"userPrincipalName": "tmp@contoso.example", "employeeId": "T1"})
    graph.control("POST", "/reset")
    users = graph.control("GET", "/users").json()["value"]
    assert {u["employeeId"] for u in users} >= {"M1001", "SD001"}
    assert "T1" not in {u["employeeId"] for u in users}
    dana = next(u for u in users if u["employeeId"] == "SD001")
    assert dana["roles"] == ["ServiceDesk"] and dana["displayName"] == "Dana Desk"
    morgan = next(u for u in users if u["employeeId"] == "M1001")
    assert morgan["roles"] == [] and morgan["userPrincipalName"] == "morgan.manager@contoso.example"


def test_seed_user_conflicts(graph):
    body = {"userPrincipalName": "dup@contoso.example", "employeeId": "D1"}
    assert graph.control("POST", "/users", json=body).status_code == 201
    assert graph.control("POST", "/users", json=body).status_code == 409
    assert graph.control("POST", "/users", json={"employeeId": "D2"}).status_code == 400


def test_state_survives_restart(start_server, tmp_path):
    state_dir = tmp_path / "persist"
    first = start_server(state_dir, processing_delay=3600)
    info1 = first.info
    session = http_session(info1)
    graph = Graph(info1, session, app_token(info1, session))
    graph.bulk_upload(bulk_body(scim_user("S1", "s1@contoso.example")))
    graph.control("POST", "/process")
    graph.bulk_upload(bulk_body(scim_user("S2", "s2@contoso.example")))  # staged, not processed yet
    user = graph.user_by_employee_id("S1")
    tap = graph.request("POST", f"/v1.0/users/{user['id']}/authentication/temporaryAccessPassMethods",
                        json={"lifetimeInMinutes": 60}).json()
    first.stop()
    assert tap["temporaryAccessPass"] not in (state_dir / "state.json").read_text()

    # same port: the issuer and audience include the base URL
    second = start_server(state_dir, port=urlsplit(info1.base_url).port, processing_delay=3600)
    info2 = second.info
    assert info2 == info1
    for field in ("tenant_id", "client_id", "client_secret", "ca_path", "client_certificate_thumbprint",
                  "provisioning_sp_id", "provisioning_job_id"):
        assert getattr(info2, field) == getattr(info1, field)
    session2 = http_session(info2)
    graph2 = Graph(info2, session2, app_token(info2, session2))
    assert graph2.user_by_employee_id("S1")["id"] == user["id"]
    methods = graph2.request("GET", f"/v1.0/users/{user['id']}/authentication/temporaryAccessPassMethods").json()
    assert [m["id"] for m in methods["value"]] == [tap["id"]]
    logs = graph2.request("GET", "/v1.0/auditLogs/provisioning?$filter=sourceIdentity/id eq 'S1'").json()["value"]
    assert len(logs) == 1
    assert graph2.control("POST", "/process").json()["uploads"] == 1
    assert graph2.user_by_employee_id("S2") is not None
    # a token signed before the restart is still valid: same signing key
    assert graph.session is not graph2.session
    graph2.token = graph.token
    assert graph2.request("GET", "/v1.0/users").status_code == 200


def test_info_serialisation(info):
    import json
    import tomllib

    data = json.loads(info.as_json())
    assert "\n" not in info.as_json()
    assert data["client_secret"] == info.client_secret
    settings = tomllib.loads(info.to_toml_settings())["microsoft"]
    assert settings == {
        "tenant_id": info.tenant_id, "client_id": info.client_id, "authority_host": info.base_url,
        "graph_url": info.base_url, "ca_bundle": info.ca_path, "provisioning_sp_id": info.provisioning_sp_id,
        "provisioning_job_id": info.provisioning_job_id,
    }
    assert info.client_secret not in info.to_toml_settings()
