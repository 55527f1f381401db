"""The job consumer (`activation worker`, a real process) is SIGKILLed in the middle of a job, while
the mail relay holds the message: the job runs again once its lease is over, and its effect (the
manager's email) happens exactly once."""

from __future__ import annotations

import os
import signal
import threading
from datetime import UTC, date, datetime

from sqlalchemy import func, select

from activation.db import make_engine, make_session_factory
from activation.jobs import ledger
from activation.models import AuditEvent, HrStatus, Job, JobState, Person
from tests.reliability.support import Relay, program, program_env, wait_for, worker_command, write_config_dir

MANAGER_UPN = "m1@contoso.example"


def seed_notice(url: str) -> int:
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        session.add(Person(employee_id="M1", given_name="Morgan", family_name="Manager", display_name="Morgan Manager",
                           start_date=date(2020, 1, 6), hr_status=HrStatus.ACTIVE, upn=MANAGER_UPN))
        starter = Person(employee_id="E1", given_name="Grace", family_name="Hopper", display_name="Grace Hopper",
                         personal_email="grace@home.example", start_date=date(2026, 3, 2), hr_status=HrStatus.ACTIVE,
                         manager_employee_id="M1")
        session.add(starter)
        session.flush()
        job = ledger.add(session, "mail.manager_notice", {"person_id": starter.id}, now=datetime.now(UTC))
        session.commit()
        job_id = job.id
    engine.dispose()
    return job_id


def job_row(url: str, job_id: int) -> Job:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            job = session.get(Job, job_id)
            assert job is not None
            session.expunge(job)
            return job
    finally:
        engine.dispose()


def test_a_killed_consumer_loses_no_job_and_the_effect_happens_once(postgres_url, relay: Relay, tmp_path) -> None:  # type: ignore[no-untyped-def]
    job_id = seed_notice(postgres_url)
    env = program_env(
        ACTIVATION_CONFIG_DIR=str(write_config_dir(tmp_path, queue={"lease_seconds": 5, "retry_delay_seconds": 1.0})),
        ACTIVATION_DATABASE_URL=postgres_url, ACTIVATION_QUEUE_URL=f"sqlite:///{tmp_path / 'queue.db'}",
        ACTIVATION_SECRET_KEY="reliability-" + "k" * 40, ACTIVATION_MAIL_BACKEND="smtp",
        ACTIVATION_SMTP_HOST="127.0.0.1", ACTIVATION_SMTP_PORT=str(relay.port), ACTIVATION_SMTP_SECURITY="none",
    )
    gate = threading.Event()
    relay.hold = gate  # the first message waits at DATA: the consumer is now mid-job
    log = tmp_path / "worker.log"
    with program(worker_command(), env, log) as first:
        wait_for(relay.holding.is_set, timeout=60, what="the consumer reached the mail relay")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    gate.set()
    assert relay.messages == []
    cut_off = job_row(postgres_url, job_id)
    assert cut_off.state is JobState.RUNNING and cut_off.attempts == 1  # the ledger remembers it was taken

    wait_for(lambda: job_row(postgres_url, job_id).lease_until < datetime.now(UTC), timeout=30,  # type: ignore[operator]
             what="the dead consumer's lease ran out")
    with program(worker_command(), env, log):
        done = wait_for(lambda: (row := job_row(postgres_url, job_id)).state is JobState.DONE and row, timeout=60,
                        what="the job ran again and finished")
    assert done.attempts == 2
    assert len(relay.to(MANAGER_UPN)) == 1  # its effect, once
    engine = make_engine(postgres_url)
    with make_session_factory(engine)() as session:
        notified = session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "manager.notified", AuditEvent.outcome == "success"))
    engine.dispose()
    assert notified == 1
    print(f"\n[consumer killed] injected: SIGKILL while the relay held the message; counted: job attempts "  # noqa: T201
          f"{done.attempts}, {len(relay.to(MANAGER_UPN))} email, {notified} audit event")
