"""Graph JSON -> typed models. Tolerant of missing fields, strict about types we hand out."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from activation.graph.models import GraphUser, ProvisioningLogEntry, TemporaryAccessPass

USER_SELECT = "id,userPrincipalName,displayName,employeeId,accountEnabled,onPremisesSyncEnabled"


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def parse_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def user_from_json(data: Mapping[str, Any]) -> GraphUser:
    return GraphUser(
        id=str(data["id"]),
        user_principal_name=_str(data.get("userPrincipalName")),
        display_name=_str(data.get("displayName")),
        employee_id=_str(data.get("employeeId")),
        account_enabled=_bool(data.get("accountEnabled")),
        on_premises_sync_enabled=_bool(data.get("onPremisesSyncEnabled")),
    )


def tap_from_json(data: Mapping[str, Any], *, keep_value: bool) -> TemporaryAccessPass:
    lifetime = data.get("lifetimeInMinutes")
    return TemporaryAccessPass(
        id=str(data["id"]),
        value=_str(data.get("temporaryAccessPass")) if keep_value else None,
        created_at=parse_datetime(data.get("createdDateTime")),
        start_at=parse_datetime(data.get("startDateTime")),
        lifetime_minutes=int(lifetime) if isinstance(lifetime, int | float) else 0,
        is_usable_once=bool(data.get("isUsableOnce")),
        is_usable=_bool(data.get("isUsable")),
        usability_reason=_str(data.get("methodUsabilityReason")),
    )


def _target_upn(item: Mapping[str, Any]) -> str | None:
    """The UPN sits in different places depending on the log's shape; look in the likely ones."""
    target = _map(item.get("targetIdentity"))
    for candidate in (target.get("userPrincipalName"), _map(target.get("details")).get("userPrincipalName")):
        if isinstance(candidate, str) and candidate:
            return candidate
    for prop in item.get("modifiedProperties") or []:
        if isinstance(prop, Mapping) and str(prop.get("displayName", "")).lower() == "userprincipalname":
            value = _str(prop.get("newValue"))
            if value:
                return value.strip('"')
    return None


def log_entry_from_json(item: Mapping[str, Any]) -> ProvisioningLogEntry:
    status_info = _map(item.get("provisioningStatusInfo"))
    error_info = _map(status_info.get("errorInformation"))
    source = _map(item.get("sourceIdentity"))
    target = _map(item.get("targetIdentity"))
    return ProvisioningLogEntry(
        id=str(item.get("id", "")),
        activity_at=parse_datetime(item.get("activityDateTime")),
        job_id=_str(item.get("jobId")),
        change_id=_str(item.get("changeId")),
        action=_str(item.get("provisioningAction")),
        status=_str(status_info.get("status")),
        source_id=_str(source.get("id")),
        source_display_name=_str(source.get("displayName")),
        target_id=_str(target.get("id")),
        target_upn=_target_upn(item),
        error_code=_str(error_info.get("errorCode")),
        error_reason=_str(error_info.get("reason")),
    )
