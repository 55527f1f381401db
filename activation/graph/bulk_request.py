"""Rules of the SCIM BulkRequest accepted by the inbound provisioning bulkUpload endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from activation.graph.errors import BadRequest, InvalidBulkRequest

BULK_REQUEST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
CORE_USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
MAX_OPERATIONS = 50


def check_size(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Refuse locally what Graph would refuse anyway: no Operations list, or more than 50."""
    operations = payload.get("Operations")
    if not isinstance(operations, list) or not operations:
        raise InvalidBulkRequest("BulkRequest needs a non-empty 'Operations' list")
    if len(operations) > MAX_OPERATIONS:
        raise InvalidBulkRequest(
            f"BulkRequest has {len(operations)} operations; the limit is {MAX_OPERATIONS} per request"
        )
    return operations


def validate(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Full check, as the service does it; schema problems are a 400 (BadRequest)."""
    operations = check_size(payload)
    if BULK_REQUEST_SCHEMA not in (payload.get("schemas") or []):
        raise BadRequest(f"BulkRequest must list schema {BULK_REQUEST_SCHEMA}", status=400, code="BadRequest")
    seen: set[str] = set()
    for index, op in enumerate(operations):
        where = f"Operations[{index}]"
        if not isinstance(op, Mapping):
            raise BadRequest(f"{where} is not an object", status=400, code="BadRequest")
        if op.get("method") != "POST" or op.get("path") != "/Users":
            raise BadRequest(f"{where} must be POST /Users", status=400, code="BadRequest")
        bulk_id = op.get("bulkId")
        if not isinstance(bulk_id, str) or not bulk_id:
            raise BadRequest(f"{where} has no bulkId", status=400, code="BadRequest")
        if bulk_id in seen:
            raise BadRequest(f"{where} repeats bulkId {bulk_id!r}", status=400, code="BadRequest")
        seen.add(bulk_id)
        data = op.get("data")
        if not isinstance(data, Mapping):
            raise BadRequest(f"{where} has no data", status=400, code="BadRequest")
        if CORE_USER_SCHEMA not in (data.get("schemas") or []):
            raise BadRequest(
                f"{where}.data must list schema {CORE_USER_SCHEMA}", status=400, code="BadRequest"
            )
        for key in data:
            if key.startswith("urn:") and key not in data["schemas"]:
                raise BadRequest(f"{where}.data uses {key} without listing it in schemas", status=400)
        if not isinstance(data.get("externalId"), str) or not data["externalId"]:
            raise BadRequest(f"{where}.data has no externalId", status=400, code="BadRequest")
    return operations
