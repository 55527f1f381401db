"""Granted application permissions travel in the token; a call without one gets 403 like Graph's."""

from __future__ import annotations

import pytest

from entra_emulator.permissions import accepted_permissions


@pytest.mark.parametrize(
    ("method", "path", "body", "needs"),
    [
        ("POST", "/servicePrincipals/sp/synchronization/jobs/j/bulkUpload", None, "SynchronizationData-User.Upload"),
        ("GET", "/auditLogs/provisioning", None, "AuditLog.Read.All"),
        ("GET", "/users", None, "User.Read.All"),
        ("PATCH", "/users/u1", {"accountEnabled": True}, "User.EnableDisableAccount.All"),
        ("PATCH", "/users/u1", {"passwordProfile": {}}, "User-PasswordProfile.ReadWrite.All"),
        ("POST", "/users/u1/authentication/temporaryAccessPassMethods", {}, "UserAuthenticationMethod.ReadWrite.All"),
        ("DELETE", "/users/u1/authentication/temporaryAccessPassMethods/m1", None,
         "UserAuthenticationMethod.ReadWrite.All"),
        ("POST", "/users/u1/revokeSignInSessions", None, "User.RevokeSessions.All"),
        ("POST", "/users/a@b.example/sendMail", {}, "Mail.Send"),
    ],
)
def test_each_call_names_its_least_privileged_permission(method, path, body, needs) -> None:  # type: ignore[no-untyped-def]
    accepted = accepted_permissions(method, path, body)
    assert accepted is not None and needs in accepted


def test_enable_permission_does_not_allow_setting_a_password() -> None:
    accepted = accepted_permissions("PATCH", "/users/u1", {"accountEnabled": True, "passwordProfile": {}})
    assert accepted is not None and "User.EnableDisableAccount.All" not in accepted


def new_token(info, session) -> str:  # type: ignore[no-untyped-def]
    response = session.post(f"{info.base_url}/{info.tenant_id}/oauth2/v2.0/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": info.client_id, "client_secret": info.client_secret,
        "scope": f"{info.base_url}/.default"})
    response.raise_for_status()
    return response.json()["access_token"]


def test_a_token_without_the_permission_gets_403(info, session, graph) -> None:  # type: ignore[no-untyped-def]
    joiner = graph.control("POST", "/users", json={"employeeId": "P100", "displayName": "Pat Permission",
                                                   "userPrincipalName": "pat@contoso.example"}).json()
    assert graph.request("PATCH", f"/v1.0/users/{joiner['id']}", json={"accountEnabled": True}).status_code == 204
    granted = graph.control("GET", "/permissions").json()["value"]
    reduced = [p for p in granted if p != "User.EnableDisableAccount.All"]
    assert graph.control("PUT", "/permissions", json={"value": reduced}).status_code == 200
    fresh = type(graph)(info, session, new_token(info, session))  # granted permissions travel in new tokens
    denied = fresh.request("PATCH", f"/v1.0/users/{joiner['id']}", json={"accountEnabled": True})
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "Authorization_RequestDenied"
    assert fresh.request("GET", f"/v1.0/users/{joiner['id']}").status_code == 200  # reading is still granted
