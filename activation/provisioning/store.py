"""The provisioning side of the `person` table: what we already know (for planning) and HR's view written back.

`load_known` reads only the columns the planner needs, streamed, so 100,000 people stay affordable.
`upsert_people` creates or updates Person rows from planned changes; it never touches
`last_payload_hash` (apply sets it only once an upload succeeded).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from activation.audit import Actor
from activation.deps import Deps
from activation.invites import ensure_activation
from activation.models import Activation, ActivationState, HrStatus, Person
from activation.provisioning.planner import REHIRE, KnownPerson, PlannedChange
from activation.provisioning.records import CANONICAL_FIELDS, HrRecord

ACTIVATED_STATES = frozenset({ActivationState.ENABLED, ActivationState.COMPLETED})
# Person columns that must hold a value; every other canonical field is stored as NULL when empty.
_NOT_NULL = frozenset({"employee_id", "given_name", "family_name", "display_name", "start_date", "hr_status"})
_CHUNK = 500


def load_known(session: Session) -> dict[str, KnownPerson]:
    """Everyone we have stored, keyed by employee id, in the planner's terms."""
    field_columns = [getattr(Person, name) for name in CANONICAL_FIELDS]
    query = (
        select(Person.last_payload_hash, Person.entra_object_id, Person.manager_pending, Activation.state,
               *field_columns)
        .outerjoin(Activation, Activation.person_id == Person.id)
        .execution_options(yield_per=2_000)
    )
    known: dict[str, KnownPerson] = {}
    for row in session.execute(query):
        payload_hash, object_id, manager_pending, state, *values = row
        fields = {name: _as_text(value) for name, value in zip(CANONICAL_FIELDS, values, strict=True)}
        employee_id = fields["employee_id"]
        known[employee_id] = KnownPerson(
            employee_id=employee_id,
            payload_hash=payload_hash,
            activated=state in ACTIVATED_STATES,
            hr_status=fields["hr_status"],
            fields=fields,
            has_account=bool(object_id),
            manager_pending=bool(manager_pending),
        )
    return known


def person_values(record: HrRecord) -> dict[str, Any]:
    """The Person column values for an HR record (attribute names match one to one)."""
    values: dict[str, Any] = {}
    for name in CANONICAL_FIELDS:
        value = getattr(record, name)
        if value == "" and name not in _NOT_NULL:
            value = None
        values[name] = value
    values["hr_status"] = HrStatus(record.hr_status)
    return values


def upsert_people(
    session: Session, deps: Deps, changes: Sequence[PlannedChange], *, actor: Actor, run_id: int
) -> dict[str, int]:
    """Create or update the Person row of every change; return employee id -> person id. Commits.

    New active joiners get an Activation in state `pending`; a rehire's activation starts again at
    `pending`. Each created or changed person gets an audit event naming the changed fields (no values).
    """
    person_ids: dict[str, int] = {}
    today = deps.clock.now().date()
    for chunk in _chunks(changes, _CHUNK):
        wanted = [change.record.employee_id for change in chunk]
        existing = {
            person.employee_id: person
            for person in session.scalars(
                select(Person).where(Person.employee_id.in_(wanted)).options(selectinload(Person.activation))
            )
        }
        touched: list[tuple[Person, PlannedChange, list[str], bool]] = []
        for change in chunk:
            values = person_values(change.record)
            person = existing.get(change.record.employee_id)
            if person is None:
                person = Person(**values)
                if not change.record.is_leaving(today):
                    # Same row ensure_activation would add, without a flush per person.
                    person.activation = Activation(state=ActivationState.PENDING, failed_code_count=0, codes_sent=0)
                session.add(person)
                touched.append((person, change, sorted(values), True))
                continue
            changed = [name for name, value in values.items() if getattr(person, name) != value]
            for name in changed:
                setattr(person, name, values[name])
            touched.append((person, change, changed, False))
        session.flush()
        for person, change, changed, created in touched:
            person_ids[person.employee_id] = person.id
            if not created and (change.action == REHIRE or (
                    not change.record.is_leaving(today) and person.activation is None)):
                _restart_activation(session, deps, person, actor=actor, run_id=run_id, rehire=change.action == REHIRE)
            if created or changed:
                deps.audit(
                    session, action="person.created" if created else "person.updated", actor=actor, person=person,
                    reason=f"HR provisioning run {run_id}: {change.action}",
                    details={"run_id": run_id, "action": change.action, "fields": changed},
                )
        session.commit()
    return person_ids


def _restart_activation(
    session: Session, deps: Deps, person: Person, *, actor: Actor, run_id: int, rehire: bool
) -> None:
    """Give an active person a pending activation: a new row, or (rehire) the old one reset."""
    had_row = person.activation is not None
    activation = ensure_activation(session, person)
    if not had_row:
        deps.audit(session, action="activation.created", actor=actor, person=person,
                   reason=f"HR provisioning run {run_id}", details={"run_id": run_id})
        return
    if not rehire or activation.state is ActivationState.PENDING:
        return
    previous = activation.state.value
    activation.state = ActivationState.PENDING
    activation.failed_code_count = 0
    activation.lock_reason = activation.failure_reason = None
    activation.verified_at = activation.enabled_at = activation.completed_at = None
    activation.resume_until = activation.step_lease_until = None
    activation.tap_method_id = activation.tap_expires_at = None
    deps.audit(session, action="activation.reset", actor=actor, person=person, reason="rehired in HR",
               details={"run_id": run_id, "previous_state": previous})


def _chunks(items: Sequence[PlannedChange], size: int) -> Iterator[Sequence[PlannedChange]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, HrStatus):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
