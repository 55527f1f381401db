"""Provisioning is killed between batches: an HR push of 150 workers (3 bulkUpload calls, paced 3 s
apart) runs in the job consumer, which is SIGKILLed after the first batch. The job runs again: the
rest is uploaded, nobody twice, and the run records say what happened."""

from __future__ import annotations

import os
import signal
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import func, select

from activation.db import make_engine, make_session_factory
from activation.jobs.push import accept_push, run_progress
from activation.models import ApiClient, Job, JobState, ProvisioningItem, ProvisioningRun
from activation.runtime import Runtime
from tests.reliability.support import (
    emulator_env,
    emulator_settings,
    program,
    program_env,
    wait_for,
    worker_command,
    write_config_dir,
)

WORKERS = 150


def worker(n: int) -> dict[str, str]:
    return {
        "employee_id": f"P{n:03}", "first_name": "Ada", "last_name": f"Person{n}", "preferred_name": "",
        "personal_email": f"p{n:03}@home.example", "mobile_phone": "", "manager_id": "",
        "start_date": "2026-12-21", "end_date": "", "department": "Engineering", "job_title": "Engineer",
        "company": "Contoso Ltd", "country": "GB", "usage_location": "GB", "preferred_language": "en-GB",
        "time_zone": "Europe/London", "worker_type": "Employee", "status": "active",
    }


def uploaded_ids(control, info) -> list[str]:  # type: ignore[no-untyped-def]
    log = control.get(f"{info.base_url}/_emulator/requests").json()
    log = log["value"] if isinstance(log, dict) else log
    return [op["data"]["externalId"] for entry in log
            if entry["path"].endswith("/bulkUpload") and entry["status"] == 202
            for op in (entry.get("body") or {}).get("Operations", [])]


def test_a_run_killed_between_batches_completes_without_duplicates(  # type: ignore[no-untyped-def]
        make_settings, postgres_url, emulator, tmp_path) -> None:
    from activation.graph.http_session import build_http_session

    info = emulator.info
    control = build_http_session(info.ca_path)
    queue_url = f"sqlite:///{tmp_path / 'queue.db'}"
    config = write_config_dir(tmp_path, queue={"lease_seconds": 5, "retry_delay_seconds": 1.0},
                              policy={"upload_rate_calls": 1, "upload_rate_period_seconds": 3.0})
    env = program_env(ACTIVATION_CONFIG_DIR=str(config), ACTIVATION_DATABASE_URL=postgres_url,
                      ACTIVATION_QUEUE_URL=queue_url, ACTIVATION_SECRET_KEY="reliability-" + "k" * 40,
                      **emulator_env(info))
    settings = make_settings(database={"url": postgres_url}, microsoft=emulator_settings(info),
                             queue={"url": queue_url})
    runtime = Runtime.from_settings(settings)
    from activation import api_keys

    with runtime.session_factory() as session:
        client = api_keys.create_api_key(session, "workday", clock=runtime.clock)
        client_id = session.scalars(select(ApiClient.id)).one()
        body = [worker(n) for n in range(WORKERS)]
        run = accept_push(session, runtime.deps(), body, client_id=client_id, client_name="workday",
                          body=b"pushed")  # the API's 202: queued, handed to the consumer's queue
        run_id = run.id
    assert client.key

    engine = make_engine(postgres_url)
    sessions = make_session_factory(engine)

    def uploaded_items(of_run: int) -> int:
        with sessions() as session:
            return session.scalar(select(func.count()).select_from(ProvisioningItem).where(
                ProvisioningItem.run_id == of_run, ProvisioningItem.upload_status == "uploaded")) or 0

    log = tmp_path / "worker.log"
    with program(worker_command(), env, log) as first:
        wait_for(lambda: uploaded_items(run_id) >= 50, timeout=90, interval=0.02, what="the first batch went up")
        os.killpg(first.pid, signal.SIGKILL)  # between batches: the pacer waits 3 s before the next call
        first.wait(timeout=10)
    assert len(uploaded_ids(control, info)) == 50

    with sessions() as session:
        job = session.scalars(select(Job).where(Job.kind == "provisioning.push")).one()
        job_id = job.id
        assert job.state is JobState.RUNNING and session.get(ProvisioningRun, run_id).status == "running"  # type: ignore[union-attr]

    def finished() -> Job | None:
        with sessions() as session:
            row = session.get(Job, job_id)
            return row if row is not None and row.state is JobState.DONE else None

    def lease_over() -> bool:
        with sessions() as session:
            row = session.get(Job, job_id)
            return row is not None and row.lease_until is not None and row.lease_until < datetime.now(UTC)

    wait_for(lease_over, timeout=30, what="the dead consumer's lease ran out")
    with program(worker_command(), env, log):  # starting, it hands out what is due: this job
        done = wait_for(finished, timeout=120, what="the push job ran again and finished")
    sent = Counter(uploaded_ids(control, info))
    assert len(sent) == WORKERS and set(sent.values()) == {1}  # everyone once, nobody twice
    continued = int(done.result["run_id"])  # type: ignore[index]
    with sessions() as session:
        first_run, second_run = session.get(ProvisioningRun, run_id), session.get(ProvisioningRun, continued)
        assert first_run is not None and second_run is not None and continued != run_id
        assert first_run.status == "failed" and "interrupted" in (first_run.message or "")
        assert f"continued as run {continued}" in (first_run.message or "")
        assert second_run.status == "uploaded" and uploaded_items(continued) == WORKERS - 50
        progress = run_progress(session, run_id, client_id)
    assert progress["job"]["continued_as_run"] == continued and progress["job"]["attempts"] == 2
    engine.dispose()
    runtime.dispose()
    print(f"\n[provisioning killed] injected: SIGKILL after batch 1 of 3; counted: {sum(sent.values())} records "  # noqa: T201
          f"uploaded for {len(sent)} workers; run {run_id} {first_run.status} ({first_run.message}); "
          f"run {continued} {second_run.status} with {WORKERS - 50} records")
