"""Graph users, PATCH rules, Temporary Access Pass, sessions, mail, auth and error envelopes."""

from __future__ import annotations

import pytest

STRONG = "Correct-Horse7"


@pytest.fixture
def joiner(graph) -> dict:
    response = graph.control("POST", "/users", json={
        "employeeId": "N100", "userPrincipalName": "new.starter@contoso.example",
        "displayName": "New Starter", "accountEnabled": False})
    assert response.status_code == 201
    return response.json()


@pytest.fixture
def synced(graph) -> dict:
    response = graph.control("POST", "/users", json={
        "employeeId": "OP1", "userPrincipalName": "on.prem@contoso.example",
        "displayName": "On Prem", "accountEnabled": False, "onPremisesSyncEnabled": True})
    return response.json()


def _tap_path(user_id: str) -> str:
    return f"/v1.0/users/{user_id}/authentication/temporaryAccessPassMethods"


def test_get_user_by_id_and_upn(graph, joiner):
    by_id = graph.request("GET", f"/v1.0/users/{joiner['id']}").json()
    by_upn = graph.request("GET", "/v1.0/users/NEW.STARTER@contoso.example").json()
    assert by_id["id"] == by_upn["id"] == joiner["id"]
    for key in ("onPremisesSyncEnabled", "accountEnabled", "employeeId", "userPrincipalName", "displayName"):
        assert key in by_id
    selected = graph.request("GET", f"/v1.0/users/{joiner['id']}?$select=id,accountEnabled").json()
    assert {k for k in selected if not k.startswith("@")} == {"id", "accountEnabled"}


