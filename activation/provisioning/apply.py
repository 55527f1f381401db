"""One provisioning run: validate -> plan -> mass-change guard -> upload -> offboard leavers -> (wait and reconcile).

Entry points: `provision_file` (the CLI), `provision_objects` (the HR push API), both thin wrappers
around `run_provisioning`. The service never prints; a `Progress` listener gets told what happens.
Dry-run records the plan as a run and changes nothing else: no person rows, no Graph calls.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from activation.audit import Actor
from activation.config import Settings
from activation.deps import Deps
from activation.errors import ActivationError, ConfigurationError
from activation.graph.errors import Forbidden, GraphError, Throttled, Unauthorized
from activation.models import ActorType, Person
from activation.provisioning import runs, upload_quota
from activation.provisioning.absent import SWITCH_OFF, absent_people, last_known_state, last_record
from activation.provisioning.adopt import AccountLookup, look_up_existing_accounts
from activation.provisioning.batches import BulkBatch, RatePacer, split_into_batches
from activation.provisioning.leavers import LeaverIssue, LeaverOutcome, offboard_leavers
from activation.provisioning.mapping import CONFIG_DIR, MappingProfile, load_mapping
from activation.provisioning.past_starters import check_policy, held_back
from activation.provisioning.planner import (
    ABSENT,
    MassChangeVerdict,
    Plan,
    PlannedChange,
    check_mass_change,
    manager_pending_ids,
    plan,
)
from activation.provisioning.readers import SourceRow, read_rows, rows_from_objects
from activation.provisioning.reconcile import ReconcileResult, reconcile
from activation.provisioning.scim import MAX_OPERATIONS
from activation.provisioning.store import load_known, upsert_people
from activation.provisioning.validation import Rejection, ValidationResult, ValidationWarning, validate

MAX_THROTTLE_RETRIES = 3  # per batch, on top of the Graph client's own bounded retries
MAX_UPLOAD_CONCURRENCY = 32
DEFAULT_WAIT_SECONDS = 900.0
FIRST_POLL_SECONDS, MAX_POLL_SECONDS = 1.0, 30.0


class Progress:
    """What a run reports while it works. Every hook is a no-op here; the CLI overrides them."""

    def planned(self, plan: Plan, validation: ValidationResult, verdict: MassChangeVerdict) -> None:
        """The plan is ready (called before anything is uploaded)."""

    def upload_started(self, records: int, batches: int) -> None:
        """Uploading begins: `records` operations in `batches` bulk requests."""

    def batch_finished(self, number: int, records: int, uploaded: bool) -> None:
        """One bulk request went up (or failed for good)."""

    def waiting_for_results(self, pending: int, seconds_left: float) -> None:
        """--wait: `pending` uploaded records have no result yet."""


@dataclass(frozen=True, slots=True)
class BatchFailure:
    batch: int
    employee_ids: tuple[str, ...]
    error: str


@dataclass(frozen=True)
class RunResult:
    run_id: int
    status: str
    mode: str
    message: str
    counts: dict[str, Any]
    rejections: tuple[Rejection, ...]
    warnings: tuple[ValidationWarning, ...]
    verdict: MassChangeVerdict
    forced: bool
    upload_failures: tuple[BatchFailure, ...] = ()
    leavers: tuple[LeaverOutcome, ...] = ()
    reconciliation: ReconcileResult | None = None
    report_path: str | None = None

    @property
    def leaver_issues(self) -> tuple[LeaverIssue, ...]:
        return tuple(issue for outcome in self.leavers for issue in outcome.issues)

    @property
    def ok(self) -> bool:
        """Nothing for an operator to act on: no rejections, no failed uploads or results, not blocked."""
        failed_results = self.reconciliation is not None and self.reconciliation.failed > 0
        guard_stops = self.verdict.blocked and not self.forced  # also in a dry run: the real run would stop
        return (self.status not in (runs.STATUS_BLOCKED, runs.STATUS_FAILED) and not guard_stops
                and not self.rejections and not self.upload_failures and not self.leaver_issues
                and not failed_results and not self.counts.get("held_back"))


def resolve_mapping(settings: Settings, path: str | Path | None = None) -> MappingProfile:
    """Load `path` (--mapping) or the configured profile; a relative configured path also tries the repo."""
    if path is not None:
        return load_mapping(path)
    configured = Path(settings.provisioning.mapping)
    if not configured.is_absolute() and not configured.exists():
        configured = CONFIG_DIR.parent / configured
    return load_mapping(configured)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def provision_file(session: Session, deps: Deps, path: str | Path, *, mapping: MappingProfile, dry_run: bool = False,
                   force: bool = False, full: bool = False, wait: bool = False,
                   wait_seconds: float = DEFAULT_WAIT_SECONDS, report_path: str | Path | None = None,
                   progress: Progress | None = None, past_start_policy: str | None = None,
                   complete: bool | None = None) -> RunResult:
    """An HR extract (CSV or JSON) from disk; `complete` declares it lists every worker (default: the profile)."""
    return run_provisioning(
        session, deps, source_name=str(path), rows=read_rows(path, mapping), mapping=mapping, dry_run=dry_run,
        force=force, full=full, wait=wait, wait_seconds=wait_seconds, report_path=report_path, progress=progress,
        source_hash=file_sha256(path), past_start_policy=past_start_policy, complete=complete,
    )


def provision_objects(session: Session, deps: Deps, objects: list[object], *, client_id: int, client_name: str,
                      body: bytes, queued_run_id: int | None = None) -> RunResult:
    """Workers pushed over the HR API (already authenticated); never forced.

    The API queues the push (activation/jobs/); the job calls this with the run it queued.
    """
    mapping = resolve_mapping(deps.settings)
    return run_provisioning(
        session, deps, source_name=f"api:{client_name}", rows=rows_from_objects(objects, mapping=mapping),
        mapping=mapping, source="api", source_hash=hashlib.sha256(body).hexdigest(), api_client_id=client_id,
        actor=api_actor(client_name), queued_run_id=queued_run_id,
    )


def api_actor(client_name: str) -> Actor:
    return Actor(ActorType.API, client_name[:64])


def run_provisioning(
    session: Session, deps: Deps, *, source_name: str, rows: Iterable[SourceRow], mapping: MappingProfile,
    dry_run: bool = False, force: bool = False, full: bool = False, wait: bool = False,
    wait_seconds: float = DEFAULT_WAIT_SECONDS, report_path: str | Path | None = None,
    progress: Progress | None = None, actor: Actor | None = None, source: str = "file",
    source_hash: str | None = None, api_client_id: int | None = None, past_start_policy: str | None = None,
    complete: bool | None = None, queued_run_id: int | None = None,
) -> RunResult:
    """The whole run as a plain function (the CLI, the push API and a job queue all call this)."""
    actor = actor or Actor.system()
    progress = progress or Progress()
    policy = deps.settings.policy
    past_start = check_policy(past_start_policy or deps.settings.provisioning.past_start_policy)
    upload_concurrency(deps)  # a bad setting fails before anything is stored or sent
    mode = runs.MODE_DRY_RUN if dry_run else runs.MODE_APPLY
    run = runs.start_run(session, deps, source=source, source_name=source_name, source_hash=source_hash, mode=mode,
                         actor=actor, api_client_id=api_client_id, queued_run_id=queued_run_id)
    today = deps.clock.now().date()
    try:
        known = load_known(session)
        validation = validate(rows, mapping=mapping, known_people=known, today=today)
        if not dry_run and validation.records:
            require_provisioning_app(deps)  # before adoption looks anyone up, so nothing changes if it is missing
        lookup = look_up_existing_accounts(session, deps, validation.records, known, today=today, actor=actor,
                                           dry_run=dry_run)
        holding = held_back(lookup, policy=past_start, grace_days=policy.activation_grace_days)
        missing = absent_people(known, _present_ids(validation)) if (
            mapping.complete if complete is None else complete) else []
        switch_off = mapping.absent_workers == SWITCH_OFF
        leaving = [last_record(person, today, leaving=True) for person in missing] if switch_off else []
        planned = plan([*validation.records, *leaving], known, today=today,
                       upn_domain=deps.settings.provisioning.upn_domain, mapping=mapping, full=full,
                       held_back=holding.notes, held_back_decision=holding.decision)
        if missing:
            planned = _with_absent(planned, missing, today, switched_off=switch_off)
        if lookup.lookup_skipped:
            planned = dataclasses.replace(planned, adoption_note=_adoption_note(lookup))
    except ActivationError as exc:
        runs.finish_run(session, deps, run, status=runs.STATUS_FAILED, actor=actor, message=str(exc))
        raise
    verdict = check_mass_change(planned, known, max_share=policy.mass_change_share, max_count=policy.mass_change_count)
    manager_pending = manager_pending_ids(planned.to_upload(), known)
    del known
    forced = verdict.blocked and force
    run.counts = {**_plan_counts(validation, planned, verdict, forced), **_lookup_counts(lookup, planned)}
    runs.add_items(session, runs.validation_items(run.id, validation))
    session.commit()
    progress.planned(planned, validation, verdict)
    result = _Outcome(run.id, mode, validation, verdict, forced)
    changes = list(planned.to_upload())

    quota = upload_quota.check(session, now=deps.clock.now(), daily_quota=policy.bulk_upload_daily_quota,
                               records_to_upload=len(changes))
    run.counts = {**run.counts, "bulk_upload_quota": quota.as_counts()}
    session.commit()
    if quota.exceeded and not dry_run and not (verdict.blocked and not force):
        runs.add_items(session, (runs.change_item(run.id, c, upload_status=runs.UPLOAD_NOT_SENT)
                                 for c in [*changes, *planned.skipped, *planned.held_back, *planned.absent]))
        runs.finish_run(session, deps, run, status=runs.STATUS_BLOCKED, actor=actor,
                        message=f"stopped before uploading: {quota.message()}")
        return result.finish(session, run, report_path)
    if dry_run or (verdict.blocked and not force):
        upload_status = runs.UPLOAD_PLANNED if dry_run else runs.UPLOAD_NOT_SENT
        runs.add_items(session, (runs.change_item(run.id, c, upload_status=upload_status) for c in changes))
        runs.add_items(session, (runs.change_item(run.id, c, upload_status=runs.UPLOAD_NOT_SENT)
                                 for c in [*planned.skipped, *planned.held_back, *planned.absent]))
        status, message = ((runs.STATUS_PLANNED, "dry run: the plan was recorded; nothing was changed"
                            + (f"; applying it now would stop: {quota.message()}" if quota.exceeded else ""))
                           if dry_run else (runs.STATUS_BLOCKED, f"stopped before uploading: {verdict.reason}"))
        message += _notes(run.counts)
        runs.finish_run(session, deps, run, status=status, actor=actor, message=message)
        return result.finish(session, run, report_path)

    if forced:  # (a dry run has returned above)
        deps.audit(session, action="provisioning.guard_overridden", actor=actor, reason=verdict.reason,
                   details={"run_id": run.id, "switching_off": verdict.switching_off})
    runs.add_items(session, (runs.change_item(run.id, c, upload_status=runs.UPLOAD_NOT_SENT)
                             for c in [*planned.skipped, *planned.held_back, *planned.absent]))
    session.commit()
    try:
        if changes:
            require_provisioning_app(deps)
        # People first (in bulk, before the paced uploads), so a crash mid-upload leaves HR's view stored
        # and only the payload hashes missing: those records simply go up again next time.
        person_ids = upsert_people(session, deps, changes, actor=actor, run_id=run.id)
        result.leavers = offboard_leavers(session, deps, [c.record.employee_id for c in planned.leavers],
                                          actor=actor, run_id=run.id)
        result.failures = _upload(session, deps, run.id, planned, changes, person_ids, progress, manager_pending)
    except ActivationError as exc:  # configuration (no provisioning app configured), not a Graph answer
        runs.finish_run(session, deps, run, status=runs.STATUS_FAILED, actor=actor, message=str(exc))
        raise
    failed_records = sum(len(f.employee_ids) for f in result.failures)
    uploaded = len(changes) - failed_records
    if not changes:
        status, message = runs.STATUS_COMPLETED, "nothing to upload" + _nothing_because(planned)
    elif uploaded == 0:
        status, message = runs.STATUS_FAILED, f"every upload failed ({len(result.failures)} batch(es)); see the items"
    else:
        status, message = runs.STATUS_UPLOADED, f"{uploaded} record(s) uploaded, {failed_records} failed"
    if forced:
        message += f"; mass-change guard overridden with --force ({verdict.reason})"
    message += _notes(run.counts)
    runs.finish_run(session, deps, run, status=status, actor=actor, message=message)
    if wait and uploaded:
        result.reconciliation = _await_results(session, deps, run.id, wait_seconds, progress, actor)
    return result.finish(session, run, report_path)


@dataclass
class _Outcome:
    """What a run gathers on its way; frozen into a RunResult at the end."""

    run_id: int
    mode: str
    validation: ValidationResult
    verdict: MassChangeVerdict
    forced: bool
    failures: tuple[BatchFailure, ...] = ()
    leavers: list[LeaverOutcome] | tuple[LeaverOutcome, ...] = ()
    reconciliation: ReconcileResult | None = None

    def finish(self, session: Session, run: Any, report_path: str | Path | None) -> RunResult:
        written = str(runs.write_report(session, run, report_path)) if report_path else None
        return RunResult(
            run_id=self.run_id, status=run.status, mode=self.mode, message=run.message or "", counts=dict(run.counts),
            rejections=tuple(self.validation.rejections), warnings=tuple(self.validation.warnings),
            verdict=self.verdict, forced=self.forced, upload_failures=self.failures, leavers=tuple(self.leavers),
            reconciliation=self.reconciliation, report_path=written,
        )


def _present_ids(validation: ValidationResult) -> set[str]:
    """Everyone the file mentions, valid or rejected: a bad row is not an absence."""
    return {r.employee_id for r in validation.records} | {r.employee_id for r in validation.rejections}


def _with_absent(planned: Plan, missing: list[Any], today: Any, *, switched_off: bool) -> Plan:
    notes = {person.employee_id: last_known_state(person) for person in missing}
    if switched_off:
        leavers = [dataclasses.replace(c, note=f"absent from a complete file; switched off ({notes[eid]})")
                   if (eid := c.record.employee_id) in notes else c for c in planned.leavers]
        return dataclasses.replace(planned, leavers=leavers)
    absent = [PlannedChange(last_record(person, today, leaving=False), ABSENT, person.activated, "",
                            note=f"absent from a complete file; not changed, review ({notes[person.employee_id]})")
              for person in missing]
    return dataclasses.replace(planned, absent=absent)


def _lookup_counts(lookup: AccountLookup, planned: Plan) -> dict[str, Any]:
    counts: dict[str, Any] = {"adopted": len(lookup.adopted), "held_back": len(planned.held_back)}
    if planned.held_back_decision:
        counts["held_back_decision"] = planned.held_back_decision
    if lookup.lookup_skipped:
        counts["adoption_lookup"] = _adoption_note(lookup)
    return counts


def _adoption_note(lookup: AccountLookup) -> str:
    return (f"skipped for {_people(len(lookup.not_looked_up))} who started long ago: {lookup.skipped_reason}; "
            "the real run looks them up by employeeId and keeps existing enabled accounts enabled")


def _nothing_because(planned: Plan) -> str:
    counts = planned.counts()
    parts = [f"{counts[key]} {word}" for key, word in (("unchanged", "unchanged"), ("skipped", "skipped"))
             if counts[key]]
    return f" ({', '.join(parts)})" if parts else ""


def _notes(counts: dict[str, Any]) -> str:
    """What a run's message must not leave out: people held back, a skipped adoption look-up."""
    notes = ""
    if counts.get("held_back"):
        notes += f"; {_people(counts['held_back'])} held back (start date long past, no account): decide, see the plan"
    if counts.get("adoption_lookup"):
        notes += f"; adoption look-up {counts['adoption_lookup']}"
    absent = counts.get("plan", {}).get(ABSENT)
    if absent:
        notes += f"; {_people(absent)} we know are missing from this complete file: review them (report only)"
    return notes


