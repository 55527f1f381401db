"""Validate a stream of HR rows into canonical records, rejections and warnings.

Nothing is silently dropped: every row either becomes a record or is rejected with its line (or
index), field, masked value and an actionable reason. Checks that need the whole file (duplicate
ids, shared emails, manager cycles, unknown managers) run at the end over compact dictionaries.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from activation.provisioning.collector import collector_paused
from activation.provisioning.mapping import MappingProfile
from activation.provisioning.masking import mask_value
from activation.provisioning.readers import SourceRow
from activation.provisioning.records import HrRecord
from activation.provisioning.row_checks import Problem, RowChecker

if TYPE_CHECKING:
    from activation.provisioning.planner import KnownPerson


@dataclass(frozen=True, slots=True)
class Rejection:
    source_ref: str
    employee_id: str
    field: str  # canonical field
    value_masked: str
    reason: str
    column: str = ""  # the file's column for that field, as the operator knows it

    @property
    def where_in_file(self) -> str:
        return self.column or self.field


@dataclass(frozen=True, slots=True)
class ValidationWarning:
    source_ref: str
    employee_id: str
    field: str
    reason: str
    column: str = ""

    @property
    def where_in_file(self) -> str:
        return self.column or self.field


@dataclass(frozen=True, slots=True)
class ValidationResult:
    records: list[HrRecord]
    rejections: list[Rejection]
    warnings: list[ValidationWarning]
    rows_read: int = 0
    duplicates_collapsed: int = 0
    rejected_rows: frozenset[str] = field(default_factory=frozenset)


def validate(
    rows: Iterable[SourceRow],
    *,
    mapping: MappingProfile,
    known_people: Mapping[str, KnownPerson] | None = None,
    today: date,
) -> ValidationResult:
    known = known_people if known_people is not None else {}
    checker = RowChecker(mapping, known_ids=known, today=today)
    columns = {rule.field: rule.column for rule in mapping.rules}
    rejections: list[Rejection] = []
    warnings: list[ValidationWarning] = []
    by_id: dict[str, HrRecord] = {}
    refs_by_id: dict[str, list[str]] = {}  # only for ids seen more than once
    conflicting: set[str] = set()
    rejected_refs_by_id: dict[str, list[str]] = {}
    rows_read = duplicates = 0

    with collector_paused():
        for row in rows:
            rows_read += 1
            outcome = checker.check(row)
            for note in outcome.notes:
                warnings.append(ValidationWarning(row.source_ref, outcome.employee_id, note.field, note.reason))
            record = outcome.record
            if record is None:
                rejections.extend(_reject(row.source_ref, outcome.employee_id, p) for p in outcome.problems)
                if outcome.employee_id:
                    rejected_refs_by_id.setdefault(outcome.employee_id, []).append(row.source_ref)
                continue
            first = by_id.get(record.employee_id)
            if first is None:
                by_id[record.employee_id] = record
                continue
            refs_by_id.setdefault(record.employee_id, [first.source_ref]).append(record.source_ref)
            if record == first:
                duplicates += 1
            else:
                conflicting.add(record.employee_id)

    for employee_id in conflicting:
        refs = refs_by_id[employee_id]
        every = _sorted_refs([*refs, *rejected_refs_by_id.get(employee_id, [])])
        reason = (f"employee_id {employee_id} appears on {_join(every)} with different values; keep one row "
                  "per person (no row is guessed to win)")
        rejections.extend(Rejection(ref, employee_id, "employee_id", employee_id, reason) for ref in refs)
        del by_id[employee_id]
    for employee_id, bad_refs in rejected_refs_by_id.items():
        record = by_id.pop(employee_id, None)
        if record is not None:
            refs = refs_by_id.get(employee_id, [record.source_ref])
            reason = (f"employee_id {employee_id} also appears on {_join(_sorted_refs(bad_refs))}, which "
                      f"{'was' if len(bad_refs) == 1 else 'were'} rejected; fix that row or remove the duplicate")
            rejections.extend(Rejection(ref, employee_id, "employee_id", employee_id, reason) for ref in refs)

    _reject_shared_emails(by_id, known, rejections)
    _reject_manager_cycles(by_id, known, rejections)
    records = list(by_id.values())
    for record in records:
        manager = record.manager_employee_id
        if manager and manager not in by_id and manager not in known:
            warnings.append(ValidationWarning(record.source_ref, record.employee_id, "manager_employee_id", (
                f"manager {manager} is not a valid row of this file and has not been provisioned: this person "
                f"goes up without a manager link, and is sent again automatically once {manager} has an "
                "account in Entra ID")))
    rejected_rows = frozenset(r.source_ref for r in rejections)
    # A rejected row's warnings ("the account will be created ...") are not true: only the rejection counts.
    warnings = [w for w in warnings if w.source_ref not in rejected_rows]
    rejections = [dataclasses.replace(r, column=columns.get(r.field, "")) for r in rejections]
    warnings = [dataclasses.replace(w, column=columns.get(w.field, "")) for w in warnings]
    return ValidationResult(
        records=records,
        rejections=sorted(rejections, key=lambda r: _ref_key(r.source_ref)),
        warnings=sorted(warnings, key=lambda w: _ref_key(w.source_ref)),
        rows_read=rows_read,
        duplicates_collapsed=duplicates,
        rejected_rows=rejected_rows,
    )


def _reject(source_ref: str, employee_id: str, problem: Problem) -> Rejection:
    return Rejection(source_ref, employee_id, problem.field, mask_value(problem.field, problem.value),
                     problem.reason)


def _ref_key(ref: str) -> tuple[str, int, str]:
    """'line 9' before 'line 10': sort by the kind of position, then its number."""
    kind, _, number = ref.rpartition(" ")
    return (kind, int(number), "") if number.isdigit() else (ref, 0, ref)


def _sorted_refs(refs: list[str]) -> list[str]:
    return sorted(dict.fromkeys(refs), key=_ref_key)


def _join(refs: list[str]) -> str:
    return ", ".join(refs[:-1]) + f" and {refs[-1]}" if len(refs) > 1 else refs[0]


def _reject_shared_emails(
    by_id: dict[str, HrRecord], known: Mapping[str, KnownPerson], rejections: list[Rejection]
) -> None:
    first_holder: dict[str, HrRecord] = {}
    shared: dict[str, list[HrRecord]] = {}  # only addresses on more than one row: a list per row is costly
    for record in by_id.values():
        if record.personal_email:
            email = record.personal_email.casefold()
            holder = first_holder.setdefault(email, record)
            if holder is not record:
                shared.setdefault(email, [holder]).append(record)
    known_owner: dict[str, str] = {}
    for person in known.values():
        email = person.fields.get("personal_email", "")
        if email and person.employee_id not in by_id:
            known_owner[email.casefold()] = person.employee_id
    if not shared and not known_owner:
        return  # no address is on two rows or already taken: nothing to compare
    for email, holder in first_holder.items():
        other_known = known_owner.get(email)
        holders = shared.get(email)
        if holders is None:
            if other_known is None:
                continue
            holders = [holder]
        for record in holders:
            others = [f"{h.employee_id} ({h.source_ref})" for h in holders if h is not record]
            if other_known is not None:
                others.append(f"{other_known} (already provisioned)")
            rejections.append(Rejection(
                record.source_ref, record.employee_id, "personal_email",
                mask_value("personal_email", record.personal_email),
                f"the same personal email is used by {_join(others)}; each person needs their own address",
            ))
            del by_id[record.employee_id]


def _reject_manager_cycles(
    by_id: dict[str, HrRecord], known: Mapping[str, KnownPerson], rejections: list[Rejection]
) -> None:
    def manager_of(employee_id: str) -> str:
        record = by_id.get(employee_id)
        if record is not None:
            return record.manager_employee_id
        person = known.get(employee_id)
        return person.fields.get("manager_employee_id", "") if person is not None else ""

    finished: set[str] = set()
    in_cycle: dict[str, list[str]] = {}
    for start, record in by_id.items():
        if start in finished:
            continue
        manager = record.manager_employee_id
        if not manager or manager in finished:  # the usual case: this person cannot be in a loop
            finished.add(start)
            continue
        path: list[str] = []
        position: dict[str, int] = {}
        current = start
        while current and current not in finished:
            if current in position:
                cycle = path[position[current]:]
                for member in cycle:
                    in_cycle[member] = cycle
                break
            position[current] = len(path)
            path.append(current)
            current = manager_of(current)
        finished.update(path)
    for employee_id, cycle in in_cycle.items():
        record = by_id.pop(employee_id, None)
        if record is None:
            continue  # a known person outside this file; only file rows can be rejected
        chain = " -> ".join([*cycle, cycle[0]])
        rejections.append(Rejection(
            record.source_ref, employee_id, "manager_employee_id", record.manager_employee_id,
            f"manager chain loops ({chain}); correct the manager of one of these people",
        ))
