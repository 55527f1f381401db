"""Typed results of Graph calls; the client never hands raw JSON to its callers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class GraphUser:
    id: str
    user_principal_name: str | None
    display_name: str | None
    employee_id: str | None
    account_enabled: bool | None
    on_premises_sync_enabled: bool | None


@dataclass(frozen=True)
class TemporaryAccessPass:
    """A TAP method. `value` is only known right after creation and never appears in repr()."""

    id: str
    value: str | None = field(repr=False)
    created_at: datetime | None
    start_at: datetime | None
    lifetime_minutes: int
    is_usable_once: bool
    is_usable: bool | None
    usability_reason: str | None = None  # Graph's methodUsabilityReason: "OneTimeUsed" once signed in with


@dataclass(frozen=True)
class ProvisioningLogEntry:
    id: str
    activity_at: datetime | None
    job_id: str | None
    change_id: str | None
    action: str | None
    status: str | None
    source_id: str | None
    source_display_name: str | None
    target_id: str | None
    target_upn: str | None
    error_code: str | None
    error_reason: str | None


@dataclass(frozen=True)
class BulkUploadResult:
    """Graph answers 202 with a Location header pointing at the job's provisioning logs."""

    location: str
    request_id: str | None


@dataclass(frozen=True)
class MailMessage:
    """One message for Graph sendMail. Graph takes one body: HTML when given, else the text."""

    to: list[str]
    subject: str
    html: str | None
    text: str
