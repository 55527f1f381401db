"""Graph and token errors. Messages never carry tokens, TAP values, passwords or client secrets."""

from __future__ import annotations

from activation.errors import ActivationError, NotFoundError


class GraphError(ActivationError):
    """A Graph call failed. Keeps what the service desk and the logs need to trace it."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        client_request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.client_request_id = client_request_id

    def __str__(self) -> str:
        head = f"Graph {self.status}" if self.status is not None else "Graph"
        if self.code:
            head += f" {self.code}"
        ids = []
        if self.request_id:
            ids.append(f"request-id={self.request_id}")
        if self.client_request_id:
            ids.append(f"client-request-id={self.client_request_id}")
        tail = f" ({', '.join(ids)})" if ids else ""
        return f"{head}: {self.message}{tail}"


class GraphTransientError(GraphError):
    """Worth trying again later: throttling, service outage, network trouble."""


class Throttled(GraphTransientError):
    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = 429,
        code: str | None = None,
        request_id: str | None = None,
        client_request_id: str | None = None,
    ) -> None:
        super().__init__(
            message, status=status, code=code, request_id=request_id, client_request_id=client_request_id
        )
        self.retry_after = retry_after


class ServiceUnavailable(GraphTransientError):
    """503 or 504 from Graph, still failing after the retry budget."""


class GraphUnavailable(GraphTransientError):
    """No HTTP answer at all (connection error, timeout) after the retry budget."""


class NotFound(GraphError, NotFoundError):
    pass


class Forbidden(GraphError):
    """403: usually a missing application permission or admin consent."""


class Unauthorized(GraphError):
    """401: token missing, expired or for the wrong audience."""


class BadRequest(GraphError):
    pass


class OnPremisesMastered(BadRequest):
    """The user is synced from on-premises AD; change it there, not through Graph."""


class TapPolicyViolation(BadRequest):
    """The Temporary Access Pass request breaks the tenant's TAP policy (e.g. lifetime range)."""


class PasswordComplexity(BadRequest):
    """The password breaks the complexity rule (8-256 chars, 3 of 4 character classes)."""


class InvalidBulkRequest(BadRequest, ValueError):
    """A SCIM BulkRequest refused before (or instead of) sending: size or schema."""


class AmbiguousUser(GraphError):
    """More than one directory user carries the same employeeId."""


class TokenError(ActivationError):
    """MSAL could not get an app-only token. str() names the cause and the setting to fix."""

    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        error_description: str | None = None,
        error_codes: list[int] | None = None,
        correlation_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error = error
        self.error_description = error_description
        self.error_codes = list(error_codes or [])
        self.correlation_id = correlation_id