def _people(number: int) -> str:
    return "1 person" if number == 1 else f"{number} people"


def _plan_counts(
    validation: ValidationResult, planned: Plan, verdict: MassChangeVerdict, forced: bool
) -> dict[str, Any]:
    return {
        "rows_read": validation.rows_read,
        "valid_records": len(validation.records),
        "rejected_rows": len(validation.rejected_rows),
        "rejections": len(validation.rejections),
        "warnings": len(validation.warnings),
        "duplicates_collapsed": validation.duplicates_collapsed,
        "plan": planned.counts(),
        "to_upload": planned.upload_count,
        "mass_change": {"blocked": verdict.blocked, "forced": forced, "switching_off": verdict.switching_off,
                        "known_active": verdict.known_active, "reason": verdict.reason},
    }


class _Pacing:
    """RatePacer around the upload calls, stamped when each call ends, a little under the ceiling.

    The server counts arrival times, somewhere between our call's start and its end. Stamping at the end
    and holding a call's place while it is in flight keeps any two calls `calls` apart at least a period
    apart on the server's side, whatever the latency and however many calls are in flight; a small slack
    (max(20 ms, 0.5 % of the period)) covers timer granularity.
    """

    def __init__(self, deps: Deps) -> None:
        policy = deps.settings.policy
        period = policy.upload_rate_period_seconds
        slack = max(0.02, 0.005 * period)
        self.pacer = RatePacer(policy.upload_rate_calls, period + slack, deps.clock)

    def before(self) -> list[Any]:
        return self.pacer.acquire()

    def after(self, slot: list[Any]) -> None:
        self.pacer.release(slot)


