"""The HR push API's side of the queue: accept a push at once, run it in the consumer, report progress."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from activation.deps import Deps
from activation.jobs.submit import submit
from activation.models import Job, ProvisioningRun
from activation.provisioning import runs
from activation.provisioning.apply import api_actor, require_provisioning_app, resolve_mapping
from activation.provisioning.readers import rows_from_objects

PUSH_KIND = "provisioning.push"


def accept_push(session: Session, deps: Deps, workers: list[object], *, client_id: int, client_name: str,
                body: bytes) -> ProvisioningRun:
    """Record a queued run and its job in one transaction. Raises ConfigurationError before recording
    anything when uploads could never work (no provisioning app configured), and InputFileError when
    the body's shape is wrong as a whole (an unknown field): both are answered in the request."""
    require_provisioning_app(deps)
    for _row in rows_from_objects(workers, mapping=resolve_mapping(deps.settings)):
        pass  # per-record problems belong to the run; only whole-body errors raise here
    run = runs.queue_run(session, deps, source="api", source_name=f"api:{client_name}",
                         source_hash=hashlib.sha256(body).hexdigest(), actor=api_actor(client_name),
                         api_client_id=client_id)
    submit(session, deps, PUSH_KIND, {"run_id": run.id, "workers": workers, "client_id": client_id,
                                      "client_name": client_name, "body_sha256": run.file_hash,
                                      "client_ip": deps.context.client_ip, "request_id": deps.context.request_id},
           key=f"run-{run.id}")
    session.commit()
    return run


def run_progress(session: Session, run_id: int, api_client_id: int) -> dict[str, Any]:
    """`GET /api/v1/runs/<id>`: the run's records so far, plus where its job stands (attempts, last error)."""
    document = runs.client_run_document(session, run_id, api_client_id)
    job = session.scalars(select(Job).where(Job.kind == PUSH_KIND, Job.key == f"run-{run_id}")).first()
    if job is not None:
        document["job"] = {
            "state": job.state.value, "attempts": job.attempts, "last_error": job.last_error,
            "next_attempt_at": job.not_before.isoformat() if job.not_before and job.state.value == "queued" else None,
            "continued_as_run": (job.result or {}).get("run_id") if (job.result or {}).get("run_id") != run_id
            else None,
        }
    return document
