"""In-memory GraphClient with the observable behaviour of Graph (and of the emulator)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from activation.clock import Clock, SystemClock
from activation.graph import bulk_request
from activation.graph.auth_methods import (
    AUTHENTICATOR,
    DIRECTORY_ROLE,
    GROUP,
    PASSKEY,
    AuthenticationMethod,
    DirectoryObject,
    TapPolicy,
)
from activation.graph.errors import (
    BadRequest,
    GraphError,
    NotFound,
    OnPremisesMastered,
    PasswordComplexity,
    TapPolicyViolation,
)
from activation.graph.models import (
    BulkUploadResult,
    GraphUser,
    MailMessage,
    ProvisioningLogEntry,
    TemporaryAccessPass,
)
from activation.graph.password_policy import meets_complexity

TAP_MIN_MINUTES = 60
TAP_MAX_MINUTES = 480
_ON_PREM_MESSAGE = (
    "Unable to update the specified properties for on-premises mastered Directory Sync objects "
    "or objects currently undergoing migration."
)


@dataclass
class _User:
    user: GraphUser
    password_set: bool = False
    sessions_revoked: int = 0
    tap: TemporaryAccessPass | None = None
    methods: list[AuthenticationMethod] = field(default_factory=list)  # besides the TAP and the password
    memberships: list[DirectoryObject] = field(default_factory=list)
    tap_used: bool = False


@dataclass
class _StagedUpload:
    request_id: str
    operations: list[Mapping[str, Any]]


_ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
# What a new API-driven provisioning app maps (no custom extension).
FAKE_SCHEMA_SOURCES: tuple[str, ...] = (
    "externalId", "active", "userName", "displayName", "name.givenName", "name.familyName", "nickName", "title",
    "userType", "preferredLanguage", 'addresses[type eq "work"].streetAddress', 'addresses[type eq "work"].locality',
    'addresses[type eq "work"].postalCode', 'addresses[type eq "work"].country', 'phoneNumbers[type eq "work"].value',
    f"{_ENTERPRISE}:department", f"{_ENTERPRISE}:organization", f"{_ENTERPRISE}:costCenter",
    f"{_ENTERPRISE}:division", f"{_ENTERPRISE}:manager",
)


@dataclass
class FakeGraph:
    """Records what it was asked (`calls`, `sent_mail`) and can be told to fail (`fail_next`)."""

    clock: Clock = field(default_factory=SystemClock)
    job_id: str = "fake-job"
    auto_process: bool = False
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    sent_mail: list[tuple[str, MailMessage]] = field(default_factory=list)
    logs: list[ProvisioningLogEntry] = field(default_factory=list)
    # source attribute names the provisioning app's schema maps (provisioning_schema builds the document)
    schema_sources: list[str] = field(default_factory=lambda: list(FAKE_SCHEMA_SOURCES))
    _users: dict[str, _User] = field(default_factory=dict, repr=False)
    _staged: list[_StagedUpload] = field(default_factory=list, repr=False)
    _failures: dict[str, list[GraphError]] = field(default_factory=dict, repr=False)
    policy: TapPolicy = field(default_factory=lambda: TapPolicy(True, frozenset({"all_users"}), frozenset(),
                                                                TAP_MIN_MINUTES, TAP_MAX_MINUTES, False))

    # -- test helpers ---------------------------------------------------------------------------

    def add_user(
        self,
        employee_id: str | None = None,
        user_principal_name: str | None = None,
        display_name: str | None = None,
        *,
        account_enabled: bool = False,
        on_premises_sync_enabled: bool = False,
        user_id: str | None = None,
    ) -> GraphUser:
        user = GraphUser(
            id=user_id or str(uuid.uuid4()),
            user_principal_name=user_principal_name,
            display_name=display_name,
            employee_id=employee_id,
            account_enabled=account_enabled,
            on_premises_sync_enabled=on_premises_sync_enabled or None,
        )
        self._users[user.id] = _User(user)
        return user

    def fail_next(self, operation: str, error: GraphError, times: int = 1) -> None:
        """The next `times` calls of `operation` (a method name) raise `error` instead of running."""
        self._failures.setdefault(operation, []).extend([error] * times)

    def user(self, user_id: str) -> GraphUser:
        return self._record(user_id).user

    def set_employee_id(self, user_id: str, employee_id: str | None) -> None:
        """What an admin editing the user in the directory would do."""
        record = self._record(user_id)
        record.user = replace(record.user, employee_id=employee_id)

    def password_was_set(self, user_id: str) -> bool:
        return self._record(user_id).password_set

    def sessions_revoked(self, user_id: str) -> int:
        return self._record(user_id).sessions_revoked

    def register_method(self, user_id: str, kind: str = PASSKEY) -> AuthenticationMethod:
        """What My Security Info does when the user adds a passkey or Microsoft Authenticator."""
        odata = {PASSKEY: "#microsoft.graph.fido2AuthenticationMethod",
                 AUTHENTICATOR: "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod"}.get(
            kind, "#microsoft.graph.phoneAuthenticationMethod")
        method = AuthenticationMethod(str(uuid.uuid4()), odata, self.clock.now())
        self._record(user_id).methods.append(method)
        return method

    def sign_in_with_tap(self, user_id: str) -> None:
        """The user signs in with their TAP: a one-time pass is then used up, and Graph reports it so."""
        record = self._record(user_id)
        if record.tap is not None and record.tap.is_usable_once:
            record.tap_used = True
            record.tap = replace(record.tap, is_usable=False, usability_reason="OneTimeUsed")

    def add_membership(self, user_id: str, object_id: str, *, role: bool = False, name: str | None = None) -> None:
        self._record(user_id).memberships.append(DirectoryObject(object_id, DIRECTORY_ROLE if role else GROUP, name))

    def process_uploads(self) -> list[ProvisioningLogEntry]:
        """Apply staged bulk uploads, as Graph's provisioning service eventually does."""
        produced: list[ProvisioningLogEntry] = []
        while self._staged:
            upload = self._staged.pop(0)
            for op in upload.operations:
                produced.append(self._apply(op["data"]))
        self.logs.extend(produced)
        return produced

    # -- GraphClient ------------------------------------------------------------------------------

    def bulk_upload(self, payload: dict[str, Any]) -> BulkUploadResult:
        self._enter("bulk_upload", (len(payload.get("Operations") or []),))
        operations = bulk_request.validate(payload)
        upload = _StagedUpload(str(uuid.uuid4()), [dict(op) for op in operations])
        self._staged.append(upload)
        if self.auto_process:
            self.process_uploads()
        return BulkUploadResult(
            location=f"fake://auditLogs/provisioning?$filter=jobid eq '{self.job_id}'",
            request_id=upload.request_id,
        )

    def provisioning_logs(
        self,
        job_id: str | None = None,
        external_id: str | None = None,
        status: str | None = None,
        top: int = 100,
    ) -> Iterator[ProvisioningLogEntry]:
        self._enter("provisioning_logs", (job_id, external_id, status, top))
        for entry in reversed(self.logs):
            if job_id and entry.job_id != job_id:
                continue
            if external_id and entry.source_id != external_id:
                continue
            if status and entry.status != status:
                continue
            yield entry

    def provisioning_schema(self) -> dict[str, Any]:
        self._enter("provisioning_schema", ())
        mappings = [{"targetAttributeName": source, "source": {
            "expression": f"[{source}]", "name": source, "type": "Attribute", "parameters": []}}
            for source in self.schema_sources]
        return {"id": self.job_id, "synchronizationRules": [{"objectMappings": [{"attributeMappings": mappings}]}]}

    def get_user(self, user_id: str) -> GraphUser:
        self._enter("get_user", (user_id,))
        return self._record(user_id).user

    def get_employee_id(self, user_id: str) -> str | None:
        self._enter("get_employee_id", (user_id,))
        return self._record(user_id).user.employee_id or None

    def find_user_by_employee_id(self, employee_id: str) -> GraphUser | None:
        self._enter("find_user_by_employee_id", (employee_id,))
        for record in self._users.values():
            if record.user.employee_id == employee_id:
                return record.user
        return None

    def enable_user(self, user_id: str) -> None:
        self._enter("enable_user", (user_id,))
        self._set_enabled(user_id, True)

    def disable_user(self, user_id: str) -> None:
        self._enter("disable_user", (user_id,))
        self._set_enabled(user_id, False)

    def create_tap(self, user_id: str, lifetime_minutes: int, usable_once: bool) -> TemporaryAccessPass:
        self._enter("create_tap", (user_id, lifetime_minutes, usable_once))
        record = self._record(user_id)
        if not TAP_MIN_MINUTES <= lifetime_minutes <= TAP_MAX_MINUTES:
            raise TapPolicyViolation(
                f"lifetimeInMinutes must be between {TAP_MIN_MINUTES} and {TAP_MAX_MINUTES}",
                status=400,
                code="badRequest",
            )
        now = self.clock.now()
        tap = TemporaryAccessPass(
            id=str(uuid.uuid4()),
            value=secrets.token_urlsafe(12),
            created_at=now,
            start_at=now,
            lifetime_minutes=lifetime_minutes,
            is_usable_once=usable_once,
            is_usable=True,
            usability_reason="EnabledByPolicy",
        )
        record.tap = replace(tap, value=None)  # one per user: the new one replaces the old
        record.tap_used = False
        return tap

    def list_taps(self, user_id: str) -> list[TemporaryAccessPass]:
        self._enter("list_taps", (user_id,))
        tap = self._record(user_id).tap
        return [tap] if tap else []

    def delete_tap(self, user_id: str, method_id: str) -> None:
        self._enter("delete_tap", (user_id, method_id))
        record = self._record(user_id)
        if record.tap is None or record.tap.id != method_id:
            raise NotFound("Temporary Access Pass method not found", status=404, code="itemNotFound")
        record.tap = None

    def revoke_sessions(self, user_id: str) -> None:
        self._enter("revoke_sessions", (user_id,))
        self._record(user_id).sessions_revoked += 1

    def set_password(self, user_id: str, password: str) -> None:
        self._enter("set_password", (user_id,))  # never the password
        record = self._record(user_id)
        if record.user.on_premises_sync_enabled:
            raise OnPremisesMastered(_ON_PREM_MESSAGE, status=400, code="Request_BadRequest")
        if not meets_complexity(password):
            raise PasswordComplexity(
                "The specified password does not comply with password complexity requirements.",
                status=400,
                code="Request_BadRequest",
            )
        record.password_set = True

    def authentication_methods(self, user_id: str) -> list[AuthenticationMethod]:
        self._enter("authentication_methods", (user_id,))
        record = self._record(user_id)
        listed = [AuthenticationMethod("28c10230-6103-485e-b985-444c60001490",
                                       "#microsoft.graph.passwordAuthenticationMethod", None)]
        if record.tap is not None:
            tap_type = "#microsoft.graph.temporaryAccessPassAuthenticationMethod"
            reason = "OneTimeUsed" if record.tap_used else "EnabledByPolicy"
            listed.append(AuthenticationMethod(record.tap.id, tap_type, record.tap.created_at, reason))
        return listed + list(record.methods)

    def member_of(self, user_id: str) -> list[DirectoryObject]:
        self._enter("member_of", (user_id,))
        return list(self._record(user_id).memberships)

    def tap_policy(self) -> TapPolicy:
        self._enter("tap_policy", ())
        return self.policy

    def send_mail(self, sender: str, message: MailMessage) -> None:
        self._enter("send_mail", (sender, tuple(message.to), message.subject))
        if not message.to:
            raise BadRequest("At least one recipient is required.", status=400, code="ErrorInvalidRecipients")
        self.sent_mail.append((sender, message))

    # -- internals --------------------------------------------------------------------------------

    def _enter(self, operation: str, args: tuple[Any, ...]) -> None:
        self.calls.append((operation, args))
        queued = self._failures.get(operation)
        if queued:
            raise queued.pop(0)

    def _record(self, user_id: str) -> _User:
        record = self._users.get(user_id)
        if record is None:
            wanted = user_id.lower()
            record = next(
                (r for r in self._users.values() if (r.user.user_principal_name or "").lower() == wanted),
                None,
            )
        if record is None:
            raise NotFound(
                f"Resource '{user_id}' does not exist.", status=404, code="Request_ResourceNotFound"
            )
        return record

    def _set_enabled(self, user_id: str, enabled: bool) -> None:
        record = self._record(user_id)
        if record.user.on_premises_sync_enabled:
            raise OnPremisesMastered(_ON_PREM_MESSAGE, status=400, code="Request_BadRequest")
        record.user = replace(record.user, account_enabled=enabled)

    def _apply(self, data: Mapping[str, Any]) -> ProvisioningLogEntry:
        """One SCIM user record: create (disabled unless active is true) or update, by externalId."""
        external_id = str(data["externalId"])
        enabled = data.get("active") is True
        display_name = data.get("displayName") if isinstance(data.get("displayName"), str) else None
        existing = next((r for r in self._users.values() if r.user.employee_id == external_id), None)
        error_code = error_reason = None
        target: GraphUser | None = None
        if existing is None:
            upn = data.get("userName")
            if isinstance(upn, str) and upn:
                target = self.add_user(external_id, upn, display_name, account_enabled=enabled)
                action, status = "create", "success"
            else:
                action, status = "create", "failure"
                error_code, error_reason = "AttributeMappingRequired", "userName is required to create a user"
        else:
            was_enabled = existing.user.account_enabled
            existing.user = replace(
                existing.user,
                account_enabled=enabled,
                display_name=display_name or existing.user.display_name,
            )
            target = existing.user
            action = "disable" if was_enabled and not enabled else "update"
            status = "success"
        return ProvisioningLogEntry(
            id=str(uuid.uuid4()),
            activity_at=self.clock.now(),
            job_id=self.job_id,
            change_id=str(uuid.uuid4()),
            action=action,
            status=status,
            source_id=external_id,
            source_display_name=display_name,
            target_id=target.id if target else None,
            target_upn=target.user_principal_name if target else None,
            error_code=error_code,
            error_reason=error_reason,
        )
