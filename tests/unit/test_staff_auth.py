"""Sign-in rules that need no identity provider: the `next` path and the ID token claims we check."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from activation.config import MicrosoftSettings
from activation.staff.auth import SignInFailed, StaffMember, member_from_claims, safe_next_path

MS = MicrosoftSettings(tenant_id="tenant-1", client_id="client-1", authority_host="https://login.example")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("/staff/desk", "/staff/desk"),
        ("/staff/desk/search?q=grace&page=2", "/staff/desk/search?q=grace&page=2"),
        ("//evil.example", "/staff/"),
        ("//evil.example/staff", "/staff/"),
        ("https://evil.example", "/staff/"),
        ("http://localhost/staff/", "/staff/"),
        ("/\\evil.example", "/staff/"),
        ("/staff\\..\\evil", "/staff/"),
        ("javascript:alert(1)", "/staff/"),
        ("staff/desk", "/staff/"),
        ("/staff/\r\nSet-Cookie: x=1", "/staff/"),
        ("/" + "a" * 600, "/staff/"),
        ("", "/staff/"),
        (None, "/staff/"),
    ],
)
def test_only_same_site_relative_paths_are_accepted(candidate: str | None, expected: str) -> None:
    assert safe_next_path(candidate) == expected


def claims(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "oid": "oid-1", "tid": "tenant-1", "aud": "client-1", "iss": "https://login.example/tenant-1/v2.0",
        "exp": int(NOW.timestamp()) + 3600, "name": "Dana Desk", "preferred_username": "dana@contoso.example",
        "roles": ["ServiceDesk"],
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def test_identity_is_the_oid_and_roles_come_from_the_token() -> None:
    member = member_from_claims(claims(), MS, NOW)
    assert member == StaffMember("oid-1", "Dana Desk", "dana@contoso.example", frozenset({"ServiceDesk"}))
    assert member.is_desk and member.actor.id == "oid-1"
    assert not member_from_claims(claims(roles=None), MS, NOW).is_desk


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"oid": None}, "claims_invalid:oid"),
        ({"tid": "other-tenant"}, "claims_invalid:tid"),
        ({"aud": "someone-else"}, "claims_invalid:aud"),
        ({"iss": "https://evil.example/tenant-1/v2.0"}, "claims_invalid:iss"),
        ({"exp": int(NOW.timestamp()) - 3600}, "claims_invalid:exp"),
    ],
)
def test_claims_from_another_tenant_app_issuer_or_time_are_refused(changes: dict[str, object], reason: str) -> None:
    with pytest.raises(SignInFailed) as refused:
        member_from_claims(claims(**changes), MS, NOW)
    assert refused.value.reason == reason


def test_session_data_round_trip_keeps_only_identity_and_roles() -> None:
    member = member_from_claims(claims(), MS, NOW)
    assert StaffMember.from_data(member.to_data()) == member
    assert set(member.to_data()) == {"oid", "name", "username", "roles"}
