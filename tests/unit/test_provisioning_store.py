"""store.py: what we know for planning, and HR records written back to `person` (in-memory SQLite)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from activation.audit import Actor
from activation.clock import FakeClock
from activation.graph.fake import FakeGraph
from activation.models import Activation, ActivationState, AuditEvent, HrStatus, Person
from activation.provisioning.mapping import load_mapping
from activation.provisioning.planner import JOINER, MOVER, REHIRE, PlannedChange, plan
from activation.provisioning.records import HrRecord, canonical_fields
from activation.provisioning.store import load_known, person_values, upsert_people
from tests.provisioning_support import DAY_ONE, make_deps

TODAY = DAY_ONE.date()


def record(employee_id: str = "E1", **fields) -> HrRecord:  # type: ignore[no-untyped-def]
    values = dict(
        employee_id=employee_id, given_name="Ada", family_name="Lovelace", preferred_name="",
        display_name="Ada Lovelace", personal_email="ada@home.example", mobile="", manager_employee_id="",
        department="Engineering",
        job_title="Engineer", company="Contoso", country="GB", usage_location="GB", preferred_language="en-GB",
        time_zone="Europe/London", worker_type="Employee", start_date=date(2026, 3, 2), end_date=None,
        hr_status="active",
    )
    values.update(fields)
    return HrRecord(**values)


@pytest.fixture
def deps(make_settings):  # type: ignore[no-untyped-def]
    return make_deps(make_settings(), FakeGraph(), FakeClock(DAY_ONE))


def upsert(session: Session, deps, *changes: PlannedChange) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return upsert_people(session, deps, list(changes), actor=Actor.system(), run_id=1)


def test_a_new_active_joiner_gets_a_person_row_and_a_pending_activation(memory_session: Session, deps) -> None:  # type: ignore[no-untyped-def]
    ids = upsert(memory_session, deps, PlannedChange(record(), JOINER, False, "h1"))
    person = memory_session.get(Person, ids["E1"])
    assert person is not None and person.hr_status is HrStatus.ACTIVE and person.department == "Engineering"
    assert person.mobile is None and person.preferred_name is None  # empty HR values are stored as NULL
    assert person.last_payload_hash is None  # set by apply only once the upload went through
    assert person.activation is not None and person.activation.state is ActivationState.PENDING
    event = memory_session.scalars(select(AuditEvent).where(AuditEvent.action == "person.created")).one()
    assert event.employee_id == "E1" and "Ada" not in str(event.details)


def test_stored_people_load_back_as_the_planner_sees_them(memory_session: Session, deps) -> None:  # type: ignore[no-untyped-def]
    hr = record(end_date=date(2027, 1, 1), mobile="+44 7700 900123")
    upsert(memory_session, deps, PlannedChange(hr, JOINER, False, "h1"))
    known = load_known(memory_session)
    assert dict(known["E1"].fields) == canonical_fields(hr)
    assert known["E1"].activated is False and known["E1"].has_account is False and known["E1"].hr_status == "active"
    # no payload hash stored yet (never uploaded): it goes up again, with no field-level difference
    again = plan([hr], known, today=TODAY, upn_domain="contoso.example", mapping=load_mapping())
    assert [c.diff for c in again.resyncs] == [()]


@pytest.mark.parametrize(("state", "activated"), [
    (ActivationState.PENDING, False), (ActivationState.INVITED, False), (ActivationState.ENABLED, True),
    (ActivationState.COMPLETED, True), (ActivationState.CANCELLED, False), (None, False),
])
def test_activated_means_enabled_or_completed(memory_session: Session, state, activated: bool) -> None:  # type: ignore[no-untyped-def]
    person = Person(**person_values(record()), entra_object_id="oid-1", last_payload_hash="h")
    if state is not None:
        person.activation = Activation(state=state, failed_code_count=0, codes_sent=0)
    memory_session.add(person)
    memory_session.commit()
    known = load_known(memory_session)["E1"]
    assert known.activated is activated and known.has_account and known.payload_hash == "h"


def test_a_mover_updates_only_changed_fields_and_audits_their_names(memory_session: Session, deps) -> None:  # type: ignore[no-untyped-def]
    upsert(memory_session, deps, PlannedChange(record(), JOINER, False, "h1"))
    upsert(memory_session, deps, PlannedChange(record(department="Finance", job_title="Analyst"), MOVER, False, "h2"))
    person = memory_session.scalars(select(Person)).one()
    assert (person.department, person.job_title) == ("Finance", "Analyst")
    event = memory_session.scalars(select(AuditEvent).where(AuditEvent.action == "person.updated")).one()
    assert event.details["fields"] == ["department", "job_title"]


def test_a_rehire_starts_a_fresh_pending_activation(memory_session: Session, deps) -> None:  # type: ignore[no-untyped-def]
    upsert(memory_session, deps, PlannedChange(record(), JOINER, False, "h1"))
    person = memory_session.scalars(select(Person)).one()
    person.hr_status = HrStatus.TERMINATED
    person.activation.state = ActivationState.CANCELLED  # type: ignore[union-attr]
    person.activation.failed_code_count = 4  # type: ignore[union-attr]
    memory_session.commit()

    upsert(memory_session, deps, PlannedChange(record(start_date=date(2026, 6, 1)), REHIRE, False, "h2"))

    memory_session.expire_all()
    person = memory_session.scalars(select(Person)).one()
    assert person.hr_status is HrStatus.ACTIVE and person.start_date == date(2026, 6, 1)
    assert person.activation.state is ActivationState.PENDING and person.activation.failed_code_count == 0  # type: ignore[union-attr]
    reset = memory_session.scalars(select(AuditEvent).where(AuditEvent.action == "activation.reset")).one()
    assert reset.details["previous_state"] == "cancelled"


def test_an_active_person_without_an_activation_gets_one(memory_session: Session, deps) -> None:  # type: ignore[no-untyped-def]
    memory_session.add(Person(**person_values(record())))
    memory_session.commit()
    upsert(memory_session, deps, PlannedChange(record(department="Finance"), MOVER, False, "h2"))
    person = memory_session.scalars(select(Person)).one()
    assert person.activation is not None and person.activation.state is ActivationState.PENDING
