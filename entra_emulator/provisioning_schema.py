"""The API-driven provisioning app's synchronization schema: which SCIM attributes flow to which Entra attributes.

Like Entra, only attributes the app's attribute mappings use arrive in the directory; everything else in
a bulk request is ignored. The default below follows the mappings Microsoft's "API-driven provisioning to
Microsoft Entra ID" app starts with (no custom extension); more can be added through the control API
(`PUT /_emulator/provisioning-schema`), as an administrator adds them in the portal. Served read-only as
`GET .../synchronization/jobs/{jobId}/schema` (a synchronizationSchema resource).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

# (source attribute name in the API directory, target Entra ID user attribute)
DEFAULT_MAPPINGS: tuple[tuple[str, str], ...] = (
    ("externalId", "employeeId"),
    ("active", "accountEnabled"),
    ("userName", "userPrincipalName"),
    ("displayName", "displayName"),
    ("name.givenName", "givenName"),
    ("name.familyName", "surname"),
    ("nickName", "mailNickname"),
    ("title", "jobTitle"),
    ("userType", "employeeType"),
    ("preferredLanguage", "preferredLanguage"),
    ('addresses[type eq "work"].streetAddress', "streetAddress"),
    ('addresses[type eq "work"].locality', "city"),
    ('addresses[type eq "work"].region', "state"),
    ('addresses[type eq "work"].postalCode', "postalCode"),
    ('addresses[type eq "work"].country', "country"),
    ('addresses[type eq "work"].country', "usageLocation"),
    ('phoneNumbers[type eq "work"].value', "businessPhones"),
    ('phoneNumbers[type eq "mobile"].value', "mobilePhone"),
    (f"{ENTERPRISE_USER}:department", "department"),
    (f"{ENTERPRISE_USER}:organization", "companyName"),
    (f"{ENTERPRISE_USER}:costCenter", "employeeOrgData.costCenter"),
    (f"{ENTERPRISE_USER}:division", "employeeOrgData.division"),
    (f"{ENTERPRISE_USER}:manager", "manager"),
)
# Read by the processor itself (matching, enabling, the UPN), never "dropped" even when unmapped.
STRUCTURAL = frozenset({"externalId", "active", "userName", "schemas"})
_MULTI = re.compile(r'^(addresses|phoneNumbers|emails)\[type eq "([A-Za-z]+)"\]\.([A-Za-z]+)$')
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9.]*$|^urn:[A-Za-z0-9:._-]+:[A-Za-z][A-Za-z0-9]*$|" + _MULTI.pattern)


def check_mappings(items: object) -> list[tuple[str, str]]:
    """[{"source": ..., "target": ...}, ...] from the control API, validated; ValueError names the problem."""
    if not isinstance(items, list):
        raise ValueError("mappings must be a list of {\"source\": ..., \"target\": ...}")
    pairs = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != {"source", "target"}:
            raise ValueError(f"mappings[{index}] must be an object with exactly source and target")
        source, target = item["source"], item["target"]
        if not isinstance(source, str) or not _NAME.match(source) or not isinstance(target, str) or not target:
            raise ValueError(f"mappings[{index}]: source {source!r} is not a SCIM attribute name")
        pairs.append((source, target))
    return pairs


def effective_mappings(extra: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [*DEFAULT_MAPPINGS, *extra]


def schema_document(job_id: str, mappings: Iterable[tuple[str, str]]) -> dict:
    """A synchronizationSchema: one rule, one object mapping per source object, Attribute sources."""
    by_object: dict[str, list[dict]] = {}
    for source, target in mappings:
        by_object.setdefault(_source_object(source), []).append({
            "defaultValue": "", "exportMissingReferences": False, "flowBehavior": "FlowWhenChanged",
            "flowType": "Always", "matchingPriority": 1 if source == "externalId" else 0,
            "targetAttributeName": target,
            "source": {"expression": f"[{source}]", "name": source, "type": "Attribute", "parameters": []},
        })
    object_mappings = [{
        "enabled": True, "flowTypes": "Add, Update, Delete", "name": f"Provision API {name}",
        "sourceObjectName": name, "targetObjectName": "User", "scope": None, "metadata": [],
        "attributeMappings": attribute_mappings,
    } for name, attribute_mappings in by_object.items()]
    return {
        "id": job_id.split(".")[0],
        "version": "Date:2026-01-01T00:00:00Z~###~Version:1",
        "synchronizationRules": [{
            "id": "API2AAD", "name": "API2AAD", "editable": True, "priority": 1,
            "sourceDirectoryName": "API", "targetDirectoryName": "Azure Active Directory",
            "objectMappings": object_mappings, "metadata": [],
        }],
        "directories": [{"id": "API", "name": "API", "objects": [
            {"name": name, "attributes": [{"name": m["source"]["name"], "type": "String"} for m in maps]}
            for name, maps in by_object.items()]}],
    }


def _source_object(source: str) -> str:
    if source.startswith("urn:"):
        return source.rsplit(":", 1)[0]
    return CORE_USER


def payload_attributes(data: dict) -> Iterator[tuple[str, object]]:
    """(source attribute name, value) for every attribute a SCIM user carries; None/"" stay as they are."""
    for key, value in data.items():
        if key in ("schemas",):
            continue
        if key.startswith("urn:"):
            if isinstance(value, dict):
                for attribute, inner in value.items():
                    if attribute == "manager" and isinstance(inner, dict):
                        inner = inner.get("value")
                    yield f"{key}:{attribute}", inner
            continue
        if key == "name" and isinstance(value, dict):
            for part, inner in value.items():
                yield f"name.{part}", inner
        elif key in ("addresses", "phoneNumbers", "emails") and isinstance(value, list):
            for element in value:
                if not isinstance(element, dict):
                    continue
                kind = element.get("type") or "work"
                for part, inner in element.items():
                    if part not in ("type", "primary"):
                        yield f'{key}[type eq "{kind}"].{part}', inner
        else:
            yield key, value
