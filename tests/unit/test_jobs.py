"""The job ledger and runner through their public functions: idempotent, retried with backoff, bounded,
paced, and visible, with real starter services, fake adapters and an injected clock."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from activation import audit, invites
from activation.jobs import ledger
from activation.jobs.handlers import default_handlers
from activation.jobs.mail_pacing import wait_for_room
from activation.jobs.periodic import PeriodicJob, default_schedule
from activation.jobs.runner import run_due, run_job
from activation.jobs.submit import submit
from activation.jobs.visibility import background_work
from activation.models import AuditEvent, Job, JobState
from tests.unit.starter_support import Flow, make_flow


@pytest.fixture
def flow(memory_session, make_settings) -> Flow:  # type: ignore[no-untyped-def]
    return make_flow(memory_session, make_settings(queue={"retry_delay_seconds": 10.0, "max_attempts": 3}))


def lost_link(flow: Flow, email: str = "ada@home.example") -> Job:
    job = submit(flow.session, flow.deps, "mail.lost_link", {"email": email})
    flow.session.commit()
    return job


def invited_person(flow: Flow):  # type: ignore[no-untyped-def]
    person = flow.person()
    invite = invites.issue(flow.session, flow.deps, person, audit.Actor.system())
    flow.session.flush()
    invites.send(flow.session, flow.deps, invite, person, audit.Actor.system())
    return person


def test_a_job_runs_once_however_often_it_is_handed_over(flow: Flow) -> None:
    invited_person(flow)
    job = lost_link(flow)
    handlers = default_handlers()
    assert run_job(flow.session, flow.deps, job.id, handlers).state is JobState.DONE
    assert run_job(flow.session, flow.deps, job.id, handlers).state is None  # a duplicate message: not claimed
    assert len(flow.mailer.sent_to("ada@home.example", "invite")) == 2  # the first invite, then the new link
    events = flow.session.scalars(select(AuditEvent).where(AuditEvent.request_id == f"job-{job.id}")).all()
    assert [e.action for e in events if e.action == "invite.sent"] == ["invite.sent"]


def test_the_same_key_is_one_job(flow: Flow) -> None:
    first = submit(flow.session, flow.deps, "schedule.expire", key="slot-1")
    second = submit(flow.session, flow.deps, "schedule.expire", key="slot-1")
    flow.session.commit()
    assert first.id == second.id and flow.session.scalar(select(Job.id).where(Job.key == "slot-1")) == first.id


def test_a_failing_mail_is_retried_with_growing_backoff_then_fails_with_its_reason(flow: Flow) -> None:
    invited_person(flow)
    job = lost_link(flow)
    flow.mailer.fail_next(3)
    handlers = default_handlers()
    first = run_job(flow.session, flow.deps, job.id, handlers)
    assert first.state is JobState.QUEUED and first.retry_at is not None
    first_wait = (first.retry_at - flow.clock.now()).total_seconds()
    assert 8 <= first_wait <= 12  # 10 s with jitter
    assert run_due(flow.session, flow.deps, handlers) == []  # not due before its backoff
    flow.clock.advance(first_wait)
    second = run_due(flow.session, flow.deps, handlers)[0]
    second_wait = (second.retry_at - flow.clock.now()).total_seconds()  # type: ignore[operator]
    assert 16 <= second_wait <= 24  # doubled
    flow.clock.advance(second_wait)
    assert run_due(flow.session, flow.deps, handlers)[0].state is JobState.FAILED  # bounded: 3 attempts
    flow.session.refresh(job)
    assert job.attempts == 3 and "gave up after 3 attempt(s)" in (job.last_error or "")
    assert "could not be emailed" in (job.last_error or "")
    board = background_work(flow.session, flow.clock.now())
    assert [line.job_id for line in board.failed] == [job.id] and "could not be emailed" in board.failed[0].reason


def test_a_retry_that_succeeds_sends_exactly_one_new_link(flow: Flow) -> None:
    invited_person(flow)
    job = lost_link(flow)
    flow.mailer.fail_next(1)
    handlers = default_handlers()
    run_job(flow.session, flow.deps, job.id, handlers)
    board = background_work(flow.session, flow.clock.now())
    assert [line.job_id for line in board.retrying] == [job.id] and board.queued == 1
    flow.clock.advance(60)
    assert [o.state for o in run_due(flow.session, flow.deps, handlers)] == [JobState.DONE]
    assert len(flow.mailer.sent_to("ada@home.example", "invite")) == 2
    refused = flow.session.scalars(select(AuditEvent).where(AuditEvent.action == "lost_link.requested")).all()
    assert refused == []  # looked up once: the retry did not count against the rate limit again


def test_a_crashed_consumer_leaves_a_lease_that_expires_and_the_job_runs_again(flow: Flow) -> None:
    invited_person(flow)
    job = lost_link(flow)
    claimed = ledger.claim(flow.session, job.id, now=flow.clock.now(), lease_seconds=600)
    assert claimed is not None  # ... and the consumer died here, before doing anything
    assert ledger.due(flow.session, now=flow.clock.now()) == []
    flow.clock.advance(601)
    assert ledger.due(flow.session, now=flow.clock.now()) == [job.id]
    assert [o.state for o in run_due(flow.session, flow.deps, default_handlers())] == [JobState.DONE]
    assert len(flow.mailer.sent_to("ada@home.example", "invite")) == 2


def test_queued_mail_waits_for_room_under_the_mailbox_limit_without_using_attempts(flow: Flow, caplog) -> None:  # type: ignore[no-untyped-def]
    person = invited_person(flow)  # one email in this minute already
    limit = flow.deps.settings.queue.mail_per_minute
    for _ in range(limit - 1):
        flow.deps.audit(flow.session, action="code.sent", actor=audit.Actor.starter(), person=person)
    flow.session.commit()
    with pytest.raises(Exception, match="mail paced"):
        wait_for_room(flow.session, now=flow.clock.now(), per_minute=limit)
    job = lost_link(flow)
    with caplog.at_level(logging.INFO, logger="activation.jobs.runner"):
        outcome = run_job(flow.session, flow.deps, job.id, default_handlers())
    flow.session.refresh(job)
    assert outcome.state is JobState.QUEUED and job.attempts == 0 and "mail paced" in (job.last_error or "")
    # the worker's log says why the email is late, without saying to whom
    waits = [r.getMessage() for r in caplog.records if "waits" in r.getMessage()]
    assert len(waits) == 1 and waits[0].startswith(f"job {job.id} (mail.lost_link) waits ")
    assert waits[0].endswith(f" s: {job.last_error}")
    assert "ada@home.example" not in caplog.text
    flow.clock.advance(61)
    assert [o.state for o in run_due(flow.session, flow.deps, default_handlers())] == [JobState.DONE]


def test_paced_mail_jobs_line_up_one_slot_apart_instead_of_waking_together(flow: Flow) -> None:
    """After a burst of code emails, every paced job waking at the same second would find the minute full
    again and be paced again (and again): each waits behind the ones already waiting."""
    person = invited_person(flow)
    limit = flow.deps.settings.queue.mail_per_minute
    for _ in range(limit - 1):
        flow.deps.audit(flow.session, action="code.sent", actor=audit.Actor.starter(), person=person)
    flow.session.commit()
    jobs = [lost_link(flow) for _ in range(3)]
    wake = []
    for job in jobs:
        run_job(flow.session, flow.deps, job.id, default_handlers())
        flow.session.refresh(job)
        assert job.state is JobState.QUEUED and job.attempts == 0
        wake.append(job.not_before)
    slot = 60 / limit
    gaps = [(later - earlier).total_seconds() for earlier, later in zip(wake, wake[1:], strict=False)]
    assert gaps == [pytest.approx(slot), pytest.approx(slot)]


def test_the_schedule_is_configurable_and_extensible(make_settings) -> None:  # type: ignore[no-untyped-def]
    kinds = [p.kind for p in default_schedule(make_settings())]
    assert kinds == ["schedule.reconcile", "schedule.invites_send", "schedule.expire", "schedule.credentials_watch"]
    with_folder = default_schedule(make_settings(queue={"drop_folder": "/srv/hr-drop"}))
    assert "schedule.provision_drop_folder" in [p.kind for p in with_folder]
    every_ten = PeriodicJob("credentials.watch", 10)
    from datetime import UTC, datetime

    assert every_ten.is_due(datetime(2026, 3, 2, 8, 20, tzinfo=UTC))
    assert not every_ten.is_due(datetime(2026, 3, 2, 8, 21, tzinfo=UTC))
    assert every_ten.slot(datetime(2026, 3, 2, 8, 20, tzinfo=UTC)) == "credentials.watch@2026-03-02T08:20"


def test_scheduled_invites_queue_one_paced_job_per_due_joiner(flow: Flow) -> None:
    flow.person("E1")
    flow.person("E2", email="bob@home.example")
    job = submit(flow.session, flow.deps, "schedule.invites_send", key="slot")
    flow.session.commit()
    assert run_job(flow.session, flow.deps, job.id, default_handlers()).state is JobState.DONE
    assert [o.state for o in run_due(flow.session, flow.deps, default_handlers())] == [JobState.DONE] * 2
    again = submit(flow.session, flow.deps, "schedule.invites_send", key="slot-2")
    flow.session.commit()
    run_job(flow.session, flow.deps, again.id, default_handlers())
    assert run_due(flow.session, flow.deps, default_handlers()) == []  # nobody is due twice
    assert len(flow.mailer.sent_to("ada@home.example", "invite")) == 1
    assert len(flow.mailer.sent_to("bob@home.example", "invite")) == 1


def test_a_throttled_mailbox_is_retried_after_its_retry_after(flow: Flow) -> None:
    from activation.mail.message import MailDeliveryError

    invited_person(flow)
    job = lost_link(flow)
    flow.mailer.fail_next(1, MailDeliveryError("Graph sendMail failed (Throttled)", backend="graph",
                                               cause="Throttled", retry_after=42))
    outcome = run_job(flow.session, flow.deps, job.id, default_handlers())
    assert outcome.state is JobState.QUEUED and outcome.retry_at == flow.clock.now() + timedelta(seconds=42)


def test_a_manager_notice_with_nobody_to_email_takes_no_mail_slot(flow: Flow) -> None:
    """The minute is full, but a manager with no work account on record gets nothing: the job ends at once
    (skipped, audited) instead of waiting for a slot it would not use."""
    person = invited_person(flow)
    person.manager_employee_id = "M404"  # not in HR
    for _ in range(flow.deps.settings.queue.mail_per_minute):
        flow.deps.audit(flow.session, action="code.sent", actor=audit.Actor.starter(), person=person)
    flow.session.commit()
    job = submit(flow.session, flow.deps, "mail.manager_notice", {"person_id": person.id})
    flow.session.commit()
    assert run_job(flow.session, flow.deps, job.id, default_handlers()).state is JobState.DONE
    skipped = flow.session.scalars(select(AuditEvent).where(AuditEvent.action == "manager.notified")).one()
    assert skipped.outcome == "skipped"

    flow.person("M1", email="boss@home.example")
    person.manager_employee_id = "M1"
    paced = submit(flow.session, flow.deps, "mail.manager_notice", {"person_id": person.id})
    flow.session.commit()
    assert run_job(flow.session, flow.deps, paced.id, default_handlers()).state is JobState.QUEUED  # a real email waits


def test_the_hourly_expiry_forgets_week_old_periodic_firings_but_keeps_failures(flow: Flow) -> None:
    """The schedule adds a ledger row a minute; finished ones older than a week go, failed ones stay
    for the desk, and other jobs are never touched."""
    now = flow.clock.now()

    def job(kind: str, key: str, state: JobState, days_ago: float) -> int:
        row = ledger.add(flow.session, kind, {}, now=now - timedelta(days=days_ago), key=key)
        row.state, row.finished_at = state, now - timedelta(days=days_ago)
        flow.session.commit()
        return row.id

    old_done = job("schedule.credentials_watch", "w@old", JobState.DONE, 8)
    recent_done = job("schedule.credentials_watch", "w@recent", JobState.DONE, 1)
    old_failed = job("schedule.reconcile", "r@old", JobState.FAILED, 8)
    old_mail = job("mail.invite", "m@old", JobState.DONE, 30)
    expiry = submit(flow.session, flow.deps, "schedule.expire", {}, key="e@now")
    flow.session.commit()

    outcome = run_job(flow.session, flow.deps, expiry.id, default_handlers())

    assert outcome.state is JobState.DONE
    left = set(flow.session.scalars(select(Job.id)))
    assert old_done not in left and {recent_done, old_failed, old_mail, expiry.id} <= left
    flow.session.refresh(expiry)
    assert expiry.result == {"expired": [], "periodic_jobs_pruned": 1}


def test_every_scheduled_kind_is_one_the_expiry_may_prune(make_settings) -> None:  # type: ignore[no-untyped-def]
    """The pruning knows periodic firings by their kind's prefix: a scheduled job named otherwise would
    pile up a row a firing for ever."""
    schedule = default_schedule(make_settings(queue={"drop_folder": "/srv/hr-drop"}))
    assert schedule and all(periodic.kind.startswith(ledger.PERIODIC_PREFIX) for periodic in schedule)
