"""Complete extracts: people we know who are missing from a file that lists every worker.

Many HR exports drop leavers instead of marking them. A file declared complete (`--complete`, or
`complete = true` in the mapping profile) makes absence meaningful: every active person we know who is
not in it is reported with their last known state. They are switched off only when the profile says
`absent_workers = "switch_off"`, and then as leavers, under the mass-change guard like any other.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, timedelta

from activation.provisioning.planner import KnownPerson
from activation.provisioning.records import ACTIVE, CANONICAL_FIELDS, TERMINATED, HrRecord

REPORT = "report"
SWITCH_OFF = "switch_off"
ABSENT_POLICIES: tuple[str, ...] = (REPORT, SWITCH_OFF)


def absent_people(known: Mapping[str, KnownPerson], present: Collection[str]) -> list[KnownPerson]:
    """Known active people whose employee id does not appear anywhere in the file (valid or not)."""
    return sorted((person for employee_id, person in known.items()
                   if person.hr_status == ACTIVE and employee_id not in present),
                  key=lambda person: person.employee_id)


def last_record(person: KnownPerson, today: date, *, leaving: bool) -> HrRecord:
    """Their last known record; `leaving`: terminated yesterday, what a leaver's upload carries."""
    values: dict[str, object] = {name: person.fields.get(name, "") for name in CANONICAL_FIELDS}
    values["start_date"] = date.fromisoformat(str(values["start_date"]))
    end = str(values["end_date"])
    values["end_date"] = today - timedelta(days=1) if leaving else (date.fromisoformat(end) if end else None)
    values["hr_status"] = TERMINATED if leaving else ACTIVE
    return HrRecord(**values, source_ref="(absent)")  # type: ignore[arg-type]


def last_known_state(person: KnownPerson) -> str:
    """One line for the review: what we last knew (no personal values)."""
    fields = person.fields
    parts = [f"last known: {fields.get('job_title') or 'no title'}, {fields.get('department') or 'no department'}",
             f"started {fields.get('start_date') or '?'}",
             "activated" if person.activated else "not activated",
             "has an Entra ID account" if person.has_account else "no Entra ID account seen"]
    return "; ".join(parts)
