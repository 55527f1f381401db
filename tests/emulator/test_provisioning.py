"""bulkUpload validation, asynchronous processing and provisioning logs."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from .conftest import BULK, CORE, CUSTOM, ENTERPRISE, Graph, app_token, bulk_body, http_session, scim_user, wait_for


def _error(response):
    body = response.json()["error"]
    assert set(body["innerError"]) >= {"request-id", "date"}
    return body


def test_bulk_upload_accepted_with_location(graph, info):
    response = graph.bulk_upload(bulk_body(scim_user("E100", "e100@contoso.example")))
    assert response.status_code == 202
    assert response.content == b""
    location = response.headers["Location"]
    assert location.startswith(f"{info.base_url}/v1.0/auditLogs/provisioning/?$filter=")
    assert unquote(location.split("$filter=")[1]) == f"jobid eq '{info.provisioning_job_id}'"
    assert response.headers["request-id"]


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_content_type_must_be_scim_json(graph, content_type):
    response = graph.bulk_upload(bulk_body(scim_user("E1", "e1@contoso.example")), content_type=content_type)
    assert response.status_code == 400
    assert _error(response)["code"] == "BadRequest"
    assert "application/scim+json" in _error(response)["message"]


def test_content_type_with_charset_is_fine(graph):
    response = graph.bulk_upload(bulk_body(scim_user("E1", "e1@contoso.example")),
                                 content_type="application/scim+json; charset=utf-8")
    assert response.status_code == 202


def test_fifty_operations_ok_fifty_one_rejected(graph):
    ops = [scim_user(f"E{i}", f"e{i}@contoso.example") for i in range(51)]
    assert graph.bulk_upload(bulk_body(*ops[:50])).status_code == 202
    response = graph.bulk_upload(bulk_body(*ops))
    assert response.status_code == 400
    assert "50" in _error(response)["message"]


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda b: b["Operations"].append(dict(b["Operations"][0])), "not unique"),
        (lambda b: b["Operations"][0]["data"].pop("externalId"), "externalId"),
        (lambda b: b["Operations"][0]["data"].update(schemas=[ENTERPRISE]), CORE),
        (lambda b: b["Operations"][0]["data"].update(schemas=[CORE]), ENTERPRISE),
        (lambda b: b["Operations"][0]["data"].update({CUSTOM: {"hireDate": "2030-01-01"}}), CUSTOM),
        (lambda b: b.update(schemas=["urn:wrong"]), BULK),
        (lambda b: b["Operations"][0].update(method="PATCH"), "POST"),
        (lambda b: b["Operations"][0].update(path="/Groups"), "/Users"),
        (lambda b: b.update(Operations=[]), "Operations"),
    ],
    ids=["duplicate-bulkId", "missing-externalId", "missing-core-schema", "unlisted-enterprise",
         "unlisted-custom", "wrong-message-schema", "method", "path", "no-operations"],
)
def test_payload_validation(graph, mutate, fragment):
    body = bulk_body(scim_user("E1", "e1@contoso.example"))
    mutate(body)
    response = graph.bulk_upload(body)
    assert response.status_code == 400
    assert fragment in _error(response)["message"]


def test_invalid_json(graph):
    assert graph.bulk_upload("{not json").status_code == 400


def test_unknown_sp_or_job_is_404(graph, info):
    body = json.dumps(bulk_body(scim_user("E1", "e1@contoso.example")))
    for sp, job in (("00000000-0000-0000-0000-000000000000", info.provisioning_job_id),
                    (info.provisioning_sp_id, "API2AAD.unknown")):
        response = graph.request("POST", f"/v1.0/servicePrincipals/{sp}/synchronization/jobs/{job}/bulkUpload",
                                 data=body, headers={"Content-Type": "application/scim+json"})
        assert response.status_code == 404


def test_requires_token(graph, info, session):
    path = (f"{info.base_url}/v1.0/servicePrincipals/{info.provisioning_sp_id}/synchronization/jobs/"
            f"{info.provisioning_job_id}/bulkUpload")
    response = session.post(path, data="{}", headers={"Content-Type": "application/scim+json"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_beta_endpoint_is_accepted(graph, info):
    path = (f"/beta/servicePrincipals/{info.provisioning_sp_id}/synchronization/jobs/"
            f"{info.provisioning_job_id}/bulkUpload")
    response = graph.request("POST", path, data=json.dumps(bulk_body(scim_user("E7", "e7@contoso.example"))),
                             headers={"Content-Type": "application/scim+json"})
    assert response.status_code == 202


def _process(graph) -> dict:
    response = graph.control("POST", "/process")
    assert response.status_code == 200
    return response.json()


def test_processing_creates_updates_and_disables(graph, info):
    graph.bulk_upload(bulk_body(
        scim_user("J1", "jo.one@contoso.example", active=False, manager="M1001"),
        scim_user("J2", "jo.two@contoso.example", active=None),  # quirk: no `active` -> disabled
        scim_user("J3", "jo.three@contoso.example", active=True, manager="NOPE"),
        scim_user("J4", "jo.four@contoso.example", active=False, **{CUSTOM: {"personalEmail": "jo@home.example"}},
                  schemas=[CORE, ENTERPRISE, CUSTOM]),
        scim_user("J5", None),  # no userName: cannot create
    ))
    assert graph.user_by_employee_id("J1") is None  # nothing before processing
    assert _process(graph) == {"uploads": 1, "operations": 5}

    j1, j2, j3 = (graph.user_by_employee_id(x) for x in ("J1", "J2", "J3"))
    assert j1["accountEnabled"] is False and j1["userPrincipalName"] == "jo.one@contoso.example"
    assert j2["accountEnabled"] is False
    assert j3["accountEnabled"] is True
    assert j1["department"] == "Engineering" and j1["displayName"] == "Given J1"
    assert graph.user_by_employee_id("J5") is None
    manager = graph.request("GET", f"/v1.0/users/{j1['id']}/manager").json()
    assert manager["employeeId"] == "M1001"
    control_j4 = graph.control("GET", "/users/J4").json()
    assert "jo@home.example" not in json.dumps(control_j4)  # the app's schema does not map the extension

    logs = graph.request("GET", f"/v1.0/auditLogs/provisioning?$filter=jobid eq '{info.provisioning_job_id}'")
    entries = {e["sourceIdentity"]["id"]: e for e in logs.json()["value"]}
    assert entries["J1"]["provisioningAction"] == "create"
    assert entries["J1"]["provisioningStatusInfo"] == {"status": "success", "errorInformation": None}
    assert entries["J1"]["targetIdentity"]["id"] == j1["id"]
    assert entries["J1"]["targetIdentity"]["userPrincipalName"] == "jo.one@contoso.example"
    assert entries["J1"]["changeId"] and entries["J1"]["cycleId"]
    skipped = [s for s in entries["J3"]["provisioningSteps"] if s["status"] == "skipped"]
    assert skipped and "NOPE" in skipped[0]["description"]
    assert entries["J5"]["provisioningStatusInfo"]["status"] == "failure"
    assert "userName" in entries["J5"]["provisioningStatusInfo"]["errorInformation"]["reason"]

    # second upload: J3 leaves (disable), J1 moves department (update), J2 unchanged (skipped)
    graph.bulk_upload(bulk_body(
        scim_user("J3", "jo.three@contoso.example", active=False),
        scim_user("J1", "jo.one@contoso.example", active=True, manager="M1001",
                  **{ENTERPRISE: {"department": "Sales", "manager": {"value": "M1001"}}}),
        scim_user("J2", "jo.two@contoso.example", active=False),
    ))
    _process(graph)
    assert graph.user_by_employee_id("J3")["accountEnabled"] is False
    assert graph.user_by_employee_id("J1")["department"] == "Sales"
    latest = graph.request("GET", "/v1.0/auditLogs/provisioning?$filter=sourceIdentity/id eq 'J3'").json()["value"]
    assert [e["provisioningAction"] for e in latest] == ["disable", "create"]
    j2_latest = graph.request("GET", "/v1.0/auditLogs/provisioning?$filter=sourceIdentity/id eq 'J2'").json()
    assert j2_latest["value"][0]["provisioningStatusInfo"]["status"] == "skipped"


def test_upn_collision_appends_number(graph):
    graph.bulk_upload(bulk_body(
        scim_user("C1", "sam.same@contoso.example"),
        scim_user("C2", "sam.same@contoso.example"),
    ))
    _process(graph)
    assert graph.user_by_employee_id("C1")["userPrincipalName"] == "sam.same@contoso.example"
    assert graph.user_by_employee_id("C2")["userPrincipalName"] == "sam.same1@contoso.example"
    # re-sending the same data keeps both stable
    graph.bulk_upload(bulk_body(scim_user("C2", "sam.same@contoso.example")))
    _process(graph)
    assert graph.user_by_employee_id("C2")["userPrincipalName"] == "sam.same1@contoso.example"


def test_manager_later_in_same_batch_is_resolved(graph):
    graph.bulk_upload(bulk_body(scim_user("R1", "r1@contoso.example", manager="B1"),
                                scim_user("B1", "b1@contoso.example")))
    _process(graph)
    report = graph.user_by_employee_id("R1")
    assert graph.request("GET", f"/v1.0/users/{report['id']}/manager").json()["employeeId"] == "B1"


def test_log_filters_and_paging(graph, info):
    ops = [scim_user(f"P{i}", f"p{i}@contoso.example") for i in range(7)] + [scim_user("PX", None)]
    graph.bulk_upload(bulk_body(*ops))
    _process(graph)
    failures = graph.request(
        "GET", f"/v1.0/auditLogs/provisioning?$filter=jobid eq '{info.provisioning_job_id}' and "
               "provisioningStatusInfo/status eq 'failure'").json()["value"]
    assert [e["sourceIdentity"]["id"] for e in failures] == ["PX"]

    seen, url, pages = [], f"/v1.0/auditLogs/provisioning?$filter=jobid eq '{info.provisioning_job_id}'&$top=3", 0
    while url:
        page = graph.request("GET", url).json()
        assert len(page["value"]) <= 3
        seen += [e["id"] for e in page["value"]]
        url = page.get("@odata.nextLink")
        if url:
            assert url.startswith(f"{info.base_url}/v1.0/auditLogs/provisioning?")
            assert "$skiptoken" in parse_qs(urlsplit(url).query)
        pages += 1
    assert pages == 3 and len(seen) == len(set(seen)) == 8


def test_log_query_validation(graph):
    assert graph.request("GET", "/v1.0/auditLogs/provisioning?$top=1001").status_code == 400
    assert graph.request("GET", "/v1.0/auditLogs/provisioning?$filter=foo eq 'x'").status_code == 400
    assert graph.request("GET", "/v1.0/auditLogs/provisioning?$filter=jobid gt 'x'").status_code == 400


def test_background_worker_processes_after_delay(start_server):
    server = start_server(processing_delay=0)
    info = server.info
    session = http_session(info)
    graph = Graph(info, session, app_token(info, session))
    assert graph.bulk_upload(bulk_body(scim_user("W1", "w1@contoso.example"))).status_code == 202
    user = wait_for(lambda: graph.user_by_employee_id("W1"))
    assert user["accountEnabled"] is False


def test_rate_limit_returns_429_with_retry_after(start_server):
    server = start_server(bulk_rate_calls=3, bulk_rate_period=30)
    info = server.info
    session = http_session(info)
    graph = Graph(info, session, app_token(info, session))
    body = bulk_body(scim_user("L1", "l1@contoso.example"))
    assert [graph.bulk_upload(body).status_code for _ in range(3)] == [202, 202, 202]
    throttled = graph.bulk_upload(body)
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["Retry-After"]) <= 30
    assert throttled.json()["error"]["code"] == "TooManyRequests"


def _schema_sources(graph, info) -> set[str]:
    path = (f"/v1.0/servicePrincipals/{info.provisioning_sp_id}/synchronization/jobs/"
            f"{info.provisioning_job_id}/schema")
    response = graph.request("GET", path)
    assert response.status_code == 200
    rules = response.json()["synchronizationRules"]
    return {m["source"]["name"] for rule in rules for o in rule["objectMappings"] for m in o["attributeMappings"]}


def _entry(graph, info, external_id: str) -> dict:
    logs = graph.request("GET", f"/v1.0/auditLogs/provisioning?$filter=sourceIdentity/id eq '{external_id}'")
    return logs.json()["value"][0]  # newest first


def test_unmapped_attributes_are_dropped_and_the_log_says_so(graph, info):
    assert f"{ENTERPRISE}:department" in _schema_sources(graph, info)
    assert not any(source.startswith(CUSTOM) for source in _schema_sources(graph, info))
    graph.bulk_upload(bulk_body(scim_user("D1", "d1@contoso.example", schemas=[CORE, ENTERPRISE, CUSTOM],
                                          **{CUSTOM: {"hireDate": "2030-01-01", "personalEmail": "d@home.example"}})))
    _process(graph)
    steps = {s["name"]: s for s in _entry(graph, info, "D1")["provisioningSteps"]}
    dropped = steps["EntryImportAttributesNotMapped"]
    assert dropped["status"] == "warning"
    assert f"{CUSTOM}:hireDate" in dropped["description"] and f"{CUSTOM}:personalEmail" in dropped["description"]
    assert "department" not in dropped["description"]


def test_a_mapping_added_to_the_schema_provisions_the_attribute(graph, info):
    mappings = [{"source": f"{CUSTOM}:hireDate", "target": "employeeHireDate"}]
    assert graph.control("PUT", "/provisioning-schema", json={"mappings": mappings}).status_code == 200
    assert f"{CUSTOM}:hireDate" in _schema_sources(graph, info)
    graph.bulk_upload(bulk_body(scim_user("D2", "d2@contoso.example", schemas=[CORE, ENTERPRISE, CUSTOM],
                                          **{CUSTOM: {"hireDate": "2030-01-01", "personalEmail": "d@home.example"}})))
    _process(graph)
    assert graph.control("GET", "/users/D2").json()["employeeHireDate"] == "2030-01-01"
    dropped = {s["name"]: s for s in _entry(graph, info, "D2")["provisioningSteps"]}["EntryImportAttributesNotMapped"]
    assert f"{CUSTOM}:personalEmail" in dropped["description"] and "hireDate" not in dropped["description"]
    bad = graph.control("PUT", "/provisioning-schema", json={"mappings": [{"source": "no such!"}]})
    assert bad.status_code == 400


def test_an_explicit_null_or_empty_value_clears_the_attribute(graph, info):
    graph.bulk_upload(bulk_body(scim_user("C1", "c1@contoso.example", manager="M1001", title="Engineer")))
    _process(graph)
    before = graph.user_by_employee_id("C1")
    assert before["department"] == "Engineering" and before["jobTitle"] == "Engineer"
    cleared = scim_user("C1", "c1@contoso.example", title="")
    cleared["data"][ENTERPRISE] = {"department": None, "manager": {"value": None}}
    graph.bulk_upload(bulk_body(cleared))
    _process(graph)
    after = graph.user_by_employee_id("C1")
    assert after["department"] is None and after["jobTitle"] is None
    assert graph.request("GET", f"/v1.0/users/{after['id']}/manager").status_code == 404
    entry = _entry(graph, info, "C1")
    assert entry["provisioningAction"] == "update"
    changed = {p["displayName"]: p for p in entry["modifiedProperties"]}
    assert changed["department"] == {"displayName": "department", "oldValue": "Engineering", "newValue": None}
    assert changed["manager"]["newValue"] is None
    omitted = scim_user("C1", "c1@contoso.example")  # department sent again, title simply left out
    graph.bulk_upload(bulk_body(omitted))
    _process(graph)
    assert graph.user_by_employee_id("C1")["department"] == "Engineering"
