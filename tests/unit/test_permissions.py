"""The permissions `activation check` asks for follow the configured features."""

import jwt
import pytest

from activation import permissions


def token(roles: list[str]) -> str:
    return jwt.encode({"roles": roles, "aud": "https://graph.microsoft.com"}, "k" * 32, algorithm="HS256")


@pytest.mark.parametrize(
    ("overrides", "extra"),
    [
        ({}, set()),
        ({"mail": {"backend": "graph", "sender": "it@contoso.example"}}, {"Mail.Send"}),
        ({"policy": {"password_path": True}}, {"User-PasswordProfile.ReadWrite.All"}),
        ({"microsoft": {"provisioning_job_id": "job", "provisioning_sp_id": "sp"}},
         {"SynchronizationData-User.Upload", "AuditLog.Read.All"}),
    ],
)
def test_requirements_follow_the_configuration(make_settings, overrides, extra) -> None:  # type: ignore[no-untyped-def]
    base = {"User.Read.All", "User.EnableDisableAccount.All", "UserAuthMethod-TAP.ReadWrite.All",
            "User.RevokeSessions.All", "UserAuthenticationMethod.Read.All", "Policy.Read.All"}
    settings = make_settings(**overrides)
    assert {r.least_privileged for r in permissions.requirements(settings)} == base | extra


def test_a_broader_permission_satisfies_a_narrow_one(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    granted = permissions.granted_roles(token(["User.ReadWrite.All", "UserAuthenticationMethod.ReadWrite.All",
                                               "Policy.Read.All"]))
    assert permissions.missing(settings, granted) == []
    lacking = permissions.missing(settings, permissions.granted_roles(token(["User.Read.All"])))
    assert {r.purpose for r in lacking} == {"enable accounts", "issue and revoke Temporary Access Passes",
                                            "revoke leavers' sessions", "watch for the first passkey or Authenticator",
                                            "read the Temporary Access Pass policy before issuing a pass"}


def test_the_tap_only_permission_suffices_for_passes_but_not_for_watching(make_settings) -> None:  # type: ignore[no-untyped-def]
    granted = permissions.granted_roles(token(["User.Read.All", "User.EnableDisableAccount.All",
                                               "User.RevokeSessions.All", "UserAuthMethod-TAP.ReadWrite.All",
                                               "Policy.Read.All"]))
    lacking = permissions.missing(make_settings(), granted)
    assert [(r.purpose, r.least_privileged) for r in lacking] == [
        ("watch for the first passkey or Authenticator", "UserAuthenticationMethod.Read.All")]
