"""The mail relay is down, then up: the starter sees a clear message at once; queued mail (here a
lost-link invite) waits, is retried with backoff, and goes out exactly once after recovery."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from activation import audit, invites
from activation.clock import FakeClock
from activation.graph.fake import FakeGraph
from activation.models import HrStatus, Job, JobState, Person
from activation.runtime import Runtime
from portal import create_app
from tests.portal_support import post_form
from tests.reliability.support import Relay

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADDRESS = "grace@home.example"


def test_relay_down_then_up_mail_goes_out_once(make_settings, postgres_url, relay: Relay, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(
        database={"url": postgres_url}, portal={"public_url": "http://localhost"},
        mail={"backend": "smtp", "smtp_host": "127.0.0.1", "smtp_port": relay.port, "smtp_security": "none",
              "smtp_timeout_seconds": 3.0},
        queue={"url": f"sqlite:///{tmp_path / 'queue.db'}", "retry_delay_seconds": 30.0},
    )
    clock = FakeClock(NOW)
    runtime = Runtime.from_settings(settings, clock=clock)
    graph = FakeGraph(clock=clock)
    runtime.override("graph", graph)
    user = graph.add_user("E1", "e1@contoso.example", "Grace Hopper")
    with runtime.session_factory() as session:
        person = Person(employee_id="E1", given_name="Grace", family_name="Hopper", display_name="Grace Hopper",
                        personal_email=ADDRESS, start_date=NOW.date(), hr_status=HrStatus.ACTIVE, time_zone="UTC",
                        entra_object_id=user.id, upn=user.user_principal_name)
        session.add(person)
        session.flush()
        invite = invites.issue(session, runtime.deps(), person, audit.Actor.system())
        session.commit()
        link = f"/a/{invites.token_service(runtime.deps()).dumps(invite.id)}"
    client = create_app(runtime=runtime).test_client()

    relay.stop()  # the relay goes away
    asked = post_form(client, link, f"{link}/send-code")
    page = asked.get_data(as_text=True)
    assert asked.status_code == 503 and "We could not send the email just now" in page
    assert "Traceback" not in page and "SMTP" not in page and "Errno" not in page  # calm, no internals
    lost = post_form(client, "/", "/lost-link", {"email": ADDRESS})
    assert lost.status_code == 200 and "Check your email" in lost.get_data(as_text=True)  # the same answer
    outcomes = runtime.jobs.run_due()
    assert [str(o.state) for o in outcomes] == ["queued"]  # failed once, will be retried
    with runtime.session_factory() as session:
        job = session.scalars(select(Job)).one()
        assert job.attempts == 1 and "could not be emailed" in (job.last_error or "")
    clock.advance(3600)
    assert [str(o.state) for o in runtime.jobs.run_due()] == ["queued"]  # still down: retried, not lost

    relay.start()  # the relay is back
    clock.advance(3600)
    assert [str(o.state) for o in runtime.jobs.run_due()] == ["done"]
    assert runtime.jobs.run_due() == []
    while runtime.jobs.huey.pending_count():  # Huey's own copies of the message (first nudge, retries)
        runtime.jobs.huey.execute(runtime.jobs.huey.dequeue())
    runtime.jobs.sweep()
    assert len(relay.to(ADDRESS)) == 1  # exactly once
    with runtime.session_factory() as session:
        job = session.scalars(select(Job)).one()
        assert job.state is JobState.DONE and job.attempts == 3 and job.payload["email"] is None
    body = relay.to(ADDRESS)[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(r"http://localhost(/a/[A-Za-z0-9_.\-]+)", body).group(1)  # type: ignore[union-attr]
    again = post_form(client, link, f"{link}/send-code")  # the new link works, and the code goes out at once
    assert again.status_code == 302 and len(relay.to(ADDRESS)) == 2
    print(f"\n[mail relay] injected: relay down for 2 job attempts and 1 code request; "  # noqa: T201
          f"counted: {len(relay.to(ADDRESS))} messages (1 new link, 1 code), job attempts 3")
    runtime.dispose()
