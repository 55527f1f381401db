"""Guessing the emailed code: one session, many sessions, parallel guesses across two portal processes
(two apps on one database), and resend loops. The caps hold because attempts are counted atomically in
the database before the comparison."""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import select

from activation.models import ActivationState, OtpChallenge
from activation.runtime import Runtime
from portal import create_app
from tests.security.starter_support import ask_for_code, form_token, starter_world, type_code, wrong
from tests.staff_support import StaffWorld


@pytest.fixture
def world(make_settings, database_url, db_engine) -> StaffWorld:  # type: ignore[no-untyped-def]
    return starter_world(make_settings, database_url, db_engine)


def attempts(world: StaffWorld, person: int) -> list[int]:
    with world.runtime.session_factory() as session:
        activation_id = world.activation(person).id
        return list(session.scalars(select(OtpChallenge.attempts).where(OtpChallenge.activation_id == activation_id)
                                    .order_by(OtpChallenge.created_at)))


def test_one_session_gets_five_tries_per_code_then_the_code_is_dead(world: StaffWorld) -> None:
    person = world.person("E1")
    link = world.invite_link(person)
    browser = world.app.test_client()
    ask_for_code(browser, link)
    code = world.code()
    for offset in range(1, 6):  # a wrong code is answered with a redirect to the code page, saying so
        answer = type_code(browser, link, wrong(code, offset))
        assert (answer.status_code, answer.request.path) == (400, f"{link}/code"), answer.request.path
    too_late = type_code(browser, link, code)  # the right code, too late: back to the code page, no pass
    assert too_late.request.path == f"{link}/code" and "cannot be tried again" in too_late.get_data(as_text=True)
    assert _answer(too_late) == _answer(type_code(browser, link, wrong(code, 6)))  # right or wrong: the same
    assert world.activation(person).state is not ActivationState.COMPLETED
    assert attempts(world, person) == [5]


def test_resends_do_not_reset_the_count_and_the_lockout_holds(world: StaffWorld) -> None:
    person = world.person("E1")
    link = world.invite_link(person)
    browser = world.app.test_client()
    threshold = world.runtime.settings.policy.lockout_threshold
    guesses = 0
    while guesses < threshold:
        world.clock.advance(61)
        ask_for_code(browser, link)
        code = world.code()
        for offset in range(1, 4):
            if guesses < threshold:
                type_code(browser, link, wrong(code, offset))
                guesses += 1
    assert world.activation(person).state is ActivationState.LOCKED
    world.clock.advance(61)
    browser.post(f"{link}/send-code", data={"csrf_token": form_token(browser, "/")})
    assert len(world.mailer.sent_to("grace@home.example", "code")) == (threshold + 2) // 3  # none once locked


def _answer(response) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    body = re.sub(r'value="[^"]*"|[0-9a-f]{16}', "", response.get_data(as_text=True))
    return response.status_code, body


def test_a_correct_code_on_a_locked_activation_looks_like_a_wrong_one(world: StaffWorld) -> None:
    person = world.person("E1")
    link = world.invite_link(person)
    browser = world.app.test_client()
    ask_for_code(browser, link)
    code = world.code()
    for offset in range(1, 6):
        type_code(browser, link, wrong(code, offset))
    world.clock.advance(61)
    ask_for_code(browser, link)
    code = world.code()
    for offset in range(1, 6):
        type_code(browser, link, wrong(code, offset))
    assert world.activation(person).state is ActivationState.LOCKED
    token = form_token(browser, "/")
    right = browser.post(f"{link}/code", data={"csrf_token": token, "code": code})
    other = browser.post(f"{link}/code", data={"csrf_token": token, "code": wrong(code, 7)})
    assert _answer(right) == _answer(other)
    assert world.activation(person).state is ActivationState.LOCKED


def test_guesses_from_other_browsers_never_reach_the_code(world: StaffWorld) -> None:
    person = world.person("E1")
    link = world.invite_link(person)
    owner = world.app.test_client()
    ask_for_code(owner, link)
    code = world.code()
    for n in range(20):  # twenty attackers, each with their own session and the right code even
        attacker = world.app.test_client()
        token = form_token(attacker, "/")
        attacker.post(f"{link}/code", data={"csrf_token": token, "code": wrong(code, n) if n else code})
    assert attempts(world, person) == [0]  # not a comparison against their live code: not counted
    assert world.activation(person).state is ActivationState.CODE_SENT
    assert type_code(owner, link, code).status_code == 200


def test_parallel_guesses_across_two_portal_processes_cannot_exceed_the_cap(
        make_settings, database_url, db_engine, world: StaffWorld) -> None:  # type: ignore[no-untyped-def]
    person = world.person("E1")
    link = world.invite_link(person)
    first = world.app.test_client()
    ask_for_code(first, link)
    code = world.code()
    # A second portal: its own app, runtime and connection pool (engine) on the same database, as a
    # second gunicorn worker or host would have.
    other_runtime = Runtime.from_settings(world.runtime.settings, clock=world.clock)
    other_runtime.override("graph", world.graph)
    other_runtime.override("mailer", world.mailer)
    second_app = create_app(runtime=other_runtime)
    cookie = first.get_cookie("activation")
    assert cookie is not None
    token = form_token(first, f"{link}/code")
    answers: list[int] = []

    def guess(app, offset: int) -> None:  # type: ignore[no-untyped-def]
        client = app.test_client()
        client.set_cookie("activation", cookie.value)
        answers.append(client.post(f"{link}/code", data={"csrf_token": token, "code": wrong(code, offset)})
                       .status_code)

    threads = [threading.Thread(target=guess, args=(app, n + 1))
               for n, app in enumerate([world.app, second_app] * 8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    other_runtime.engine.dispose()
    assert len(answers) == 16 and 500 not in answers
    assert attempts(world, person) == [world.runtime.settings.policy.otp_max_attempts]
    assert world.activation(person).failed_code_count <= world.runtime.settings.policy.otp_max_attempts


def test_a_resend_loop_is_held_by_the_cooldown(world: StaffWorld) -> None:
    person = world.person("E1")
    link = world.invite_link(person)
    browser = world.app.test_client()
    for _ in range(10):
        ask_for_code(browser, link)
        world.clock.advance(5)
    assert len(world.mailer.sent_to("grace@home.example", "code")) == 1
    assert len(attempts(world, person)) == 1


def test_the_code_never_reaches_a_cookie_or_the_page(world: StaffWorld) -> None:
    person = world.person("E1")
    link = world.invite_link(person)
    browser = world.app.test_client()
    ask_for_code(browser, link)
    code = world.code()
    page = browser.get(f"{link}/code").get_data(as_text=True)
    assert code not in page
    wrong_answer = type_code(browser, link, wrong(code)).get_data(as_text=True)
    assert code not in wrong_answer
    for name in ("activation", "staff_session"):
        cookie = browser.get_cookie(name)
        assert cookie is None or code not in cookie.value
