"""Application permissions: what the app registration is granted, and what each Graph call accepts.

Like Entra, the granted permissions travel in the app-only token's ``roles`` claim at issue time;
a call whose token lacks every accepted permission gets 403 ``Authorization_RequestDenied``.
Sources: the "Permissions" table of each Graph API reference page (least privileged first).
"""

from __future__ import annotations

import fnmatch

# Granted to the portal's app registration on first start (what docs/operations.md asks for).
DEFAULT_GRANTED: tuple[str, ...] = (
    "SynchronizationData-User.Upload",
    "AuditLog.Read.All",
    "Synchronization.Read.All",  # `activation check` reads the provisioning job's schema
    "User.Read.All",
    "User.EnableDisableAccount.All",
    "User.RevokeSessions.All",
    "UserAuthenticationMethod.ReadWrite.All",
    "User-PasswordProfile.ReadWrite.All",
    "Mail.Send",
    "Policy.Read.All",  # issue 16: read the TAP policy's scope before issuing a pass
)

READ_USERS = frozenset({"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"})
WRITE_USERS = frozenset({"User.ReadWrite.All", "Directory.ReadWrite.All"})

# (method, path under /v1.0 or /beta, accepted permissions). First match wins.
RULES: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("POST", "/servicePrincipals/*/synchronization/jobs/*/bulkUpload",
     frozenset({"SynchronizationData-User.Upload"})),
    ("GET", "/auditLogs/provisioning", frozenset({"AuditLog.Read.All"})),
    ("GET", "/servicePrincipals/*/synchronization/jobs/*/schema",
     frozenset({"Synchronization.Read.All", "Synchronization.ReadWrite.All", "Application.ReadWrite.OwnedBy"})),
    ("POST", "/users/*/revokeSignInSessions", frozenset({"User.RevokeSessions.All"}) | WRITE_USERS),
    ("GET", "/users/*/authentication/temporaryAccessPassMethods*",
     frozenset({"UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All",
                "UserAuthMethod-TAP.Read.All", "UserAuthMethod-TAP.ReadWrite.All"})),
    ("*", "/users/*/authentication/temporaryAccessPassMethods*",
     frozenset({"UserAuthenticationMethod.ReadWrite.All", "UserAuthMethod-TAP.ReadWrite.All"})),
    ("GET", "/users/*/authentication/methods*",
     frozenset({"UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All"})),
    ("GET", "/policies/authenticationMethodsPolicy*",
     frozenset({"Policy.Read.All", "Policy.ReadWrite.AuthenticationMethod"})),
    ("POST", "/users/*/sendMail", frozenset({"Mail.Send"})),
    ("GET", "/users*", READ_USERS),
)

# PATCH /users/{id}: what is accepted depends on what is changed.
PATCH_RULES: dict[str, frozenset[str]] = {
    "accountEnabled": frozenset({"User.EnableDisableAccount.All"}) | WRITE_USERS,
    "passwordProfile": frozenset({"User-PasswordProfile.ReadWrite.All"}) | WRITE_USERS,
}


def accepted_permissions(method: str, path: str, body: object) -> frozenset[str] | None:
    """The permissions any one of which allows this call; None when the call needs no check here."""
    if method == "PATCH" and fnmatch.fnmatchcase(path, "/users/*") and path.count("/") == 2:
        fields = [name for name in (body.keys() if isinstance(body, dict) else ()) if name in PATCH_RULES]
        accepted: frozenset[str] | None = None
        for name in fields:  # each changed property must be allowed (unknown ones are a 400 later)
            accepted = PATCH_RULES[name] if accepted is None else accepted & PATCH_RULES[name]
        return accepted
    for rule_method, pattern, permissions in RULES:
        if rule_method in ("*", method) and fnmatch.fnmatchcase(path, pattern):
            return permissions
    return None