def test_unknown_user_404(graph):
    response = graph.request("GET", "/v1.0/users/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "Request_ResourceNotFound"


def test_filter_by_employee_id(graph, joiner):
    found = graph.request("GET", "/v1.0/users?$filter=employeeId eq 'N100'&$select=id,userPrincipalName").json()
    assert [u["id"] for u in found["value"]] == [joiner["id"]]
    assert graph.request("GET", "/v1.0/users?$filter=employeeId eq 'none'").json()["value"] == []
    assert graph.request("GET", "/v1.0/users?$filter=city eq 'x'").status_code == 400


def test_enable_account(graph, joiner):
    response = graph.request("PATCH", f"/v1.0/users/{joiner['id']}", json={"accountEnabled": True})
    assert response.status_code == 204
    assert graph.request("GET", f"/v1.0/users/{joiner['id']}").json()["accountEnabled"] is True


def test_on_premises_mastered_user_cannot_be_enabled(graph, synced):
    response = graph.request("PATCH", f"/v1.0/users/{synced['id']}", json={"accountEnabled": True})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "Request_BadRequest"
    assert "on-premises mastered" in error["message"]


@pytest.mark.parametrize("password", ["Short1!", "alllowercase1", "NoDigitsOrSymbols", "x" * 257])
def test_password_complexity(graph, joiner, password):
    response = graph.request("PATCH", f"/v1.0/users/{joiner['id']}",
                             json={"passwordProfile": {"password": password,
                                                       "forceChangePasswordNextSignIn": False}})
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(
        "The specified password does not comply with password complexity requirements.")


def test_good_password_is_accepted_and_never_recorded(graph, joiner):
    response = graph.request("PATCH", f"/v1.0/users/{joiner['id']}",
                             json={"passwordProfile": {"password": STRONG, "forceChangePasswordNextSignIn": False}})
    assert response.status_code == 204
    assert graph.control("GET", f"/users/{joiner['id']}").json()["hasPassword"] is True
    assert STRONG not in graph.control("GET", "/requests").text
    assert STRONG not in graph.control("GET", "/users").text


def test_unknown_property_rejected(graph, joiner):
    response = graph.request("PATCH", f"/v1.0/users/{joiner['id']}", json={"favouriteColour": "blue"})
    assert response.status_code == 400


def test_tap_lifecycle(graph, joiner, emulator):
    created = graph.request("POST", _tap_path(joiner["id"]), json={"lifetimeInMinutes": 60, "isUsableOnce": True})
    assert created.status_code == 201
    tap = created.json()
    assert tap["temporaryAccessPass"] and len(tap["temporaryAccessPass"]) >= 8
    assert tap["lifetimeInMinutes"] == 60 and tap["isUsableOnce"] is True
    assert tap["isUsable"] is True and tap["methodUsabilityReason"] == "EnabledByPolicy"
    for key in ("id", "createdDateTime", "startDateTime"):
        assert tap[key]

    listed = graph.request("GET", _tap_path(joiner["id"])).json()["value"]
    assert [m["id"] for m in listed] == [tap["id"]]
    assert listed[0]["temporaryAccessPass"] is None
    one = graph.request("GET", f"{_tap_path(joiner['id'])}/{tap['id']}").json()
    assert one["temporaryAccessPass"] is None

    verify = graph.control("POST", f"/users/{joiner['id']}/tap/verify", json={"value": tap["temporaryAccessPass"]})
    assert verify.json() == {"valid": True}
    # the value never reaches the request log or the state file
    assert tap["temporaryAccessPass"] not in graph.control("GET", "/requests").text
    emulator.context.store.save()
    assert tap["temporaryAccessPass"] not in (emulator.state_dir / "state.json").read_text()

    replacement = graph.request("POST", _tap_path(joiner["id"]), json={"lifetimeInMinutes": 120}).json()
    listed = graph.request("GET", _tap_path(joiner["id"])).json()["value"]
    assert [m["id"] for m in listed] == [replacement["id"]]
    assert graph.request("GET", f"{_tap_path(joiner['id'])}/{tap['id']}").status_code == 404

    assert graph.request("DELETE", f"{_tap_path(joiner['id'])}/{replacement['id']}").status_code == 204
    assert graph.request("GET", _tap_path(joiner["id"])).json()["value"] == []
    assert graph.request("DELETE", f"{_tap_path(joiner['id'])}/{replacement['id']}").status_code == 404


@pytest.mark.parametrize("lifetime", [59, 481])
def test_tap_lifetime_outside_policy(graph, joiner, lifetime):
    response = graph.request("POST", _tap_path(joiner["id"]), json={"lifetimeInMinutes": lifetime})
    assert response.status_code == 400
    assert "policy" in response.json()["error"]["message"]


def test_tap_policy_is_configurable(graph, joiner):
    policy = graph.control("PUT", "/policy", json={"minimumLifetimeInMinutes": 10, "defaultLifetimeInMinutes": 10})
    assert policy.status_code == 200
    assert graph.control("GET", "/policy").json()["minimumLifetimeInMinutes"] == 10
    assert graph.request("POST", _tap_path(joiner["id"]), json={"lifetimeInMinutes": 15}).status_code == 201
    assert graph.control("PUT", "/policy", json={"minimumLifetimeInMinutes": 900}).status_code == 400


def test_revoke_sign_in_sessions(graph, joiner):
    response = graph.request("POST", f"/v1.0/users/{joiner['id']}/revokeSignInSessions")
    assert response.status_code == 200
    assert response.json()["value"] is True


def test_send_mail_is_stored(graph):
    message = {"message": {"subject": "Welcome", "body": {"contentType": "HTML", "content": "<p>Hi</p>"},
                           "toRecipients": [{"emailAddress": {"address": "jo@home.example"}}]},
               "saveToSentItems": False}
    response = graph.request("POST", "/v1.0/users/morgan.manager@contoso.example/sendMail", json=message)
    assert response.status_code == 202
    mail = graph.control("GET", "/mail").json()["value"]
    assert mail[-1]["subject"] == "Welcome" and mail[-1]["toRecipients"] == ["jo@home.example"]
    bad = {"message": {"subject": "x", "body": {"contentType": "Text", "content": "x"}, "toRecipients": []}}
    assert graph.request("POST", "/v1.0/users/morgan.manager@contoso.example/sendMail", json=bad).status_code == 400


def test_token_required_and_audience_checked(emulator, info, session):
    response = session.get(f"{info.base_url}/v1.0/users")
    assert response.status_code == 401
    body = response.json()["error"]
    assert body["code"] == "InvalidAuthenticationToken"
    assert {"request-id", "client-request-id", "date"} <= set(body["innerError"])
    garbage = session.get(f"{info.base_url}/v1.0/users", headers={"Authorization": "Bearer abc.def.ghi"})
    assert garbage.status_code == 401
    # an ID token is not a Graph access token (its audience is the client id)
    from entra_emulator.tokens import id_token

    wrong_aud = id_token(emulator.context, {"id": "x", "displayName": "x"}, None)
    response = session.get(f"{info.base_url}/v1.0/users", headers={"Authorization": f"Bearer {wrong_aud}"})
    assert response.status_code == 401
    assert "audience" in response.json()["error"]["message"]


def test_request_ids_echoed(graph):
    response = graph.request("GET", "/v1.0/users", headers={"client-request-id": "my-correlation-id"})
    assert response.headers["client-request-id"] == "my-correlation-id"
    assert response.headers["request-id"]


def test_unknown_route_and_wrong_method(graph):
    missing = graph.request("GET", "/v1.0/nothingHere")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"]
    wrong = graph.request("DELETE", "/v1.0/users")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"]