class _StopUploading(Exception):  # noqa: N818 - internal control flow, never leaves this module
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def _send(deps: Deps, pacing: _Pacing, batch: BulkBatch) -> tuple[str | None, str]:
    """Upload one batch: (None, when it was sent) or (the error text, when). 401/403 stop the whole run."""
    throttled = 0
    while True:
        slot = pacing.before()
        sent_at = deps.clock.now().isoformat()  # before the call: results can never predate it
        try:
            deps.graph.bulk_upload(batch.request)
            return None, sent_at
        except Throttled as exc:
            throttled += 1
            if throttled > MAX_THROTTLE_RETRIES:
                return f"{exc} (still throttled after {MAX_THROTTLE_RETRIES} retries)", sent_at
            retry_after = exc.retry_after if exc.retry_after is not None else pacing.pacer.period
            pacing.pacer.defer(retry_after)
        except (Unauthorized, Forbidden) as exc:
            raise _StopUploading(str(exc)) from None
        except GraphError as exc:
            return str(exc), sent_at
        finally:
            pacing.after(slot)


def require_provisioning_app(deps: Deps) -> None:
    """Uploading needs the inbound provisioning app and a Graph client; fail before anything changes."""
    microsoft = deps.settings.microsoft
    if not microsoft.provisioning_sp_id or not microsoft.provisioning_job_id:
        raise ConfigurationError(
            "uploading needs the inbound provisioning app: set ACTIVATION_PROVISIONING_SP_ID and "
            "ACTIVATION_PROVISIONING_JOB_ID (or [microsoft] provisioning_sp_id / provisioning_job_id); "
            "nothing was changed (use --dry-run to see the plan)")
    client = deps.graph  # built here (locally, no network), so missing credentials surface now
    if client is None:
        raise ConfigurationError("no Graph client is configured; nothing was changed")


