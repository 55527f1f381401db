"""SCIM payloads for Microsoft's API-driven inbound provisioning (DESIGN section 5).

Every operation carries an explicit `active`: a record sent without it disables the account.
Personal data (personal email, mobile) goes under our custom extension, never into core `emails`.
"""

from __future__ import annotations

import hashlib
import operator
import re
import unicodedata
from collections.abc import Sequence
from datetime import date
from types import MappingProxyType
from typing import Any

from activation.errors import ActivationError, ConfigurationError
from activation.provisioning.mapping import MappingProfile
from activation.provisioning.records import BASE_SOURCE_FIELDS, EXTRA_FIELDS, HrRecord

CORE_USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
BULK_REQUEST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
MAX_OPERATIONS = 50
HASH_VERSION = "v1"
_FOLDS = MappingProxyType(str.maketrans({"ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "đ": "d", "ł": "l", "þ": "th",
                        "ð": "d", "ı": "i", "ħ": "h", "ŧ": "t", "ŀ": "l"}))
_NOT_UPN = re.compile(r"[^a-z0-9.-]+")
_DOTS = re.compile(r"\.{2,}")
_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


_BASE_FIELDS = (*BASE_SOURCE_FIELDS[:4], "display_name", *BASE_SOURCE_FIELDS[4:])
_HASHED_FIELDS = operator.attrgetter(*_BASE_FIELDS)
_EXTRA = operator.attrgetter(*EXTRA_FIELDS)
_START = _BASE_FIELDS.index("start_date")
_END = _BASE_FIELDS.index("end_date")


class BulkRequestError(ActivationError):
    """A bulk request would break Microsoft's contract (empty, over 50 operations, duplicate bulkId)."""


def build_operation(
    record: HrRecord, *, active: bool, bulk_id: str, mapping: MappingProfile, upn_domain: str
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schemas": [CORE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "externalId": record.employee_id,
        "userName": user_name(record, upn_domain),
        "name": {"givenName": record.given_name, "familyName": record.family_name},
        "displayName": record.display_name,
        "active": active,
    }
    # Every mapped attribute goes up, an empty one as JSON null: that is how Entra clears a value HR
    # removed (with "Flow null values" on in the app; docs/operations.md). Omitting it keeps the old one.
    addresses: dict[str, dict[str, Any]] = {}
    phones: dict[str, str | None] = {}
    for attribute, field in mapping.scim_core:
        value = _scim_value(getattr(record, field)) or None
        head, _, rest = attribute.partition(".")
        if head == "addresses":
            kind, _, part = rest.partition(".")
            addresses.setdefault(kind, {"type": kind})[part] = value
        elif head == "phoneNumbers":
            phones[rest] = value
        else:
            data[attribute] = value
    if addresses:
        data["addresses"] = list(addresses.values())
    if phones:
        data["phoneNumbers"] = [{"type": kind, "value": value} for kind, value in phones.items()]
    enterprise: dict[str, Any] = {}
    for attribute, field in mapping.scim_enterprise:
        value = _scim_value(getattr(record, field)) or None
        enterprise[attribute] = {"value": value} if attribute == "manager" else value
    if enterprise:
        data[ENTERPRISE_USER_SCHEMA] = enterprise
    custom: dict[str, Any] = {}
    for attribute, field in mapping.scim_custom:
        custom[attribute] = _scim_value(getattr(record, field)) or None
    if custom:
        data["schemas"].append(mapping.custom_extension)
        data[mapping.custom_extension] = custom
    return {"method": "POST", "bulkId": bulk_id, "path": "/Users", "data": data}


def build_bulk_request(operations: Sequence[dict[str, Any]]) -> dict[str, Any]:
    if not operations:
        raise BulkRequestError("a bulk request needs at least one operation")
    if len(operations) > MAX_OPERATIONS:
        raise BulkRequestError(
            f"a bulk request holds at most {MAX_OPERATIONS} operations, got {len(operations)}; split it"
        )
    bulk_ids = [operation["bulkId"] for operation in operations]
    if len(set(bulk_ids)) != len(bulk_ids):
        raise BulkRequestError("bulkId values must be unique within one bulk request")
    return {"schemas": [BULK_REQUEST_SCHEMA], "Operations": list(operations)}


def payload_hash(record: HrRecord, active: bool, *, context: str = "") -> str:
    """Stable hash of what goes up for this person; `context` covers mapping profile and UPN domain."""
    values = list(_HASHED_FIELDS(record))
    values[_START] = values[_START].isoformat()
    end = values[_END]
    values[_END] = end.isoformat() if end is not None else ""
    extra = _EXTRA(record)
    if any(extra):  # fields added later join the hash only when used: existing hashes stay valid
        values.extend(f"{name}={value}" for name, value in zip(EXTRA_FIELDS, extra, strict=True))
    text = "\x1f".join((HASH_VERSION, context, "1" if active else "0", *values))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hash_context(mapping: MappingProfile, upn_domain: str) -> str:
    return f"{mapping.fingerprint}|{mapping.custom_extension}|{upn_domain.lower()}"


def user_name(record: HrRecord, upn_domain: str) -> str:
    """HR's sign-in name when the profile maps one (the domain added when it has none), else
    `given.family@domain`, ASCII-folded and lower-case, only [a-z0-9.-] before the @."""
    domain = upn_domain.strip().lower()
    if not _DOMAIN.fullmatch(domain):
        raise ConfigurationError(f"UPN domain {upn_domain!r} is not a DNS domain like contoso.com; fix it")
    if record.user_name:
        return record.user_name if "@" in record.user_name else f"{record.user_name}@{domain}"
    given, family = ascii_fold(record.given_name), ascii_fold(record.family_name)
    local = f"{given}.{family}" if given and family else ascii_fold(record.employee_id)
    local = _DOTS.sub(".", local).strip(".-")[:64].rstrip(".-")
    return f"{local}@{domain}"


def ascii_fold(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value.lower().translate(_FOLDS))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _DOTS.sub(".", _NOT_UPN.sub("", plain)).strip(".-")


def _scim_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
