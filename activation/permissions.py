"""Which Graph application permissions the configured features need, checked against a token's roles.

Least privileged first in each set; any one of a set is enough. docs/operations.md explains each.
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt

from activation.config import Settings

WRITE_USERS = frozenset({"User.ReadWrite.All", "Directory.ReadWrite.All"})


@dataclass(frozen=True)
class Requirement:
    purpose: str
    accepted: frozenset[str]

    @property
    def least_privileged(self) -> str:
        return sorted(self.accepted - WRITE_USERS - {"Directory.Read.All"})[0]


def requirements(settings: Settings) -> list[Requirement]:
    needed = [
        Requirement("look starters up", frozenset({"User.Read.All", "Directory.Read.All"}) | WRITE_USERS),
        Requirement("enable accounts", frozenset({"User.EnableDisableAccount.All"}) | WRITE_USERS),
        # The TAP-only permission suffices for TAPs; the broad one also covers every other method.
        Requirement("issue and revoke Temporary Access Passes",
                    frozenset({"UserAuthMethod-TAP.ReadWrite.All", "UserAuthenticationMethod.ReadWrite.All"})),
        Requirement("revoke leavers' sessions", frozenset({"User.RevokeSessions.All"}) | WRITE_USERS),
        # issue 16: day one ends with a credential; pre-TAP checks read the methods policy.
        Requirement("watch for the first passkey or Authenticator",
                    frozenset({"UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All"})),
        Requirement("read the Temporary Access Pass policy before issuing a pass",
                    frozenset({"Policy.Read.All", "Policy.ReadWrite.AuthenticationMethod"})),
    ]
    if settings.microsoft.provisioning_job_id:
        needed += [
            Requirement("upload HR records", frozenset({"SynchronizationData-User.Upload"})),
            Requirement("read provisioning results", frozenset({"AuditLog.Read.All"})),
        ]
    if settings.mail.backend == "graph":
        needed.append(Requirement("send mail", frozenset({"Mail.Send"})))
    if settings.policy.password_path:
        needed.append(Requirement("set passwords", frozenset({"User-PasswordProfile.ReadWrite.All"}) | WRITE_USERS))
    return needed


def granted_roles(access_token: str) -> frozenset[str]:
    """The `roles` claim of an app-only token. Read, not verified: Graph verifies; we only inform."""
    claims = jwt.decode(access_token, options={"verify_signature": False})
    roles = claims.get("roles") or []
    return frozenset(role for role in roles if isinstance(role, str))


def missing(settings: Settings, granted: frozenset[str]) -> list[Requirement]:
    return [requirement for requirement in requirements(settings) if not requirement.accepted & granted]
