"""Nothing tells an outsider who is a starter: identical answers, and the same work done inside the
request whether or not we know the address (timing is compared as work done, never timed)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from activation.models import ActivationState, Job, JobState
from tests.security.starter_support import form_token, starter_world
from tests.staff_support import StaffWorld


class HeldJobs:
    """Stands in for the job queue: keeps the ids handed to it, runs nothing until asked."""

    def __init__(self) -> None:
        self.job_ids: list[int] = []

    def enqueue_after_commit(self, session, job_id: int, delay_seconds: float | None = None) -> None:  # type: ignore[no-untyped-def]
        self.job_ids.append(job_id)


@pytest.fixture
def world(make_settings, database_url, db_engine) -> StaffWorld:  # type: ignore[no-untyped-def]
    world = starter_world(make_settings, database_url, db_engine)
    world.person("E1", email="grace@home.example")
    world.person("E2", email="done@home.example", state=ActivationState.COMPLETED)
    return world


@contextmanager
def statements(engine) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def normalised(response) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    return response.status_code, re.sub(r'value="[^"]+"|[0-9a-f]{16}', "", response.get_data(as_text=True))


ADDRESSES = ("grace@home.example", "GRACE@Home.Example", "stranger@home.example", "done@home.example",
             "nobody@nowhere.invalid")


def test_the_lost_link_answer_is_the_same_for_every_address(world: StaffWorld) -> None:
    answers = set()
    for address in ADDRESSES:
        client = world.app.test_client()
        answers.add(normalised(client.post("/lost-link", data={"csrf_token": form_token(client, "/"),
                                                               "email": address})))
    assert len(answers) == 1
    assert world.mailer.sent_to("grace@home.example", "invite")  # and the known one did get mail (rate-limited)
    assert world.mailer.sent_to("stranger@home.example") == []


def test_the_lost_link_request_does_the_same_work_whoever_asks(world: StaffWorld, db_engine) -> None:  # type: ignore[no-untyped-def]
    queue = world.runtime.jobs
    held = HeldJobs()
    world.runtime.override("jobs", held)
    work, jobs = {}, {}
    for address in ADDRESSES:
        client = world.app.test_client()
        token = form_token(client, "/")
        with statements(db_engine) as seen:
            client.post("/lost-link", data={"csrf_token": token, "email": address})
        with world.runtime.session_factory() as session:
            queued = [session.get(Job, job_id) for job_id in held.job_ids]
            kinds = tuple((job.kind, job.state, tuple(sorted(job.payload))) for job in queued)  # type: ignore[union-attr]
        work[address] = (tuple(seen), kinds)
        jobs[address] = list(held.job_ids)
        held.job_ids.clear()
    assert len(set(work.values())) == 1, work  # same statements, one queued job of one kind, for everyone
    assert all(len(ids) == 1 for ids in jobs.values())
    assert world.mailer.sent == []  # no lookup, no mail inside the request: that is the job's

    for ids in jobs.values():  # the job does the lookup (its work differs by design, after the answer went)
        assert queue.run(ids[0]).state is JobState.DONE
    assert world.mailer.sent_to("grace@home.example", "invite")
    for address in ("stranger@home.example", "done@home.example", "nobody@nowhere.invalid"):
        assert world.mailer.sent_to(address) == []
    with world.runtime.session_factory() as session:  # and the typed addresses are not kept
        assert all(session.get(Job, ids[0]).payload["email"] is None for ids in jobs.values())  # type: ignore[union-attr]


def test_api_key_answers_do_not_tell_unknown_from_wrong(world: StaffWorld) -> None:
    from activation import api_keys

    with world.runtime.session_factory() as session:
        key = api_keys.create_api_key(session, "workday").key
    client = world.app.test_client()
    answers = set()
    for presented in (key[:13] + "A" * 43, "dak_00000000_" + "A" * 43, "garbage"):
        response = client.post("/api/v1/workers", json=[], headers={"Authorization": f"Bearer {presented}"})
        answers.add((response.status_code, response.headers["WWW-Authenticate"],
                     response.get_json()["error"]["message"]))
    assert len(answers) == 1


def test_a_manager_cannot_tell_a_stranger_from_a_missing_person(world: StaffWorld) -> None:
    stranger = world.person("E9", manager="M-OTHER")
    manager = world.sign_in(world.staff("Morgan Manager", employee_id="M1"))
    seen = {manager.get(f"/staff/starters/{person}/resend").status_code for person in (stranger, 999_999)}
    assert len(seen) == 1 and seen != {200}


def test_an_unknown_key_and_a_wrong_key_do_the_same_work(world: StaffWorld, db_engine) -> None:  # type: ignore[no-untyped-def]
    from activation import api_keys

    with world.runtime.session_factory() as session:
        key = api_keys.create_api_key(session, "workday").key
    work = []
    for n, presented in enumerate((key[:13] + "A" * 43, "dak_0000000f_" + "A" * 43)):
        client = world.app.test_client()
        with statements(db_engine) as seen:
            client.post("/api/v1/workers", json=[], headers={"Authorization": f"Bearer {presented}"},
                        environ_base={"REMOTE_ADDR": f"192.0.2.{n + 1}"})
        work.append(tuple(seen))
    assert work[0] == work[1]  # one lookup by prefix, one constant-time comparison, one audit row, each


def test_a_cancelled_or_left_starter_gets_the_same_lost_link_answer(world: StaffWorld) -> None:
    person = world.person("E3", email="gone@home.example")
    desk = world.sign_in(world.staff("Dana Desk", desk=True))
    world.post(desk, f"/staff/desk/people/{person}/cancel", data={"reason": "Offer withdrawn by HR"})
    invites_before = len(world.mailer.sent_to("gone@home.example", "invite"))
    answers = set()
    for address in ("gone@home.example", "never@home.example"):
        client = world.app.test_client()
        answers.add(normalised(client.post("/lost-link", data={"csrf_token": form_token(client, "/"),
                                                               "email": address})))
    assert len(answers) == 1
    assert len(world.mailer.sent_to("gone@home.example", "invite")) == invites_before  # nothing for a cancelled one
