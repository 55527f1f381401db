"""Invite links from the attacker's side: tampered, truncated, for another purpose, expired, replayed,
superseded, and opened by a mail scanner."""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeSerializer

from activation.models import ActivationState
from tests.security.starter_support import ask_for_code, form_token, starter_world, type_code
from tests.staff_support import StaffWorld


@pytest.fixture
def world(make_settings, database_url, db_engine) -> StaffWorld:  # type: ignore[no-untyped-def]
    return starter_world(make_settings, database_url, db_engine)


def unknown(response) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code == 404 and "do not recognise this link" in response.get_data(as_text=True)


def test_a_tampered_signature_or_payload_is_unknown(world: StaffWorld) -> None:
    link = world.invite_link(world.person("E1"))
    client = world.app.test_client()
    payload, _, signature = link.removeprefix("/a/").partition(".")
    # Flip the first character: the last one of a base64 signature also holds padding bits, so some
    # changes there decode to the very same bytes (and rightly still verify).
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    for token in (f"{payload}.{flipped}", f"{payload[:-2]}xx.{signature}", payload, f"{payload}.", signature):
        assert unknown(client.get(f"/a/{token}")), token
        assert unknown(client.get(f"/a/{token}/code")), token


@pytest.mark.parametrize("token", ["", "a" * 600, "%00", "..%2f..%2fetc%2fpasswd", "<script>", "{{7*7}}",
                                   "\u202e", "x" * 4000 + ".y"])
def test_malformed_tokens_get_the_calm_page_never_a_500(world: StaffWorld, token: str) -> None:
    response = world.app.test_client().get(f"/a/{token}")
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert "<script>" not in body and "Traceback" not in body


def test_a_token_for_another_purpose_is_refused(world: StaffWorld) -> None:
    person = world.person("E1")
    world.invite_link(person)
    with world.runtime.session_factory() as session:
        from activation.models import Invite

        invite_id = session.query(Invite.id).filter_by(person_id=person).order_by(Invite.issued_at.desc()).first()[0]
    secret = world.runtime.settings.secret_key
    for salt in ("wtf-csrf-token", "day-one-activation.lost-link", "itsdangerous"):
        forged = URLSafeSerializer(secret, salt=salt).dumps(invite_id)
        assert unknown(world.app.test_client().get(f"/a/{forged}")), salt
    other_deployment = URLSafeSerializer("another-secret", salt="day-one-activation.invite").dumps(invite_id)
    assert unknown(world.app.test_client().get(f"/a/{other_deployment}"))


def test_an_expired_invite_says_so_and_sends_no_code(world: StaffWorld) -> None:
    link = world.invite_link(world.person("E1"))
    world.clock.advance((world.runtime.settings.policy.invite_lifetime_days + 1) * 86400)
    client = world.app.test_client()
    assert client.get(link).status_code == 410
    assert client.post(f"{link}/send-code", data={}).status_code in (400, 410)
    assert world.mailer.sent_to("grace@home.example", "code") == []


def test_a_superseded_link_stops_working_when_a_new_one_is_sent(world: StaffWorld) -> None:
    person = world.person("E1")
    old = world.invite_link(person)
    new = world.invite_link(person)
    client = world.app.test_client()
    answer = client.get(old)
    assert answer.status_code == 410 and old != new
    assert client.get(new).status_code == 200


def test_a_used_link_cannot_be_replayed_to_get_another_pass(world: StaffWorld) -> None:
    person = world.person("E1")
    link = world.invite_link(person)
    browser = world.app.test_client()
    ask_for_code(browser, link)
    code = world.code()
    assert type_code(browser, link, code).status_code == 200
    assert world.activation(person).state is ActivationState.COMPLETED
    taps = [c for c in world.graph.calls if c[0] == "create_tap"]
    assert len(taps) == 1
    thief = world.app.test_client()
    replay = thief.get(link)
    assert replay.status_code in (200, 410) and 'id="tap"' not in replay.get_data(as_text=True)
    token = form_token(thief, "/")
    thief.post(f"{link}/send-code", data={"csrf_token": token})
    thief.post(f"{link}/code", data={"csrf_token": token, "code": code})
    thief.post(f"{link}/finish", data={"csrf_token": token})
    assert [c for c in world.graph.calls if c[0] == "create_tap"] == taps  # no second pass, whatever was tried
    assert len(world.mailer.sent_to("grace@home.example", "code")) == 1


def test_opening_a_link_changes_nothing_mail_scanners_are_harmless(world: StaffWorld) -> None:
    person = world.person("E1")
    link = world.invite_link(person)
    scanner = world.app.test_client()
    for path in (link, f"{link}/code", f"{link}/send-code", f"{link}/finish"):
        scanner.get(path)
        scanner.head(path)
    assert world.activation(person).state is ActivationState.INVITED
    assert world.mailer.sent_to("grace@home.example", "code") == []


def test_a_cancelled_persons_link_is_dead(world: StaffWorld) -> None:
    person = world.person("E1")
    link = world.invite_link(person)
    desk = world.sign_in(world.staff("Dana Desk", desk=True))
    world.post(desk, f"/staff/desk/people/{person}/cancel", data={"reason": "Offer withdrawn by HR"})
    assert world.app.test_client().get(link).status_code == 410
