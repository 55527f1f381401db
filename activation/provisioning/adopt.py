"""Existing workers seen for the first time keep their working accounts.

A first import usually lists people who already work here. Planned as joiners they would go up with
`active: false` and lose a working account (DESIGN section 5 quirk). So, before planning, a record we
do not know yet whose start date is before the activation window is looked up by employeeId; an
enabled account is *adopted*: stored as already activated, so every upload keeps it switched on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy.orm import Session

from activation.audit import Actor
from activation.deps import Deps
from activation.errors import ConfigurationError
from activation.models import Activation, ActivationState, Person
from activation.provisioning.planner import KnownPerson
from activation.provisioning.records import ACTIVE, HrRecord, canonical_fields
from activation.provisioning.store import person_values


@dataclass(frozen=True, slots=True)
class AccountLookup:
    """What the look-up of long-started workers unknown to us found."""

    cutoff: date  # start dates before this are "long past": the activation window has closed
    adopted: list[str] = field(default_factory=list)  # enabled account found: kept enabled
    not_found: list[str] = field(default_factory=list)  # no account with that employeeId in Entra ID
    not_looked_up: list[str] = field(default_factory=list)  # dry run without Microsoft settings
    skipped_reason: str = ""

    @property
    def lookup_skipped(self) -> bool:
        return bool(self.not_looked_up)


def adopt_existing_accounts(session: Session, deps: Deps, records: Sequence[HrRecord],
                            known: dict[str, KnownPerson], *, today: date, actor: Actor, dry_run: bool) -> list[str]:
    """Adopt enabled accounts of long-started workers unknown to us; returns their employee ids."""
    return look_up_existing_accounts(session, deps, records, known, today=today, actor=actor,
                                     dry_run=dry_run).adopted


def look_up_existing_accounts(session: Session, deps: Deps, records: Sequence[HrRecord],
                              known: dict[str, KnownPerson], *, today: date, actor: Actor,
                              dry_run: bool) -> AccountLookup:
    """Look long-started workers unknown to us up by employeeId; adopt the enabled accounts.

    Updates `known` in place. In a dry run nothing is stored; the plan just reflects the adoption.
    A dry run without Microsoft settings cannot look anyone up: it says so (`not_looked_up`).
    A Graph failure propagates: guessing would risk switching a working account off.
    """
    cutoff = today - timedelta(days=deps.settings.policy.activation_grace_days)
    candidates = [r for r in records
                  if r.employee_id not in known and r.hr_status == ACTIVE and r.start_date < cutoff]
    lookup = AccountLookup(cutoff=cutoff)
    adopted = lookup.adopted
    if not candidates:
        return lookup
    try:
        graph = deps.graph
    except ConfigurationError as exc:
        if dry_run:  # a dry run may plan without Microsoft settings; the real run will look them up
            return AccountLookup(cutoff=cutoff, not_looked_up=[r.employee_id for r in candidates],
                                 skipped_reason=f"no Microsoft settings ({exc})")
        raise
    for record in candidates:
        user = graph.find_user_by_employee_id(record.employee_id)
        if user is None:
            lookup.not_found.append(record.employee_id)
            continue
        if not user.account_enabled:
            continue
        adopted.append(record.employee_id)
        known[record.employee_id] = KnownPerson(
            employee_id=record.employee_id, payload_hash=None, activated=True, hr_status=ACTIVE,
            fields=canonical_fields(record), has_account=True,
        )
        if dry_run:
            continue
        now = deps.clock.now()
        person = Person(**person_values(record), entra_object_id=user.id, upn=user.user_principal_name,
                        account_enabled=True)
        person.activation = Activation(state=ActivationState.COMPLETED, completed_at=now, failed_code_count=0,
                                       codes_sent=0)
        session.add(person)
        session.flush()
        deps.audit(session, action="person.adopted", actor=actor, person=person,
                   reason="existing enabled Entra account; kept enabled, no activation needed",
                   details={"entra_object_id": user.id})
    if adopted and not dry_run:
        session.commit()
    return lookup
