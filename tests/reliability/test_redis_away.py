"""Redis (a private redis-server: staff sessions and the job queue's store) goes away and comes back:
code attempts still count and stop at the cap (fail closed: they live in the database, never in
Redis or worker memory), staff and starters see calm pages, and everything recovers: the staff
session works again and the email queued meanwhile goes out once."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select

from activation import audit, invites
from activation.clock import FakeClock
from activation.graph.fake import FakeGraph
from activation.mail.fake import FakeMailer
from activation.models import Activation, ActivationState, AuditEvent, HrStatus, Job, JobState, Person
from activation.runtime import Runtime
from activation.staff import login
from activation.staff.auth import DESK_ROLE, StaffMember
from portal import create_app
from tests.portal_support import csrf_token, post_form
from tests.reliability.support import PrivateRedis, shows_internals

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
INTERNALS = ("Traceback", "redis", "Redis", "ConnectionError", "6379", "Errno")


def calm(page: str) -> bool:
    return not shows_internals(page, INTERNALS)


def test_redis_away_fails_closed_and_recovers(make_settings, postgres_url, private_redis: PrivateRedis) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(database={"url": postgres_url}, portal={"public_url": "http://localhost"},
                             redis={"url": private_redis.url}, queue={"url": private_redis.url.replace("/0", "/1")})
    clock = FakeClock(NOW)
    runtime = Runtime.from_settings(settings, clock=clock)
    graph, mailer = FakeGraph(clock=clock), FakeMailer()
    runtime.override("graph", graph)
    runtime.override("mailer", mailer)
    user = graph.add_user("R1", "r1@contoso.example", "Rosalind Franklin")
    with runtime.session_factory() as session:
        person = Person(employee_id="R1", given_name="Rosalind", family_name="Franklin",
                        display_name="Rosalind Franklin", personal_email="rf@home.example", start_date=NOW.date(),
                        hr_status=HrStatus.ACTIVE, time_zone="UTC", entra_object_id=user.id,
                        upn=user.user_principal_name)
        session.add(person)
        session.flush()
        invite = invites.issue(session, runtime.deps(), person, audit.Actor.system())
        session.commit()
        link = f"/a/{invites.token_service(runtime.deps()).dumps(invite.id)}"
    app = create_app(runtime=runtime)
    desk = StaffMember(oid=str(uuid.uuid4()), name="Dana Desk", username="dana@contoso.example",
                       roles=frozenset({DESK_ROLE}))
    staff = app.test_client()
    staff.set_cookie("staff_session", runtime.staff_sessions.create({"kind": login.SIGNED_IN,
                                                                      "member": desk.to_data()}))
    assert staff.get("/staff/desk/").status_code == 200
    starter = app.test_client()
    assert post_form(starter, link, f"{link}/send-code").status_code == 302
    code = re.search(r"\b(\d{6,8})\b", mailer.sent_to("rf@home.example", "code")[-1].text).group(1)  # type: ignore[union-attr]
    wrong = next(c for c in ("000000", "111111", "222222") if c != code)

    private_redis.stop()  # Redis goes away
    desk_page = staff.get("/staff/desk/")
    assert desk_page.status_code == 503 and calm(desk_page.get_data(as_text=True))
    assert "The service is busy" in desk_page.get_data(as_text=True)
    answers, pages = [], []
    for _ in range(settings.policy.otp_max_attempts + 2):  # guessing while Redis is away
        page = starter.get(f"{link}/code").get_data(as_text=True)
        answer = starter.post(f"{link}/code", data={"csrf_token": csrf_token(page), "code": wrong})
        answers.append(answer)  # post/redirect/get (issue 13): every guess answers 303 back to the code page
        pages.append(starter.get(answer.headers["Location"]) if answer.status_code == 303 else answer)
    assert all(a.status_code == 303 and "/pass" not in a.headers["Location"] for a in answers)
    assert all(calm(p.get_data(as_text=True)) for p in pages)
    tries = settings.policy.otp_max_attempts
    assert all(p.status_code == 400 for p in pages[:tries])  # each counted guess refused (the last one leaves
    assert all("That code is not right" in p.get_data(as_text=True) for p in pages[:tries - 1])  # no box)
    assert all(p.status_code == 200 and 'id="code-used-up"' in p.get_data(as_text=True)
               and 'name="code"' not in p.get_data(as_text=True) for p in pages[tries:])  # used up: no box
    page = starter.get(f"{link}/code").get_data(as_text=True)
    late = starter.post(f"{link}/code", data={"csrf_token": csrf_token(page), "code": code})
    assert late.status_code == 303 and "/pass" not in late.headers["Location"]  # the cap held: even the right
    late_page = starter.get(late.headers["Location"])  # code no longer works for this one
    assert 'id="code-used-up"' in late_page.get_data(as_text=True) and calm(late_page.get_data(as_text=True))
    with runtime.session_factory() as session:
        activation = session.scalars(select(Activation)).one()
        counted = activation.failed_code_count
        assert counted >= settings.policy.otp_max_attempts  # every guess was counted in the database
        assert activation.state is ActivationState.CODE_SENT and activation.verified_at is None
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "code.verify", AuditEvent.outcome == "success")) == 0
    lost = post_form(starter, "/", "/lost-link", {"email": "rf@home.example"})
    assert lost.status_code == 200 and calm(lost.get_data(as_text=True))  # queued in the database meanwhile

    private_redis.start()  # Redis is back
    again = staff.get("/staff/desk/")  # this Redis keeps nothing on disk: the session is gone, so sign in again
    assert again.status_code == 302 and "/staff/" in again.headers["Location"]
    staff.set_cookie("staff_session", runtime.staff_sessions.create({"kind": login.SIGNED_IN,
                                                                      "member": desk.to_data()}))
    assert staff.get("/staff/desk/").status_code == 200  # sessions in Redis work again
    assert runtime.jobs.sweep() == 1  # the job the queue could not take is handed over now
    huey = runtime.jobs.huey
    while huey.pending_count():
        huey.execute(huey.dequeue())
    with runtime.session_factory() as session:
        job = session.scalars(select(Job)).one()
        assert job.state is JobState.DONE
    assert len(mailer.sent_to("rf@home.example", "invite")) == 1
    print(f"\n[redis away] injected: redis-server stopped, then started; counted: {len(answers) + 1} guesses while "  # noqa: T201
          f"down, {counted} counted, the right code refused after the cap, desk page {desk_page.status_code} calm, "
          "1 queued email sent once after recovery")
    runtime.dispose()
