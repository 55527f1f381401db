"""Plan joiners, movers, leavers and rehires against what we already know, with explicit `active` flags.

`active` follows DESIGN section 5: a joiner is false until the portal has activated them, an activated
person stays true on every re-sync, and a leaver is always false. Absence from a file never makes a
leaver: only `hr_status = terminated` or an end date in the past does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from activation.provisioning.collector import collector_paused
from activation.provisioning.mapping import MappingProfile
from activation.provisioning.masking import mask_value
from activation.provisioning.records import ACTIVE, CANONICAL_FIELDS, HrRecord, canonical_fields
from activation.provisioning.scim import build_operation, hash_context, payload_hash

JOINER = "joiner"
MOVER = "mover"
LEAVER = "leaver"
REHIRE = "rehire"
RESYNC = "resync"  # nothing in HR changed, but what we send did (e.g. now activated) or --full
UNCHANGED = "unchanged"
SKIPPED = "skipped"
HELD_BACK = "held_back"  # long-started, no account in Entra ID: not created (past_starters.py)
ABSENT = "absent"  # known, active, missing from a complete file: reported for review (absent.py)


@dataclass(frozen=True, slots=True)
class KnownPerson:
    employee_id: str
    payload_hash: str | None
    activated: bool  # the portal has enabled their account
    hr_status: str
    fields: Mapping[str, str] = field(default_factory=dict)  # canonical fields as last stored
    has_account: bool = False
    manager_pending: bool = False  # last sent while their manager had no account in Entra ID


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    old: str  # masked when personal
    new: str  # masked when personal


@dataclass(frozen=True, slots=True)
class PlannedChange:
    record: HrRecord
    action: str
    active: bool
    payload_hash: str
    diff: tuple[FieldChange, ...] = ()
    note: str = ""


class PlannedOperation(NamedTuple):
    employee_id: str
    action: str
    operation: dict[str, Any]
    payload_hash: str


@dataclass(frozen=True, slots=True)
class Plan:
    joiners: list[PlannedChange]
    movers: list[PlannedChange]
    leavers: list[PlannedChange]
    rehires: list[PlannedChange]
    resyncs: list[PlannedChange]
    unchanged: list[PlannedChange]
    skipped: list[PlannedChange]  # terminated and never provisioned: nothing to send
    mapping: MappingProfile
    upn_domain: str
    held_back: list[PlannedChange] = field(default_factory=list)  # waiting for the operator's decision
    held_back_decision: str = ""
    adoption_note: str = ""  # set when existing accounts could not be looked up (a dry run without settings)
    absent: list[PlannedChange] = field(default_factory=list)  # complete file: known people missing from it

    def to_upload(self) -> Iterator[PlannedChange]:
        yield from self.joiners
        yield from self.rehires
        yield from self.movers
        yield from self.resyncs
        yield from self.leavers

    @property
    def upload_count(self) -> int:
        return len(self.joiners) + len(self.rehires) + len(self.movers) + len(self.resyncs) + len(self.leavers)

    def counts(self) -> dict[str, int]:
        return {
            JOINER: len(self.joiners), MOVER: len(self.movers), LEAVER: len(self.leavers),
            REHIRE: len(self.rehires), RESYNC: len(self.resyncs), UNCHANGED: len(self.unchanged),
            SKIPPED: len(self.skipped), HELD_BACK: len(self.held_back), ABSENT: len(self.absent),
        }

    def operations(self) -> Iterator[PlannedOperation]:
        """SCIM operations to upload, built lazily; bulkId is the employee id (unique in a plan)."""
        for change in self.to_upload():
            record = change.record
            operation = build_operation(
                record, active=change.active, bulk_id=record.employee_id, mapping=self.mapping,
                upn_domain=self.upn_domain,
            )
            yield PlannedOperation(record.employee_id, change.action, operation, change.payload_hash)


@dataclass(frozen=True, slots=True)
class MassChangeVerdict:
    blocked: bool
    reason: str
    switching_off: int = 0
    known_active: int = 0


def plan(
    records: Iterable[HrRecord],
    known: Mapping[str, KnownPerson],
    *,
    today: date,
    upn_domain: str,
    mapping: MappingProfile,
    full: bool = False,
    held_back: Mapping[str, str] | None = None,
    held_back_decision: str = "",
) -> Plan:
    """Sort records into buckets; `held_back` (employee id -> note) keeps unknown people out of the upload."""
    context = hash_context(mapping, upn_domain)
    hold = held_back or {}
    buckets: dict[str, list[PlannedChange]] = {
        name: [] for name in (JOINER, MOVER, LEAVER, REHIRE, RESYNC, UNCHANGED, SKIPPED, HELD_BACK)
    }
    with collector_paused():
        for record in records:
            person = known.get(record.employee_id)
            leaving = record.is_leaving(today)
            if person is None:
                note = hold.get(record.employee_id)
                if note is not None and not leaving:
                    buckets[HELD_BACK].append(PlannedChange(record, HELD_BACK, False, "", note=note))
                elif leaving:
                    buckets[SKIPPED].append(PlannedChange(record, SKIPPED, False, "", note=(
                        "terminated (or past end date) and never provisioned; nothing to send")))
                else:
                    digest = payload_hash(record, False, context=context)
                    buckets[JOINER].append(PlannedChange(record, JOINER, False, digest))
                continue
            was_active = person.hr_status == ACTIVE
            if leaving:
                action, active = (LEAVER if was_active else MOVER), False
            elif not was_active:
                action, active = REHIRE, False  # a rehire activates again through the portal
            else:
                action, active = MOVER, person.activated
            digest = payload_hash(record, active, context=context)
            if action == MOVER and digest == person.payload_hash and not full:
                manager = record.manager_employee_id
                boss = known.get(manager) if person.manager_pending and manager else None
                if boss is not None and boss.has_account:  # Entra resolves a manager only when the record is sent
                    buckets[RESYNC].append(PlannedChange(record, RESYNC, active, digest, note=(
                        f"manager {manager} now has an account in Entra ID; sent again so the manager link resolves")))
                else:
                    buckets[UNCHANGED].append(PlannedChange(record, UNCHANGED, active, digest))
                continue
            diff = field_diff(person.fields, record)
            if action == MOVER and not diff:
                action = RESYNC
            buckets[action].append(PlannedChange(record, action, active, digest, diff))
    return Plan(
        joiners=buckets[JOINER], movers=buckets[MOVER], leavers=buckets[LEAVER], rehires=buckets[REHIRE],
        resyncs=buckets[RESYNC], unchanged=buckets[UNCHANGED], skipped=buckets[SKIPPED],
        mapping=mapping, upn_domain=upn_domain, held_back=buckets[HELD_BACK],
        held_back_decision=held_back_decision if buckets[HELD_BACK] else "",
    )


def manager_pending_ids(changes: Iterable[PlannedChange], known: Mapping[str, KnownPerson]) -> set[str]:
    """People going up whose manager has no account in Entra ID yet: their manager link cannot resolve now."""
    pending = set()
    for change in changes:
        manager = change.record.manager_employee_id
        boss = known.get(manager) if manager else None
        if manager and (boss is None or not boss.has_account):
            pending.add(change.record.employee_id)
    return pending


def field_diff(stored: Mapping[str, str], record: HrRecord) -> tuple[FieldChange, ...]:
    """Field-level changes from the stored canonical fields to `record`, personal values masked."""
    current = canonical_fields(record)
    changes = []
    for name in CANONICAL_FIELDS:
        old, new = stored.get(name, ""), current[name]
        if old != new:
            changes.append(FieldChange(name, mask_value(name, old), mask_value(name, new)))
    return tuple(changes)


def check_mass_change(
    plan: Plan, known: Mapping[str, KnownPerson], *, max_share: float = 0.10, max_count: int = 50
) -> MassChangeVerdict:
    """Stop a run that would switch off more known active people than the limits allow."""
    known_active = sum(1 for person in known.values() if person.hr_status == ACTIVE)
    switching_off = sum(
        1 for change in plan.leavers
        if (person := known.get(change.record.employee_id)) is not None and person.hr_status == ACTIVE
    )
    limits = f"limits: more than {max_share:.0%} of known active people or more than {max_count}"
    share_limit = max_share * known_active
    blocked = switching_off > max_count or switching_off > share_limit
    if blocked:
        reason = (f"this run would switch off {switching_off} of {known_active} known active people "
                  f"({limits}); check the file, or re-run with --force if this is intended")
    else:
        reason = f"{switching_off} of {known_active} known active people would be switched off ({limits})"
    return MassChangeVerdict(blocked, reason, switching_off, known_active)
