"""Our custom SCIM extension (`dayone:1.0:User`) and the Entra ID attributes each one should be mapped to.

The provisioning app drops what its schema does not map. docs/operations.md ("Custom attributes") walks
an administrator through adding these; the demo adds them to the emulator's app the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from activation.provisioning.mapping import MappingProfile
from activation.provisioning.schema_check import sent_attributes

# attribute in our extension -> suggested Entra ID target (built-in where one exists, else a
# directory extension attribute of the provisioning app, shown here with its short name)
SUGGESTED_TARGETS: Mapping[str, str] = MappingProxyType({
    "hireDate": "employeeHireDate",
    "leaveDate": "employeeLeaveDateTime",
    "personalEmail": "extension_<appId>_personalEmail",
    "mobile": "extension_<appId>_personalMobile",
    "timeZone": "extension_<appId>_timeZone",
    "usageLocation": "usageLocation",
    "workerType": "employeeType",
})


def suggested_mappings(mapping: MappingProfile, unmapped: set[str], *, app_id: str = "dayone") -> list[dict[str, str]]:
    """{"source", "target"} for each unmapped attribute of `mapping` (extension attributes under `app_id`)."""
    pairs = []
    for source in sent_attributes(mapping):
        if source not in unmapped:
            continue
        short = source.rsplit(":", 1)[-1]
        target = SUGGESTED_TARGETS.get(short, f"extension_<appId>_{short}")
        pairs.append({"source": source, "target": target.replace("<appId>", app_id)})
    return pairs
