"""Provisioning run records (`provisioning_run`, `provisioning_item`) and the run's JSON report.

One run per file or API push. Items are written per person for every planned upload, skip, rejection
(line or index, field, masked value, reason) and warning. Unchanged people are only counted, so a
daily re-sync of 100,000 people does not add 100,000 rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from activation.audit import Actor
from activation.deps import Deps
from activation.errors import ActivationError, NotFoundError
from activation.masking import printable
from activation.models import ProvisioningItem, ProvisioningRun
from activation.provisioning.planner import PlannedChange
from activation.provisioning.validation import ValidationResult

MODE_DRY_RUN, MODE_APPLY = "dry-run", "apply"

STATUS_QUEUED = "queued"  # pushed over the API, waiting for the job consumer (activation/jobs/)
STATUS_RUNNING = "running"
STATUS_PLANNED = "planned"  # dry-run finished: plan recorded, nothing changed
STATUS_BLOCKED = "blocked"  # the mass-change guard stopped it before any upload
STATUS_UPLOADED = "uploaded"  # uploads sent, some results still outstanding
STATUS_COMPLETED = "completed"  # every uploaded item has a result (or nothing needed uploading)
STATUS_FAILED = "failed"  # the run could not go on (file, configuration, or every upload failed)

UPLOAD_PLANNED, UPLOAD_NOT_SENT, UPLOAD_UPLOADED, UPLOAD_FAILED = "planned", "not_sent", "uploaded", "failed"
ACTION_REJECTED, ACTION_WARNING = "rejected", "warning"
RESULT_SUCCESS, RESULT_FAILURE, RESULT_SKIPPED, RESULT_UNKNOWN = "success", "failure", "skipped", "unknown"

REPORT_VERSION = 1


class RunInProgress(ActivationError):
    """Another applying run is still going; two at once could create the same joiner twice."""


STALE_RUN = timedelta(hours=2)  # a "running" run older than this is taken as crashed


def start_run(
    session: Session, deps: Deps, *, source: str, source_name: str, source_hash: str | None, mode: str,
    actor: Actor, api_client_id: int | None = None, queued_run_id: int | None = None,
) -> ProvisioningRun:
    """Start a run; `queued_run_id` starts the run `queue_run` recorded when the work was accepted."""
    if mode == MODE_APPLY:
        busy = session.scalars(
            select(ProvisioningRun).where(ProvisioningRun.mode == MODE_APPLY,
                                          ProvisioningRun.status == STATUS_RUNNING,
                                          ProvisioningRun.started_at > deps.clock.now() - STALE_RUN)
            .order_by(ProvisioningRun.id).limit(1)
        ).first()
        if busy is not None:
            raise RunInProgress(
                f"provisioning run {busy.id} ({busy.file_name}) started at {busy.started_at:%Y-%m-%d %H:%M} UTC "
                "is still applying; wait for it to finish (it is taken as crashed after 2 hours), or use --dry-run"
            )
    queued = session.get(ProvisioningRun, queued_run_id) if queued_run_id is not None else None
    if queued is not None and queued.status == STATUS_QUEUED:
        run = queued
        run.started_at, run.status = deps.clock.now(), STATUS_RUNNING
    else:
        run = ProvisioningRun(
            started_at=deps.clock.now(), source=source, file_name=source_name[:512], file_hash=source_hash, mode=mode,
            status=STATUS_RUNNING, api_client_id=api_client_id, counts={},
        )
        session.add(run)
    session.flush()
    deps.audit(session, action="provisioning.run_started", actor=actor,
               details={"run_id": run.id, "mode": mode, "source": source, "file": run.file_name})
    session.commit()
    return run


def queue_run(session: Session, deps: Deps, *, source: str, source_name: str, source_hash: str | None,
              actor: Actor, api_client_id: int | None = None) -> ProvisioningRun:
    """Record accepted work (status `queued`) so its id can be answered at once; not committed."""
    run = ProvisioningRun(
        started_at=deps.clock.now(), source=source, file_name=source_name[:512], file_hash=source_hash,
        mode=MODE_APPLY, status=STATUS_QUEUED, api_client_id=api_client_id, counts={},
    )
    session.add(run)
    session.flush()
    deps.audit(session, action="provisioning.run_queued", actor=actor,
               details={"run_id": run.id, "source": source, "file": run.file_name})
    return run


def finish_run(session: Session, deps: Deps, run: ProvisioningRun, *, status: str, actor: Actor,
               message: str | None = None) -> None:
    """Set the final status, recount the items, audit and commit."""
    run.status = status
    run.finished_at = deps.clock.now()
    if message is not None:
        run.message = message
    run.counts = {**run.counts, **item_counts(session, run.id)}
    outcome = "failure" if status in (STATUS_FAILED, STATUS_BLOCKED) else "success"
    deps.audit(session, action="provisioning.run_finished", actor=actor, outcome=outcome, reason=run.message,
               details={"run_id": run.id, "status": status, "mode": run.mode, "counts": _flat_counts(run.counts)})
    session.commit()


def validation_items(run_id: int, validation: ValidationResult) -> Iterable[dict[str, Any]]:
    """Item rows for every rejection and warning."""
    for rejection in validation.rejections:
        yield {
            "run_id": run_id, "employee_id": _clip(rejection.employee_id, 64),
            "source_ref": _clip(rejection.source_ref, 32),
            "action": ACTION_REJECTED, "upload_status": UPLOAD_NOT_SENT,
            "details": {"field": rejection.field, "column": rejection.column, "value": rejection.value_masked,
                        "reason": rejection.reason},
        }
    for warning in validation.warnings:
        yield {
            "run_id": run_id, "employee_id": _clip(warning.employee_id, 64),
            "source_ref": _clip(warning.source_ref, 32),
            "action": ACTION_WARNING, "details": {"field": warning.field, "column": warning.column,
                                                  "reason": warning.reason},
        }


def change_item(run_id: int, change: PlannedChange, *, upload_status: str, batch: int | None = None,
                bulk_id: str | None = None, error: str | None = None, uploaded_at: str | None = None) -> dict[str, Any]:
    details: dict[str, Any] = {"active": change.active}
    if change.diff:
        details["diff"] = [{"field": c.field, "old": c.old, "new": c.new} for c in change.diff]
    if change.note:
        details["note"] = change.note
    if uploaded_at:
        details["uploaded_at"] = uploaded_at
    if error:
        details["upload_error"] = error
    return {
        "run_id": run_id, "employee_id": change.record.employee_id, "source_ref": _clip(change.record.source_ref, 32),
        "action": change.action, "payload_hash": change.payload_hash or None, "batch": batch, "bulk_id": bulk_id,
        "upload_status": upload_status, "details": details,
    }


def add_items(session: Session, rows: Iterable[dict[str, Any]], *, chunk: int = 1_000) -> None:
    """Bulk-insert item rows (not committed)."""
    pending: list[dict[str, Any]] = []
    for row in rows:
        pending.append(row)
        if len(pending) >= chunk:
            session.execute(insert(ProvisioningItem), pending)
            pending = []
    if pending:
        session.execute(insert(ProvisioningItem), pending)


def item_counts(session: Session, run_id: int) -> dict[str, Any]:
    """Counts per action, upload status and result status, straight from the items."""
    counts: dict[str, Any] = {}
    for column, key in ((ProvisioningItem.action, "actions"), (ProvisioningItem.upload_status, "uploads"),
                        (ProvisioningItem.result_status, "results")):
        rows = session.execute(
            select(column, func.count()).where(ProvisioningItem.run_id == run_id, column.is_not(None)).group_by(column)
        )
        counts[key] = {name: number for name, number in rows}
    return counts


def get_run(session: Session, run_id: int) -> ProvisioningRun:
    run = session.get(ProvisioningRun, run_id)
    if run is None:
        raise NotFoundError(f"provisioning run {run_id} does not exist; `activation reconcile` lists recent runs")
    return run


def client_run_document(session: Session, run_id: int, api_client_id: int) -> dict[str, Any]:
    """A run as the push API shows it: only runs that this API client started."""
    run = session.get(ProvisioningRun, run_id)
    if run is None or run.api_client_id != api_client_id:
        raise NotFoundError(f"no provisioning run {run_id} for this API key")
    return run_document(session, run)


def run_document(session: Session, run: ProvisioningRun) -> dict[str, Any]:
    """The run as plain JSON: what the report file and `GET /api/v1/runs/<id>` show."""
    counts = dict(run.counts or {})
    mass_change = counts.pop("mass_change", None)
    records: list[dict[str, Any]] = []
    rejections: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    items = session.scalars(select(ProvisioningItem).where(ProvisioningItem.run_id == run.id)
                            .order_by(ProvisioningItem.id)).all()
    for item in items:
        details = item.details or {}
        where = {"ref": item.source_ref, "employee_id": item.employee_id}
        if item.action == ACTION_REJECTED:
            rejections.append({**where, "field": details.get("field"), "column": details.get("column"),
                               "value": details.get("value"), "reason": details.get("reason")})
        elif item.action == ACTION_WARNING:
            warnings.append({**where, "field": details.get("field"), "column": details.get("column"),
                             "reason": details.get("reason")})
        else:
            records.append({
                **where, "action": item.action, "active": details.get("active"), "batch": item.batch,
                "bulk_id": item.bulk_id, "upload_status": item.upload_status,
                "upload_error": details.get("upload_error"), "result_status": item.result_status,
                "result_error": item.result_error, "changes": details.get("diff", []), "note": details.get("note"),
            })
    return {
        "report_version": REPORT_VERSION,
        "run_id": run.id,
        "source": run.source,
        "file": run.file_name,
        "file_sha256": run.file_hash,
        "mode": run.mode,
        "status": run.status,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "message": run.message,
        "mass_change": mass_change,
        "counts": counts,
        "records": records,
        "rejections": rejections,
        "warnings": warnings,
    }


def write_report(session: Session, run: ProvisioningRun, path: str | Path) -> Path:
    """Write the run's JSON report (personal values masked) and return where it went."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(run_document(session, run), indent=2, ensure_ascii=False)
    target.write_text(text + "\n", encoding="utf-8")
    return target


def recent_runs(session: Session, limit: int = 20) -> list[ProvisioningRun]:
    return list(session.scalars(select(ProvisioningRun).order_by(ProvisioningRun.id.desc()).limit(limit)))


def _flat_counts(counts: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in counts.items() if key != "mass_change"}


def _clip(value: str, length: int) -> str:
    shown = printable(value or "")
    return shown if len(shown) <= length else shown[: length - 3] + "..."
