"""Typed views of a user's authentication methods, memberships and the tenant's TAP policy (issue 16).

Graph names methods by `@odata.type`; we keep the type and reduce it to the kinds the activation
cares about. Parsing is tolerant of missing fields and strict about what it hands out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

PASSKEY = "passkey"
AUTHENTICATOR = "authenticator"
TAP = "temporaryAccessPass"
PASSWORD_METHOD = "password"  # noqa: S105 - a method kind, not a secret

_KINDS = {
    "#microsoft.graph.fido2AuthenticationMethod": PASSKEY,
    "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod": AUTHENTICATOR,
    "#microsoft.graph.temporaryAccessPassAuthenticationMethod": TAP,
    "#microsoft.graph.passwordAuthenticationMethod": PASSWORD_METHOD,
}
STRONG_KINDS = (PASSKEY, AUTHENTICATOR)  # what "day one ends with a credential" means
DIRECTORY_ROLE = "#microsoft.graph.directoryRole"
GROUP = "#microsoft.graph.group"


@dataclass(frozen=True)
class AuthenticationMethod:
    id: str
    odata_type: str
    created_at: datetime | None
    usability_reason: str | None = None  # TAP only: "OneTimeUsed", "Expired", "EnabledByPolicy" ...

    @property
    def used_up(self) -> bool:
        """A one-time TAP that has been used to sign in."""
        return self.usability_reason == "OneTimeUsed"

    @property
    def kind(self) -> str:
        return _KINDS.get(self.odata_type, self.odata_type.rsplit(".", 1)[-1])


@dataclass(frozen=True)
class DirectoryObject:
    """One entry of transitiveMemberOf: a group, a directory role, or an administrative unit."""

    id: str
    odata_type: str
    display_name: str | None

    @property
    def is_directory_role(self) -> bool:
        return self.odata_type == DIRECTORY_ROLE


@dataclass(frozen=True)
class TapPolicy:
    """The TemporaryAccessPass configuration of the authentication methods policy."""

    enabled: bool
    include_group_ids: frozenset[str]  # "all_users" means everyone
    exclude_group_ids: frozenset[str]
    minimum_lifetime_minutes: int
    maximum_lifetime_minutes: int
    usable_once: bool

    def covers(self, group_ids: set[str]) -> bool:
        if not self.enabled or self.exclude_group_ids & group_ids:
            return False
        return "all_users" in self.include_group_ids or bool(self.include_group_ids & group_ids)


def _created(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def method_from_json(data: Mapping[str, Any]) -> AuthenticationMethod:
    reason = data.get("methodUsabilityReason")
    return AuthenticationMethod(id=str(data.get("id") or ""), odata_type=str(data.get("@odata.type") or ""),
                                created_at=_created(data.get("createdDateTime")),
                                usability_reason=reason if isinstance(reason, str) else None)


def directory_object_from_json(data: Mapping[str, Any]) -> DirectoryObject:
    name = data.get("displayName")
    return DirectoryObject(id=str(data.get("id") or ""), odata_type=str(data.get("@odata.type") or ""),
                           display_name=name if isinstance(name, str) else None)


def _targets(value: Any) -> frozenset[str]:
    items = value if isinstance(value, list) else []
    return frozenset(str(item["id"]) for item in items if isinstance(item, Mapping) and item.get("id"))


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def tap_policy_from_json(data: Mapping[str, Any]) -> TapPolicy:
    return TapPolicy(
        enabled=data.get("state") == "enabled",
        include_group_ids=_targets(data.get("includeTargets")),
        exclude_group_ids=_targets(data.get("excludeTargets")),
        minimum_lifetime_minutes=_int(data.get("minimumLifetimeInMinutes"), 60),
        maximum_lifetime_minutes=_int(data.get("maximumLifetimeInMinutes"), 480),
        usable_once=data.get("isUsableOnce") is True,
    )
