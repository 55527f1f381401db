"""What each kind of job does. A handler takes (session, deps, job), calls plain service functions and
returns a small result for the ledger; it raises RetryLater / Paced / GiveUp to say why not.

Idempotence: each handler first checks whether its effect already happened (audit events carry the
job's request id `job-<id>`, provisioning runs and activations carry their own state), so a job that
runs twice, after a consumer died between the effect and the ledger update, has its effect once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from activation import audit, credentials, invites, lost_link
from activation.deps import Deps
from activation.graph.errors import GraphTransientError
from activation.jobs import ledger
from activation.jobs.errors import GiveUp, RetryLater
from activation.jobs.mail_pacing import wait_for_room
from activation.jobs.submit import submit
from activation.mail.message import MailDeliveryError
from activation.models import ActivationState, AuditEvent, Job, Person, ProvisioningRun
from activation.notifications import notify_manager
from activation.provisioning import runs
from activation.provisioning.apply import api_actor, file_sha256, provision_file, provision_objects, resolve_mapping
from activation.provisioning.readers import InputFileError
from activation.provisioning.reconcile import reconcile

Handler = Callable[[Session, Deps, Job], dict[str, Any] | None]

MAIL_KINDS = frozenset({"mail.lost_link", "mail.manager_notice", "mail.invite"})
RECONCILE_FIRST_CHECK_SECONDS = 60
RECONCILE_CHECKS = 12


def request_id(job: Job) -> str:
    return f"job-{job.id}"


def _effect_recorded(session: Session, job: Job, action: str, outcomes: tuple[str, ...] = ("success",)) -> bool:
    return session.scalars(select(AuditEvent.id).where(
        AuditEvent.request_id == request_id(job), AuditEvent.action == action,
        AuditEvent.outcome.in_(outcomes)).limit(1)).first() is not None


def _mail_failed(exc: MailDeliveryError | invites.InviteNotSent, what: str) -> RetryLater:
    """Retry after the Retry-After a throttled mailbox sent, else after the usual backoff."""
    return RetryLater(f"{what}: {getattr(exc, 'reason', None) or exc}", delay=exc.retry_after)


def _pace(session: Session, deps: Deps) -> None:
    wait_for_room(session, now=deps.clock.now(), per_minute=deps.settings.queue.mail_per_minute,
                  job_kinds=MAIL_KINDS)


def _forget_address(job: Job) -> None:
    """The typed address is needed only until the job is over: keep no personal data in the ledger."""
    job.payload = {**job.payload, "email": None}


def lost_link_mail(session: Session, deps: Deps, job: Job) -> dict[str, Any] | None:
    """A starter asked for a fresh link: rate-limit and look up once, then send until it goes."""
    if _effect_recorded(session, job, "invite.sent"):
        _forget_address(job)
        return {"sent": True}
    person_id = (job.result or {}).get("person_id")
    if person_id is None:
        person = lost_link.eligible_joiner(session, deps, str(job.payload.get("email") or ""), deps.context)
        if person is None:
            _forget_address(job)
            return {"sent": False}  # audited as refused or ignored; the starter's page was the same anyway
        job.result = {"person_id": person.id}
        _forget_address(job)  # from here on the job works from the person, not the address
        session.commit()
    else:
        person = session.get(Person, person_id)
        if person is None:
            raise GiveUp(f"person {person_id} is no longer on record")
    _pace(session, deps)
    try:
        lost_link.send_new_link(session, deps, person, deps.context)
    except invites.InviteNotSent as exc:
        raise _mail_failed(exc, "the new link could not be emailed") from None
    return {"sent": True, "person_id": person.id}


def manager_notice(session: Session, deps: Deps, job: Job) -> dict[str, Any] | None:
    """The manager's "your starter has activated" email."""
    if _effect_recorded(session, job, "manager.notified", ("success", "skipped")):
        return {"sent": True}
    person = session.get(Person, job.payload.get("person_id"))
    if person is None:
        raise GiveUp(f"person {job.payload.get('person_id')} is no longer on record")
    try:
        sent = notify_manager(session, deps, person, new_pass=bool(job.payload.get("new_pass")),
                              wasnt_me=bool(job.payload.get("wasnt_me")), raise_errors=True,
                              before_send=lambda: _pace(session, deps))
    except MailDeliveryError as exc:
        raise _mail_failed(exc, "the manager's notice could not be emailed") from None
    return {"sent": sent}


