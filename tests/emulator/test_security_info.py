"""Authentication methods, memberships, the TAP policy and the local My Security Info (issue 16)."""

from __future__ import annotations

import re

import pytest

from entra_emulator.permissions import accepted_permissions


@pytest.fixture
def joiner(graph) -> dict:
    response = graph.control("POST", "/users", json={
        "employeeId": "S100", "userPrincipalName": "sam.starter@contoso.example",
        "displayName": "Sam Starter", "accountEnabled": True})
    assert response.status_code == 201
    return response.json()


def new_tap(graph, user_id: str, once: bool = True) -> str:
    response = graph.request("POST", f"/v1.0/users/{user_id}/authentication/temporaryAccessPassMethods",
                             json={"lifetimeInMinutes": 60, "isUsableOnce": once})
    assert response.status_code == 201
    return response.json()["temporaryAccessPass"]


def kinds(graph, user_id: str) -> list[str]:
    value = graph.request("GET", f"/v1.0/users/{user_id}/authentication/methods").json()["value"]
    return [item["@odata.type"].rsplit(".", 1)[-1] for item in value]


def sign_in(graph, upn: str, tap: str):  # type: ignore[no-untyped-def]
    return graph.session.post(graph.url("/mysecurityinfo/sign-in"), data={"upn": upn, "tap": tap}, timeout=10)


def test_methods_list_the_password_and_the_tap(graph, joiner) -> None:
    assert kinds(graph, joiner["id"]) == ["passwordAuthenticationMethod"]
    new_tap(graph, joiner["id"])
    assert kinds(graph, joiner["id"]) == ["passwordAuthenticationMethod", "temporaryAccessPassAuthenticationMethod"]


@pytest.mark.parametrize(("kind", "odata"), [("passkey", "fido2AuthenticationMethod"),
                                             ("authenticator", "microsoftAuthenticatorAuthenticationMethod")])
def test_my_security_info_signs_in_with_the_tap_and_registers_a_method(graph, joiner, kind, odata) -> None:
    tap = new_tap(graph, joiner["id"])
    assert sign_in(graph, joiner["userPrincipalName"], "wrong-pass").status_code == 401
    page = sign_in(graph, joiner["userPrincipalName"], tap)
    assert page.status_code == 200 and "Security info for Sam Starter" in page.text
    ticket = re.search(r'name="ticket" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    added = graph.session.post(graph.url("/mysecurityinfo/register"), data={"ticket": ticket, "kind": kind},
                               timeout=10)
    assert added.status_code == 200 and odata in kinds(graph, joiner["id"])
    again = graph.session.post(graph.url("/mysecurityinfo/register"), data={"ticket": ticket, "kind": kind},
                               timeout=10)
    assert again.status_code == 401  # the sign-in ticket is single use
    assert sign_in(graph, joiner["userPrincipalName"], tap).status_code == 401  # a one-time TAP is used up


def test_a_reusable_tap_signs_in_more_than_once(graph, joiner) -> None:
    tap = new_tap(graph, joiner["id"], once=False)
    assert sign_in(graph, joiner["userPrincipalName"], tap).status_code == 200
    assert sign_in(graph, joiner["userPrincipalName"], tap).status_code == 200


def test_memberships_and_tap_policy_targets(graph, joiner) -> None:
    graph.control("POST", f"/users/{joiner['id']}/memberships", json={"id": "g1", "type": "group"})
    graph.control("POST", f"/users/{joiner['id']}/memberships",
                  json={"id": "r1", "type": "directoryRole", "displayName": "Global Administrator"})
    value = graph.request("GET", f"/v1.0/users/{joiner['id']}/transitiveMemberOf").json()["value"]
    assert [(v["@odata.type"], v["id"]) for v in value] == [("#microsoft.graph.group", "g1"),
                                                           ("#microsoft.graph.directoryRole", "r1")]
    path = "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass"
    assert graph.request("GET", path).json()["includeTargets"][0]["id"] == "all_users"
    graph.control("PUT", "/tap-policy-targets", json={"includeTargets": [{"id": "g2", "targetType": "group"}]})
    policy = graph.request("GET", path).json()
    assert (policy["state"], policy["includeTargets"][0]["id"]) == ("enabled", "g2")


@pytest.mark.parametrize(("method", "path", "needs"), [
    ("GET", "/users/u1/authentication/methods", "UserAuthenticationMethod.Read.All"),
    ("POST", "/users/u1/authentication/temporaryAccessPassMethods", "UserAuthMethod-TAP.ReadWrite.All"),
    ("GET", "/users/u1/transitiveMemberOf", "User.Read.All"),
    ("GET", "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass",
     "Policy.Read.All"),
])
def test_least_privileged_permissions_for_the_new_calls(method, path, needs) -> None:  # type: ignore[no-untyped-def]
    accepted = accepted_permissions(method, path, None)
    assert accepted is not None and needs in accepted
    if path.endswith("/authentication/methods"):
        assert "UserAuthMethod-TAP.ReadWrite.All" not in accepted  # the TAP-only permission reads no other methods
