"""Typed Microsoft Graph client: protocol, real HTTPS adapter, in-memory fake, factory."""

from activation.graph.errors import (
    AmbiguousUser,
    BadRequest,
    Forbidden,
    GraphError,
    GraphTransientError,
    GraphUnavailable,
    InvalidBulkRequest,
    NotFound,
    OnPremisesMastered,
    PasswordComplexity,
    ServiceUnavailable,
    TapPolicyViolation,
    Throttled,
    TokenError,
    Unauthorized,
)
from activation.graph.models import (
    BulkUploadResult,
    GraphUser,
    MailMessage,
    ProvisioningLogEntry,
    TemporaryAccessPass,
)
from activation.graph.protocol import GraphClient, TokenProvider
from activation.graph.retry import RetryPolicy

__all__ = [
    "AmbiguousUser",
    "BadRequest",
    "BulkUploadResult",
    "Forbidden",
    "GraphClient",
    "GraphError",
    "GraphTransientError",
    "GraphUnavailable",
    "GraphUser",
    "InvalidBulkRequest",
    "MailMessage",
    "NotFound",
    "OnPremisesMastered",
    "PasswordComplexity",
    "ProvisioningLogEntry",
    "RetryPolicy",
    "ServiceUnavailable",
    "TapPolicyViolation",
    "TemporaryAccessPass",
    "Throttled",
    "TokenError",
    "TokenProvider",
    "Unauthorized",
]
