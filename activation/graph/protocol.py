"""The Graph port: what the services need from Microsoft Graph, and nothing more."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from activation.graph.auth_methods import AuthenticationMethod, DirectoryObject, TapPolicy
from activation.graph.models import (
    BulkUploadResult,
    GraphUser,
    MailMessage,
    ProvisioningLogEntry,
    TemporaryAccessPass,
)


class TokenProvider(Protocol):
    def access_token(self) -> str:
        """An app-only bearer token for Graph (cached by the provider)."""


class GraphClient(Protocol):
    def bulk_upload(self, payload: dict[str, Any]) -> BulkUploadResult:
        """Send one SCIM BulkRequest (1..50 Operations) to the inbound provisioning job."""

    def provisioning_logs(
        self,
        job_id: str | None = None,
        external_id: str | None = None,
        status: str | None = None,
        top: int = 100,
    ) -> Iterator[ProvisioningLogEntry]:
        """Provisioning log entries, newest first, following paging. None means "no filter"."""

    def provisioning_schema(self) -> dict[str, Any]:
        """The inbound provisioning job's synchronizationSchema (GET .../synchronization/jobs/{jobId}/schema)."""

    def get_user(self, user_id: str) -> GraphUser: ...

    def find_user_by_employee_id(self, employee_id: str) -> GraphUser | None: ...

    def get_employee_id(self, user_id: str) -> str | None:
        """`GET /users/{id}?$select=employeeId`: the directory's HR key for a user (None when unset)."""

    def enable_user(self, user_id: str) -> None: ...

    def disable_user(self, user_id: str) -> None: ...

    def create_tap(self, user_id: str, lifetime_minutes: int, usable_once: bool) -> TemporaryAccessPass:
        """Create a TAP (replacing any existing one); the only call that returns its value."""

    def list_taps(self, user_id: str) -> list[TemporaryAccessPass]: ...

    def delete_tap(self, user_id: str, method_id: str) -> None: ...

    def revoke_sessions(self, user_id: str) -> None: ...

    def set_password(self, user_id: str, password: str) -> None: ...

    def send_mail(self, sender: str, message: MailMessage) -> None: ...

    # -- issue 16: credential watching, pre-TAP checks, privileged people ------------------------

    def authentication_methods(self, user_id: str) -> list[AuthenticationMethod]:
        """GET /users/{id}/authentication/methods (UserAuthenticationMethod.Read.All)."""

    def member_of(self, user_id: str) -> list[DirectoryObject]:
        """GET /users/{id}/transitiveMemberOf: groups and directory roles (User.Read.All)."""

    def tap_policy(self) -> TapPolicy:
        """GET /policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass."""