def invite_mail(session: Session, deps: Deps, job: Job) -> dict[str, Any] | None:
    """One scheduled invite. The activation's state is the guard: only a pending joiner is invited."""
    person = session.get(Person, job.payload.get("person_id"))
    if person is None:
        raise GiveUp(f"person {job.payload.get('person_id')} is no longer on record")
    activation = invites.ensure_activation(session, person)
    if activation.state is not ActivationState.PENDING:
        return {"sent": False, "why": f"already {activation.state.value}"}
    why_not = invites.why_not_invitable(person, deps, deps.clock.now())
    if why_not:
        return {"sent": False, "why": why_not}
    _pace(session, deps)
    invite = invites.issue(session, deps, person, audit.Actor.system(), deps.context)
    session.flush()
    try:
        invites.send(session, deps, invite, person, audit.Actor.system(), deps.context)
    except invites.InviteNotSent as exc:
        activation.state = ActivationState.PENDING  # as `invites send` does: the next attempt tries again
        invite.superseded_at = deps.clock.now()
        session.commit()
        raise _mail_failed(exc, "the invite could not be emailed") from None
    return {"sent": True}


def push_run(session: Session, deps: Deps, job: Job) -> dict[str, Any] | None:
    """A push to `POST /api/v1/workers`: run the provisioning pipeline for the run the API queued."""
    run = session.get(ProvisioningRun, job.payload.get("run_id"))
    if run is None:
        raise GiveUp(f"provisioning run {job.payload.get('run_id')} is not on record")
    workers = job.payload.get("workers")
    if workers is None:
        return {"run_id": run.id}  # finished before: the workers were dropped from the ledger then
    interrupted = bool(job.payload.get("interrupted"))
    if not interrupted and run.status not in (runs.STATUS_QUEUED, runs.STATUS_RUNNING):
        job.payload = {**job.payload, "workers": None}  # finished before; only the ledger missed it
        return {"run_id": run.id, "status": run.status}
    queued_run_id: int | None = run.id
    if interrupted or run.status == runs.STATUS_RUNNING:  # an earlier attempt started it and stopped part-way
        queued_run_id = None
        if not interrupted:
            _mark_interrupted(session, deps, run, job)
            job.payload = {**job.payload, "interrupted": True}
            session.commit()
    client = str(job.payload.get("client_name", "api"))
    try:
        result = provision_objects(session, deps, workers, client_id=int(job.payload["client_id"]),
                                   client_name=client, body=str(job.payload.get("body_sha256", "")).encode(),
                                   queued_run_id=queued_run_id)
    except runs.RunInProgress as exc:
        raise RetryLater(str(exc), delay=60) from None
    except InputFileError as exc:
        _fail_queued(session, deps, run, str(exc), client)
        raise GiveUp(str(exc)) from None
    if result.run_id != run.id:
        run.message = f"{run.message or ''} continued as run {result.run_id}".strip()
    job.payload = {**job.payload, "workers": None}  # HR data stays in the run's records, not in the ledger
    session.commit()
    if result.status == runs.STATUS_UPLOADED:
        submit(session, deps, "provisioning.reconcile", {"run_id": result.run_id}, key=f"run-{result.run_id}",
               delay_seconds=RECONCILE_FIRST_CHECK_SECONDS, max_attempts=RECONCILE_CHECKS)
        session.commit()
    return {"run_id": result.run_id, "status": result.status}


def _mark_interrupted(session: Session, deps: Deps, run: ProvisioningRun, job: Job) -> None:
    if run.status in (runs.STATUS_RUNNING, runs.STATUS_QUEUED):
        runs.finish_run(session, deps, run, status=runs.STATUS_FAILED, actor=api_actor(str(job.payload.get(
            "client_name", "api"))), message=f"interrupted: the job consumer stopped during this run (attempt "
            f"{job.attempts - 1}); the push job ran again;")


def _fail_queued(session: Session, deps: Deps, run: ProvisioningRun, message: str, client: str) -> None:
    session.refresh(run)
    if run.status == runs.STATUS_QUEUED:
        runs.finish_run(session, deps, run, status=runs.STATUS_FAILED, actor=api_actor(client), message=message)


def reconcile_run(session: Session, deps: Deps, job: Job) -> dict[str, Any] | None:
    """Poll the provisioning logs after an upload until every record of the run has a result."""
    try:
        result = reconcile(session, deps, run_id=int(job.payload["run_id"]))
    except GraphTransientError as exc:
        raise RetryLater(f"reading the provisioning logs failed: {exc}") from None
    if result.pending:
        raise RetryLater(f"{result.pending} record(s) still waiting for Microsoft's result")
    return {"checked": result.checked, "succeeded": result.succeeded, "failed": result.failed}


