"""Read back what Microsoft did with our uploads and record it; retry nothing blindly.

Processing is asynchronous, so each uploaded item waits for its provisioning log entry: the earliest
entry for its externalId at or after its upload time (logs are read newest first for the job and
only back to the oldest outstanding upload). Success records the object id, UPN and enabled flag on
the person and clears any earlier error; failure records Microsoft's error text on the item and the
person. As a fallback, people without an object id whose upload is older than `LOOKUP_AFTER` are
looked up by employeeId (at most `MAX_LOOKUPS` a pass). Items without any answer after
`RESULT_TIMEOUT` are marked `unknown` so an operator looks at them; nothing is re-sent automatically.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from activation import invites
from activation.audit import Actor
from activation.deps import Deps
from activation.graph.errors import GraphError
from activation.graph.models import GraphUser, ProvisioningLogEntry
from activation.models import ActivationState, HrStatus, Person, ProvisioningItem, ProvisioningRun
from activation.provisioning import runs
from activation.provisioning.planner import JOINER

LOOKUP_AFTER = timedelta(minutes=10)
RESULT_TIMEOUT = timedelta(days=7)
MAX_LOOKUPS = 200
LOG_PAGE_SIZE = 500
_RESULTS = {"success": runs.RESULT_SUCCESS, "failure": runs.RESULT_FAILURE, "skipped": runs.RESULT_SKIPPED,
            "warning": "warning"}


@dataclass(frozen=True, slots=True)
class ResultFailure:
    employee_id: str
    run_id: int
    error: str


@dataclass(frozen=True, slots=True)
class ReconcileResult:
    checked: int  # uploaded items that were waiting for a result
    succeeded: int
    failed: int
    skipped: int
    unknown: int  # no answer within RESULT_TIMEOUT
    pending: int  # still waiting
    found_by_lookup: int
    queued_for_invite: int  # joiners with an account, starting within the invite lead time, not yet invited
    failures: tuple[ResultFailure, ...] = ()
    lookup_errors: tuple[str, ...] = ()


def reconcile(
    session: Session, deps: Deps, *, run_id: int | None = None, actor: Actor | None = None
) -> ReconcileResult:
    """Match outstanding uploaded items (of one run, or all) to their results. Commits."""
    actor = actor or Actor.system()
    now = deps.clock.now()
    query = select(ProvisioningItem).where(
        ProvisioningItem.upload_status == runs.UPLOAD_UPLOADED, ProvisioningItem.result_status.is_(None))
    if run_id is not None:
        runs.get_run(session, run_id)
        query = query.where(ProvisioningItem.run_id == run_id)
    items = list(session.scalars(query.order_by(ProvisioningItem.id)))
    if not items:
        return ReconcileResult(0, 0, 0, 0, 0, 0, 0, queued_for_invite(session, deps))

    uploaded_at = {item.id: _upload_time(item) for item in items}
    entries = _log_entries(deps, {item.employee_id or "" for item in items}, min(uploaded_at.values()))
    people = _people(session, {item.employee_id or "" for item in items})
    tally: dict[str, int] = defaultdict(int)
    failures: list[ResultFailure] = []
    waiting: list[ProvisioningItem] = []
    for item in items:
        entry = _first_at_or_after(entries.get(item.employee_id or "", ()), uploaded_at[item.id])
        person = people.get(item.employee_id or "")
        if entry is None:
            waiting.append(item)
            continue
        status = _record_result(session, deps, item, person, entry, actor)
        tally[status] += 1
        if status == runs.RESULT_FAILURE:
            failures.append(ResultFailure(item.employee_id or "", item.run_id, item.result_error or ""))
    session.commit()

    found, lookup_errors, still_waiting = _lookup_missing(session, deps, waiting, people, uploaded_at, now, actor)
    for item in still_waiting:
        if now - uploaded_at[item.id] > RESULT_TIMEOUT:
            item.result_status = runs.RESULT_UNKNOWN
            item.result_error = (f"no provisioning log entry within {RESULT_TIMEOUT.days} days of the upload; "
                                 "check the provisioning logs in the Entra admin centre")
            tally[runs.RESULT_UNKNOWN] += 1
    session.commit()
    pending = sum(1 for item in still_waiting if item.result_status is None)
    _settle_runs(session, deps, {item.run_id for item in items}, actor)
    return ReconcileResult(
        checked=len(items), succeeded=tally[runs.RESULT_SUCCESS] + tally["warning"] + found,
        failed=tally[runs.RESULT_FAILURE], skipped=tally[runs.RESULT_SKIPPED], unknown=tally[runs.RESULT_UNKNOWN],
        pending=pending, found_by_lookup=found, queued_for_invite=queued_for_invite(session, deps),
        failures=tuple(failures), lookup_errors=tuple(lookup_errors),
    )


def queued_for_invite(session: Session, deps: Deps) -> int:
    """Joiners `invites send` would invite now: account present, start date within the lead time."""
    count = 0
    for person in invites.due_people(session, deps, deps.clock.now()):
        activation = person.activation
        if (person.entra_object_id and not person.provisioning_error and person.hr_status is HrStatus.ACTIVE
                and activation is not None and activation.state is ActivationState.PENDING):
            count += 1
    return count


def _upload_time(item: ProvisioningItem) -> datetime:
    """When the item went up, floored to the millisecond (log timestamps may be that coarse)."""
    stamp = (item.details or {}).get("uploaded_at")
    moment = datetime.fromisoformat(stamp) if stamp else datetime.min.replace(tzinfo=UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _log_entries(deps: Deps, employee_ids: set[str], since: datetime) -> dict[str, list[ProvisioningLogEntry]]:
    """Log entries of the job for these people, newest first, read back only as far as `since`."""
    job_id = deps.settings.microsoft.provisioning_job_id or None
    found: dict[str, list[ProvisioningLogEntry]] = defaultdict(list)
    for entry in deps.graph.provisioning_logs(job_id=job_id, top=LOG_PAGE_SIZE):
        if entry.activity_at is None:
            continue
        if entry.activity_at < since:
            break
        if entry.source_id in employee_ids:
            found[entry.source_id].append(entry)
    return found


def _first_at_or_after(entries: Sequence[ProvisioningLogEntry], moment: datetime) -> ProvisioningLogEntry | None:
    candidates = [entry for entry in entries if entry.activity_at is not None and entry.activity_at >= moment]
    return min(candidates, key=lambda entry: entry.activity_at) if candidates else None  # type: ignore[arg-type,return-value]


def _people(session: Session, employee_ids: set[str]) -> dict[str, Person]:
    wanted = sorted(employee_ids)
    people: dict[str, Person] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        people.update((p.employee_id, p) for p in session.scalars(select(Person).where(Person.employee_id.in_(chunk))))
    return people


def _record_result(session: Session, deps: Deps, item: ProvisioningItem, person: Person | None,
                   entry: ProvisioningLogEntry, actor: Actor) -> str:
    status = _RESULTS.get((entry.status or "").lower(), runs.RESULT_FAILURE)
    item.result_status = status
    item.details = {**(item.details or {}), "log_entry_id": entry.id, "provisioning_action": entry.action}
    error = None
    if status in (runs.RESULT_FAILURE, "warning"):
        error = ": ".join(part for part in (entry.error_code, entry.error_reason) if part) or (
            f"Microsoft reported status {entry.status!r} without an error text")
        item.result_error = error
    if person is None:
        return status
    if status == runs.RESULT_FAILURE:
        person.provisioning_error = error
        deps.audit(session, action="provisioning.result", actor=actor, person=person, outcome="failure",
                   reason=error, details={"run_id": item.run_id, "action": item.action, "log_entry_id": entry.id})
        return status
    account = GraphUser(entry.target_id or "", entry.target_upn, None, person.employee_id,
                        bool((item.details or {}).get("active")), None)
    _record_account(session, deps, person, account, actor, item.run_id, source="provisioning log")
    return status


def _record_account(session: Session, deps: Deps, person: Person, account: GraphUser, actor: Actor, run_id: int,
                    *, source: str) -> None:
    changed = []
    if account.id and person.entra_object_id != account.id:
        person.entra_object_id = account.id
        changed.append("entra_object_id")
    if account.user_principal_name and person.upn != account.user_principal_name:
        person.upn = account.user_principal_name
        changed.append("upn")
    if account.account_enabled is not None and person.account_enabled != account.account_enabled:
        person.account_enabled = account.account_enabled
        changed.append("account_enabled")
    if person.provisioning_error:
        person.provisioning_error = None
        changed.append("provisioning_error")
    if changed:
        deps.audit(session, action="provisioning.result", actor=actor, person=person,
                   details={"run_id": run_id, "source": source, "fields": changed,
                            "entra_object_id": person.entra_object_id})


def _lookup_missing(
    session: Session, deps: Deps, waiting: list[ProvisioningItem], people: dict[str, Person],
    uploaded_at: dict[int, datetime], now: datetime, actor: Actor,
) -> tuple[int, list[str], list[ProvisioningItem]]:
    """Fallback for items without a log entry: find the account by employeeId (bounded)."""
    found = 0
    errors: list[str] = []
    still: list[ProvisioningItem] = []
    lookups = 0
    for item in waiting:
        person = people.get(item.employee_id or "")
        due = now - uploaded_at[item.id] >= LOOKUP_AFTER
        if person is None or person.entra_object_id or not due or lookups >= MAX_LOOKUPS:
            still.append(item)
            continue
        lookups += 1
        try:
            user = deps.graph.find_user_by_employee_id(person.employee_id)
        except GraphError as exc:
            errors.append(f"{person.employee_id}: {exc}")
            still.append(item)
            continue
        if user is None:
            still.append(item)
            continue
        _record_account(session, deps, person, user, actor, item.run_id, source="employeeId lookup")
        if item.action == JOINER:
            item.result_status = runs.RESULT_SUCCESS
            item.details = {**(item.details or {}), "resolved_by": "employeeId lookup"}
            found += 1
        else:
            still.append(item)  # the account exists, but whether this update was applied is unknown
    return found, errors, still


def _settle_runs(session: Session, deps: Deps, run_ids: set[int], actor: Actor) -> None:
    """Recount the touched runs; an uploaded run with nothing outstanding is completed."""
    for run_id in sorted(run_ids):
        run = session.get(ProvisioningRun, run_id)
        if run is None:
            continue
        outstanding = session.scalar(
            select(ProvisioningItem.id).where(
                ProvisioningItem.run_id == run_id, ProvisioningItem.upload_status == runs.UPLOAD_UPLOADED,
                ProvisioningItem.result_status.is_(None)).limit(1))
        if outstanding is None and run.status == runs.STATUS_UPLOADED:
            runs.finish_run(session, deps, run, status=runs.STATUS_COMPLETED, actor=actor)
        else:
            run.counts = {**run.counts, **runs.item_counts(session, run_id)}
            session.commit()
