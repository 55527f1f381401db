"""Which attributes we send does the provisioning app actually map? (the job's synchronization schema)

Entra provisions only the API attributes its attribute mappings use; the rest of a bulk request is
ignored without an error. `activation check` reads `GET .../synchronization/jobs/{jobId}/schema`, collects
every source attribute the mappings use, and names each attribute our mapping profile sends that none uses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from activation.provisioning.mapping import MappingProfile
from activation.provisioning.scim import ENTERPRISE_USER_SCHEMA

# Always in our payload (scim.build_operation), whatever the profile says.
_ALWAYS = ("externalId", "userName", "active", "displayName", "name.givenName", "name.familyName")
_BRACKETED = re.compile(r"\[((?:[^\[\]]|\[[^\[\]]*\])+)\]")  # [name], also [addresses[type eq "work"].country]


def sent_attributes(mapping: MappingProfile) -> list[str]:
    """Source attribute names (as the app's schema spells them) of everything our payload carries."""
    names = list(_ALWAYS)
    for attribute, _ in mapping.scim_core:
        head, _, rest = attribute.partition(".")
        if head == "addresses":
            kind, _, part = rest.partition(".")
            names.append(f'addresses[type eq "{kind}"].{part}')
        elif head == "phoneNumbers":
            names.append(f'phoneNumbers[type eq "{rest}"].value')
        else:
            names.append(attribute)
    names += [f"{ENTERPRISE_USER_SCHEMA}:{attribute}" for attribute, _ in mapping.scim_enterprise]
    names += [f"{mapping.custom_extension}:{attribute}" for attribute, _ in mapping.scim_custom]
    return names


def mapped_sources(schema: Mapping[str, Any]) -> set[str]:
    """Every source attribute the schema's attribute mappings read, through functions too (lower-case)."""
    found: set[str] = set()
    for rule in schema.get("synchronizationRules") or []:
        for object_mapping in rule.get("objectMappings") or []:
            if object_mapping.get("enabled") is False:
                continue
            for attribute_mapping in object_mapping.get("attributeMappings") or []:
                found.update(name.lower() for name in _source_names(attribute_mapping.get("source") or {}))
    return found


def unmapped_attributes(mapping: MappingProfile, schema: Mapping[str, Any]) -> list[str]:
    """Attributes we send that the provisioning app drops, in payload order."""
    mapped = mapped_sources(schema)
    return [name for name in sent_attributes(mapping) if name.lower() not in mapped]


def _source_names(source: Mapping[str, Any]) -> Iterator[str]:
    if source.get("type") == "Attribute" and source.get("name"):
        yield str(source["name"])
    for parameter in source.get("parameters") or []:
        value = parameter.get("value") if isinstance(parameter, Mapping) else None
        if isinstance(value, Mapping):
            yield from _source_names(value)
    expression = source.get("expression")
    if isinstance(expression, str):
        yield from _BRACKETED.findall(expression)