def _upload(session: Session, deps: Deps, run_id: int, planned: Plan, changes: list[PlannedChange],
            person_ids: dict[str, int], progress: Progress, manager_pending: set[str]) -> tuple[BatchFailure, ...]:
    """Send every batch, recording items and payload hashes per batch (committed per batch).

    The first batch goes alone (it also fetches the token and opens the connection); the rest go with up to
    `[provisioning] upload_concurrency` calls in flight behind the one shared pacer, so latency no longer
    caps the rate. Only the HTTP calls run in worker threads; this thread records every result, in order.
    """
    by_id = {change.record.employee_id: change for change in changes}
    pacing = _Pacing(deps)
    progress.upload_started(len(changes), math.ceil(len(changes) / MAX_OPERATIONS))
    failures: list[BatchFailure] = []
    stopped: list[str] = []  # set once by a 401/403: later batches are not sent

    def send(batch: BulkBatch) -> tuple[str | None, str]:
        if stopped:
            return f"not sent: {stopped[0]}", deps.clock.now().isoformat()
        try:
            return _send(deps, pacing, batch)
        except _StopUploading as stop:
            stopped.append(f"{stop.error}; later batches were not sent")
            return stopped[0], deps.clock.now().isoformat()

    def record(batch: BulkBatch, error: str | None, sent_at: str) -> None:  # on this thread only
        status = runs.UPLOAD_FAILED if error else runs.UPLOAD_UPLOADED
        runs.add_items(session, (
            runs.change_item(run_id, by_id[item.employee_id], upload_status=status, batch=batch.number,
                             bulk_id=str(item.operation["bulkId"]), error=error,
                             uploaded_at=None if error else sent_at)
            for item in batch.items))
        if error:
            failures.append(BatchFailure(batch.number, batch.employee_ids, error))
        else:
            in_batch = set(batch.employee_ids)  # Entra resolves references within one bulk request
            session.execute(update(Person), [
                {"id": person_ids[item.employee_id], "last_payload_hash": item.payload_hash,
                 "manager_pending": item.employee_id in manager_pending
                 and by_id[item.employee_id].record.manager_employee_id not in in_batch}
                for item in batch.items])
        session.commit()
        progress.batch_finished(batch.number, len(batch.items), error is None)

    batches = split_into_batches(planned.operations())
    first = next(batches, None)
    if first is None:
        return ()
    record(first, *send(first))
    workers = upload_concurrency(deps)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bulk-upload") as pool:
        in_flight: deque[tuple[BulkBatch, Future[tuple[str | None, str]]]] = deque()
        for batch in batches:
            in_flight.append((batch, pool.submit(send, batch)))
            while len(in_flight) > 2 * workers:  # bounded: a few requests built ahead, not the whole file
                done, future = in_flight.popleft()
                record(done, *future.result())
        while in_flight:
            done, future = in_flight.popleft()
            record(done, *future.result())
    return tuple(failures)