def scheduled_reconcile(session: Session, deps: Deps, job: Job) -> dict[str, Any] | None:
    try:
        result = reconcile(session, deps)
    except GraphTransientError as exc:
        raise RetryLater(f"reading the provisioning logs failed: {exc}") from None
    return {"checked": result.checked, "pending": result.pending, "queued_for_invite": result.queued_for_invite}


def scheduled_invites(session: Session, deps: Deps, job: Job) -> dict[str, Any] | None:
    """Close expired windows, then queue one paced `mail.invite` job per joiner who is due today."""
    expired = invites.expire_closed(session, deps)
    now = deps.clock.now()
    queued = 0
    for person in invites.due_people(session, deps, now):
        if invites.why_not_invitable(person, deps, now) is None:
            submit(session, deps, "mail.invite", {"person_id": person.id}, key=f"{person.id}:{now.date().isoformat()}")
            queued += 1
    session.commit()
    return {"expired": len(expired), "invites_queued": queued}


def scheduled_expiry(session: Session, deps: Deps, job: Job) -> dict[str, Any] | None:
    """Hourly: close activation windows that ended, and forget week-old periodic firings."""
    return {"expired": invites.expire_closed(session, deps),
            "periodic_jobs_pruned": ledger.prune_finished_periodic(session, now=deps.clock.now())}


def scheduled_credential_watch(session: Session, deps: Deps, job: Job) -> dict[str, Any] | None:
    """Day one ends with a credential: check the users whose next check is due (each backs off itself)."""
    report = credentials.watch_due(session, deps)
    return {"checked": report.checked, "registered": len(report.registered), "failed": len(report.failed),
            "still_watching": report.still_watching}


def drop_folder(session: Session, deps: Deps, job: Job) -> dict[str, Any] | None:
    """Provision every HR extract in the drop folder once (by content hash), then move it to processed/."""
    folder = Path(deps.settings.queue.drop_folder)
    if not deps.settings.queue.drop_folder or not folder.is_dir():
        return {"files": 0}
    done = folder / "processed"
    done.mkdir(exist_ok=True)
    handled: list[dict[str, Any]] = []
    mapping = resolve_mapping(deps.settings)
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".csv", ".json")):
        digest = file_sha256(path)
        earlier = session.scalars(select(ProvisioningRun.id).where(
            ProvisioningRun.file_hash == digest, ProvisioningRun.mode == runs.MODE_APPLY,
            ProvisioningRun.status.in_((runs.STATUS_UPLOADED, runs.STATUS_COMPLETED, runs.STATUS_BLOCKED)))).first()
        if earlier is None:
            try:
                result = provision_file(session, deps, path, mapping=mapping)
            except runs.RunInProgress as exc:
                raise RetryLater(str(exc), delay=300) from None
            except InputFileError as exc:
                handled.append({"file": path.name, "error": str(exc)})
                path.rename(done / f"{deps.clock.now():%Y%m%dT%H%M%S}-rejected-{path.name}")
                continue
            earlier = result.run_id
            if result.status == runs.STATUS_UPLOADED:
                submit(session, deps, "provisioning.reconcile", {"run_id": result.run_id},
                       key=f"run-{result.run_id}", delay_seconds=RECONCILE_FIRST_CHECK_SECONDS,
                       max_attempts=RECONCILE_CHECKS)
                session.commit()
        path.rename(done / f"{deps.clock.now():%Y%m%dT%H%M%S}-{path.name}")
        handled.append({"file": path.name, "run_id": earlier})
    return {"files": len(handled), "handled": handled}


def default_handlers() -> dict[str, Handler]:
    return {
        "mail.lost_link": lost_link_mail,
        "mail.manager_notice": manager_notice,
        "mail.invite": invite_mail,
        "provisioning.push": push_run,
        "provisioning.reconcile": reconcile_run,
        "schedule.reconcile": scheduled_reconcile,
        "schedule.invites_send": scheduled_invites,
        "schedule.expire": scheduled_expiry,
        "schedule.credentials_watch": scheduled_credential_watch,
        "schedule.provision_drop_folder": drop_folder,
    }


def backoff_seconds(first: float, attempt: int, *, cap: float = 3600.0) -> float:
    """Exponential: first, 2x, 4x ... capped; jitter is added by the runner."""
    return min(cap, first * 2 ** max(0, attempt - 1))
