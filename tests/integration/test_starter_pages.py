"""The starter's pages through the app factory, with fake Graph and mail, on every database backend."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime

import pytest
from flask import Flask
from sqlalchemy import select

from activation import invites
from activation.audit import Actor
from activation.clock import FakeClock
from activation.graph.errors import ServiceUnavailable
from activation.graph.fake import FakeGraph
from activation.mail.fake import FakeMailer
from activation.models import Activation, ActivationState, HrStatus, Person
from activation.runtime import Runtime
from portal import create_app
from tests.portal_support import csrf_token, post_form


class World:
    def __init__(self, app: Flask, runtime: Runtime, graph: FakeGraph, mailer: FakeMailer) -> None:
        self.app, self.runtime, self.graph, self.mailer = app, runtime, graph, mailer

    def joiner(self, employee_id: str = "E200", email: str = "grace@home.example") -> str:
        """A provisioned joiner with an invite; returns the invite path."""
        user = self.graph.add_user(employee_id, f"{employee_id.lower()}@contoso.example", "Grace Hopper")
        with self.runtime.session_factory() as session:
            person = Person(employee_id=employee_id, given_name="Grace", family_name="Hopper",
                            display_name="Grace Hopper", personal_email=email, start_date=date(2026, 3, 2),
                            hr_status=HrStatus.ACTIVE, time_zone="Europe/London",
                            entra_object_id=user.id, upn=user.user_principal_name)
            session.add(person)
            session.flush()
            invite = invites.issue(session, self.runtime.deps(), person, Actor.system())
            session.commit()
            return f"/a/{invites.token_service(self.runtime.deps()).dumps(invite.id)}"

    def code(self, email: str = "grace@home.example") -> str:
        text = self.mailer.sent_to(email, "code")[-1].text
        return re.search(r"\b(\d{6,8})\b", text).group(1)  # type: ignore[union-attr]

    def state(self, employee_id: str = "E200") -> ActivationState:
        with self.runtime.session_factory() as session:
            return session.scalars(select(Activation.state).join(Person).where(Person.employee_id == employee_id)).one()


@pytest.fixture
def world(make_settings, database_url, db_engine) -> World:  # type: ignore[no-untyped-def]
    settings = make_settings(database={"url": database_url})
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    runtime = Runtime.from_settings(settings, engine=db_engine, clock=clock)
    graph, mailer = FakeGraph(clock=clock), FakeMailer()
    runtime.override("graph", graph)
    runtime.override("mailer", mailer)
    return World(create_app(runtime=runtime), runtime, graph, mailer)


def test_happy_path_shows_the_pass_once(world: World) -> None:
    client = world.app.test_client()
    link = world.joiner()
    landing = client.get(link)
    assert landing.status_code == 200 and "Welcome, Grace" in landing.get_data(as_text=True)
    assert world.state() is ActivationState.INVITED  # opening the link changed nothing

    sent = post_form(client, link, f"{link}/send-code")
    assert sent.status_code == 302 and sent.headers["Location"].endswith(f"{link}/code")
    code_page = client.get(f"{link}/code").get_data(as_text=True)
    assert "g***@h***.example" in code_page and "Send a new code" in code_page

    posted = client.post(f"{link}/code", data={"csrf_token": csrf_token(code_page), "code": world.code()})
    assert posted.status_code == 303 and posted.headers["Location"].endswith(f"{link}/pass")  # post/redirect/get
    result = client.get(posted.headers["Location"])
    body = result.get_data(as_text=True)
    assert result.status_code == 200
    tap = html.unescape(re.search(r'id="tap">([^<]+)<', body).group(1))  # type: ignore[union-attr]
    assert tap and "e200@contoso.example" in body and "My Security Info" in body
    valid = re.search(r"<dt>Valid until</dt><dd>([^<]+)</dd>", body).group(1)  # type: ignore[union-attr]
    assert ") (" not in valid and "UTC" in valid and "(Europe/London)" in valid and "2 hours" in valid
    assert 'data-copy-target="upn"' in body  # a copy button for the sign-in name too
    assert result.headers["Cache-Control"] == "no-store"
    for cookie in client._cookies.values():  # noqa: SLF001 - the cookie jar is what a browser keeps
        assert tap not in cookie.value

    reloaded = client.get(f"{link}/pass")  # a reload repeats the GET: no form, no second pass
    assert reloaded.status_code == 200 and tap not in reloaded.get_data(as_text=True)
    assert "already activated" in reloaded.get_data(as_text=True)
    again = client.post(f"{link}/code", data={"csrf_token": csrf_token(code_page), "code": world.code()})
    assert tap not in again.get_data(as_text=True)
    assert "already activated" in again.get_data(as_text=True)


def test_wrong_code_error_is_next_to_the_field(world: World) -> None:
    client = world.app.test_client()
    link = world.joiner()
    post_form(client, link, f"{link}/send-code")
    code = world.code()
    wrong = str((int(code) + 1) % 10 ** len(code)).zfill(len(code))
    posted = post_form(client, f"{link}/code", f"{link}/code", {"code": wrong})
    assert posted.status_code == 303  # a reload of the answer repeats the GET, not the guess
    response = client.get(posted.headers["Location"])
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'aria-invalid="true"' in body and "4 tries left" in body
    client.get(posted.headers["Location"])
    with world.runtime.session_factory() as session:
        assert session.scalars(select(Activation.failed_code_count)).one() == 1


def test_code_from_another_browser_does_not_work(world: World) -> None:
    link = world.joiner()
    post_form(world.app.test_client(), link, f"{link}/send-code")
    other = world.app.test_client()
    response = post_form(other, link, f"{link}/code", {"code": world.code()})
    assert response.status_code == 400 and "Ask for a new code" in response.get_data(as_text=True)


def test_graph_outage_gives_a_calm_try_again_page_and_retry_works(world: World) -> None:
    client = world.app.test_client()
    link = world.joiner()
    post_form(client, link, f"{link}/send-code")
    world.graph.fail_next("create_tap", ServiceUnavailable("upstream said no", status=503), times=1)
    failed = client.get(post_form(client, f"{link}/code", f"{link}/code", {"code": world.code()}).headers["Location"])
    body = failed.get_data(as_text=True)
    assert failed.status_code == 503 and "upstream said no" not in body and "you do not need a new code" in body
    retried = client.post(f"{link}/finish", data={"csrf_token": csrf_token(body)}, follow_redirects=True)
    assert retried.status_code == 200 and 'id="tap"' in retried.get_data(as_text=True)


def test_mail_failure_says_so(world: World) -> None:
    client = world.app.test_client()
    link = world.joiner()
    world.mailer.fail_next()
    response = post_form(client, link, f"{link}/send-code")
    assert response.status_code == 503
    assert "could not send the email" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/a/not-a-real-token", "/a/x/code"])
def test_unknown_links_get_a_calm_page(world: World, path: str) -> None:
    response = world.app.test_client().get(path)
    assert response.status_code == 404 and "do not recognise this link" in response.get_data(as_text=True)


def test_lost_link_answer_is_identical_for_known_and_unknown_addresses(world: World) -> None:
    world.joiner()
    client = world.app.test_client()
    answers = []
    for address in ("grace@home.example", "stranger@home.example"):
        response = post_form(client, "/", "/lost-link", {"email": address})
        body = re.sub(r'value="[^"]+"', "", response.get_data(as_text=True))
        answers.append((response.status_code, body))
    assert answers[0] == answers[1]
    assert len(world.mailer.sent_to("grace@home.example", "invite")) == 1
    assert world.mailer.sent_to("stranger@home.example") == []


def test_posts_without_csrf_are_refused(world: World) -> None:
    link = world.joiner()
    response = world.app.test_client().post(f"{link}/send-code")
    assert response.status_code == 400 and world.mailer.sent == []


@pytest.fixture
def password_world(make_settings, database_url, db_engine) -> World:  # type: ignore[no-untyped-def]
    settings = make_settings(database={"url": database_url}, policy={"password_path": True})
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    runtime = Runtime.from_settings(settings, engine=db_engine, clock=clock)
    graph, mailer = FakeGraph(clock=clock), FakeMailer()
    runtime.override("graph", graph)
    runtime.override("mailer", mailer)
    return World(create_app(runtime=runtime), runtime, graph, mailer)


def activate(world: World, client) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    link = world.joiner()
    post_form(client, link, f"{link}/send-code")
    result = post_form(client, f"{link}/code", f"{link}/code", {"code": world.code()})
    assert result.status_code == 303
    page = client.get(result.headers["Location"])
    assert page.status_code == 200
    return link, page.get_data(as_text=True)


def test_optional_password_is_checked_locally_then_set_through_graph(password_world: World) -> None:
    world, client = password_world, password_world.app.test_client()
    link, page = activate(world, client)
    assert "Prefer a password as well?" in page
    token = csrf_token(page)
    weak = client.post(f"{link}/password", data={"csrf_token": token, "password": "password",
                                                 "confirmation": "password"})
    assert weak.status_code == 400 and "at least three of" in weak.get_data(as_text=True)
    user_id = world.graph.find_user_by_employee_id("E200").id  # type: ignore[union-attr]
    assert not world.graph.password_was_set(user_id)  # refused before calling Graph
    good = client.post(f"{link}/password", data={"csrf_token": token, "password": "Correct-Horse-42",
                                                 "confirmation": "Correct-Horse-42"})
    assert good.status_code == 200 and "Your password is set" in good.get_data(as_text=True)
    assert world.graph.password_was_set(user_id)


def test_password_step_only_in_the_same_browser(password_world: World) -> None:
    world, client = password_world, password_world.app.test_client()
    link, _ = activate(world, client)
    other = world.app.test_client()
    page = other.get("/").get_data(as_text=True)
    response = other.post(f"{link}/password", data={"csrf_token": csrf_token(page), "password": "Correct-Horse-42",
                                                    "confirmation": "Correct-Horse-42"})
    assert response.status_code == 403


def test_password_path_is_off_by_default(world: World) -> None:
    client = world.app.test_client()
    _, page = activate(world, client)
    assert "Prefer a password as well?" not in page


def test_graph_refusing_the_password_gives_advice_not_an_error(password_world: World) -> None:
    from activation.graph.errors import PasswordComplexity

    world, client = password_world, password_world.app.test_client()
    link, page = activate(world, client)
    world.graph.fail_next("set_password", PasswordComplexity("does not comply", status=400, code="Request_BadRequest"))
    response = client.post(f"{link}/password", data={"csrf_token": csrf_token(page), "password": "Summer-2026!",
                                                     "confirmation": "Summer-2026!"})
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and "Microsoft did not accept that password" in body
    assert "Request_BadRequest" not in body and "Summer-2026!" not in body


def test_lost_link_answer_does_not_wait_for_the_email(make_settings, database_url, db_engine,  # type: ignore[no-untyped-def]
                                                     tmp_path) -> None:
    """The page comes back before the lookup and the email: its timing cannot tell who is known.

    The queue here is a real SQLite-backed Huey (as in development); the consumer's work is then run
    from the ledger, and the invite goes out once however often the job is run."""
    settings = make_settings(database={"url": database_url}, queue={"url": f"sqlite:///{tmp_path / 'queue.db'}"})
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    runtime = Runtime.from_settings(settings, engine=db_engine, clock=clock)
    graph, mailer = FakeGraph(clock=clock), FakeMailer()
    runtime.override("graph", graph)
    runtime.override("mailer", mailer)
    world = World(create_app(runtime=runtime), runtime, graph, mailer)
    world.joiner()
    client = world.app.test_client()
    response = post_form(client, "/", "/lost-link", {"email": "grace@home.example"})
    assert response.status_code == 200 and "Check your email" in response.get_data(as_text=True)
    assert mailer.sent_to("grace@home.example", "invite") == []  # answered before the email went
    assert runtime.jobs.huey.pending_count() == 1  # handed to the queue, not to a thread of this process
    assert [str(o.state) for o in runtime.jobs.run_due()] == ["done"]
    assert runtime.jobs.run_due() == []
    task = runtime.jobs.huey.dequeue()  # the queue's own copy of the message: a second run changes nothing
    runtime.jobs.huey.execute(task)
    assert len(mailer.sent_to("grace@home.example", "invite")) == 1


def test_a_lost_pass_gets_a_new_one_through_the_same_link(world: World) -> None:
    client = world.app.test_client()
    link, first_page = activate(world, client)
    first = html.unescape(re.search(r'id="tap">([^<]+)<', first_page).group(1))  # type: ignore[union-attr]
    reloaded = client.get(f"{link}/pass").get_data(as_text=True)
    assert first not in reloaded and "Lost your Temporary Access Pass?" in reloaded
    early = client.post(f"{link}/new-pass", data={"csrf_token": csrf_token(reloaded)})
    assert early.status_code == 429 and "You can ask again in" in early.get_data(as_text=True)
    world.runtime.deps().clock.advance(3600)  # type: ignore[attr-defined]
    moved = client.post(f"{link}/new-pass", data={"csrf_token": csrf_token(reloaded)})
    assert moved.status_code == 303 and moved.headers["Location"].endswith("/code")
    code_page = client.get(moved.headers["Location"]).get_data(as_text=True)
    posted = client.post(moved.headers["Location"], data={"csrf_token": csrf_token(code_page), "code": world.code()})
    second = client.get(posted.headers["Location"]).get_data(as_text=True)
    tap = html.unescape(re.search(r'id="tap">([^<]+)<', second).group(1))  # type: ignore[union-attr]
    assert tap != first and len(world.graph.list_taps(world.graph.find_user_by_employee_id("E200").id)) == 1


def test_after_a_desk_revoke_the_starter_is_told_what_to_do(world: World) -> None:
    from activation.staff import desk_actions
    from activation.staff.auth import DESK_ROLE, StaffMember

    client = world.app.test_client()
    link, _ = activate(world, client)
    desk = StaffMember("oid-desk", "Dana Desk", "dana@contoso.example", frozenset({DESK_ROLE}))
    with world.runtime.session_factory() as session:
        person = session.scalars(select(Person).where(Person.employee_id == "E200")).one()
        desk_actions.perform(session, world.runtime.deps(), desk, person.id, desk_actions.DeskAction.REVOKE_TAP,
                             "caller says the pass was photographed")
    page = client.get(link).get_data(as_text=True)
    assert "The service desk has withdrawn your Temporary Access Pass" in page and "new-pass" not in page
    assert "site-footer" not in page  # the contact is in the body, so the footer does not repeat it


def test_threat_mode_pauses_a_self_service_new_pass(world: World) -> None:
    from activation.staff import threat_mode
    from activation.staff.auth import DESK_ROLE, StaffMember
    from activation.staff.threat_mode import DESK_LEAD_ROLE

    client = world.app.test_client()
    link, _ = activate(world, client)
    world.runtime.deps().clock.advance(3600)  # type: ignore[attr-defined]
    lead = StaffMember("oid-lead", "Lee Lead", "lee@contoso.example", frozenset({DESK_ROLE, DESK_LEAD_ROLE}))
    with world.runtime.session_factory() as session:
        threat_mode.switch(session, world.runtime.deps(), lead, True, "a wave of calls to the desk")
    page = client.get(f"{link}/pass").get_data(as_text=True)
    paused = client.post(f"{link}/new-pass", data={"csrf_token": csrf_token(page)})
    assert paused.status_code == 503 and "Please try again a little later" in paused.get_data(as_text=True)
    assert len(world.mailer.sent_to("grace@home.example", "code")) == 1  # no fresh code went out