def upload_concurrency(deps: Deps) -> int:
    value = deps.settings.provisioning.upload_concurrency
    if not 1 <= value <= MAX_UPLOAD_CONCURRENCY:
        raise ConfigurationError(
            f"[provisioning] upload_concurrency = {value} is out of range; use 1 to {MAX_UPLOAD_CONCURRENCY} "
            "(calls in flight at once; the rate ceiling still applies)")
    return value


def _await_results(session: Session, deps: Deps, run_id: int, seconds: float, progress: Progress,
                   actor: Actor) -> ReconcileResult | None:
    """Reconcile until every uploaded record of the run has a result or the deadline passes."""
    clock = deps.clock
    deadline = clock.monotonic() + seconds
    interval = FIRST_POLL_SECONDS
    total: ReconcileResult | None = None  # every poll reports only what was still waiting: add them up
    while True:
        try:
            result = reconcile(session, deps, run_id=run_id, actor=actor)
        except GraphError as exc:
            run = runs.get_run(session, run_id)
            run.message = f"{run.message or ''}; waiting for results stopped: {exc}".lstrip("; ")
            session.commit()
            return total
        total = result if total is None else _add_polls(total, result)
        left = deadline - clock.monotonic()
        if result.pending == 0 or left <= 0:
            return total
        progress.waiting_for_results(result.pending, left)
        clock.sleep(min(interval, left))
        interval = min(interval * 2, MAX_POLL_SECONDS)


def _add_polls(earlier: ReconcileResult, later: ReconcileResult) -> ReconcileResult:
    """Two polls of one run as one result: checked stays the first count, outcomes add up."""
    return dataclasses.replace(
        later, checked=earlier.checked, succeeded=earlier.succeeded + later.succeeded,
        failed=earlier.failed + later.failed, skipped=earlier.skipped + later.skipped,
        unknown=earlier.unknown + later.unknown, found_by_lookup=earlier.found_by_lookup + later.found_by_lookup,
        failures=earlier.failures + later.failures, lookup_errors=earlier.lookup_errors + later.lookup_errors)
