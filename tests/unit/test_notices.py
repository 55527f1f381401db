"""Notices the starter can answer: sent after desk actions, signed single-use link, freezing the activation."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from activation import notices
from activation.models import ActivationState, AuditEvent, Person
from activation.staff import approvals
from activation.staff.desk_actions import DeskAction
from tests.unit.starter_support import Flow, make_flow
from tests.unit.test_desk_guard_rails import DANA, locked, manager


@pytest.fixture
def flow(memory_session: Session, make_settings) -> Flow:  # type: ignore[no-untyped-def]
    return make_flow(memory_session, make_settings())


def link_token(text: str) -> str:
    match = re.search(r"/not-me/(\S+)", text)
    assert match, "no wasn't-me link in the notice"
    return match.group(1)


def unlocked_with_notices(flow: Flow) -> Person:
    manager(flow)
    person = locked(flow)
    flow.graph.create_tap(person.entra_object_id or "", 60, True)
    approvals.request_action(flow.session, flow.deps, DANA, person.id, DeskAction.UNLOCK, "ticket 42",
                             method="id_check", reference="IDV-1")
    return person


def test_after_a_desk_action_the_starter_and_the_manager_get_a_notice(flow: Flow) -> None:
    unlocked_with_notices(flow)
    starter = flow.mailer.sent_to("ada@home.example", "account_notice")[-1]
    boss = flow.mailer.sent_to("morgan@contoso.example", "account_notice")[-1]
    assert "unlocked" in starter.text and "When: Monday 2 March 2026" in starter.text
    assert "By: the IT service desk" in starter.text and DANA.name not in starter.text
    assert "Ada Lovelace" in boss.text and link_token(starter.text) != link_token(boss.text)


def test_opening_the_link_changes_nothing(flow: Flow) -> None:
    person = unlocked_with_notices(flow)
    token = link_token(flow.mailer.sent_to("ada@home.example", "account_notice")[-1].text)
    notices.check_link(flow.session, flow.deps, token)
    notices.check_link(flow.session, flow.deps, token)
    flow.session.expire_all()
    assert person.activation.state is ActivationState.INVITED  # type: ignore[union-attr]


def test_following_the_link_freezes_the_activation_once(flow: Flow) -> None:
    person = unlocked_with_notices(flow)
    user_id = person.entra_object_id or ""
    flow.graph.enable_user(user_id)
    token = link_token(flow.mailer.sent_to("ada@home.example", "account_notice")[-1].text)
    assert notices.freeze(flow.session, flow.deps, token).graph_complete
    flow.session.expire_all()
    assert flow.graph.list_taps(user_id) == [] and flow.graph.user(user_id).account_enabled is False
    assert flow.graph.sessions_revoked(user_id) == 1
    assert person.activation.state is ActivationState.LOCKED  # type: ignore[union-attr]
    assert person.activation.frozen_at is not None  # type: ignore[union-attr]
    assert "wasn't me" in (person.activation.lock_reason or "")  # type: ignore[union-attr]
    frozen = flow.session.scalars(select(AuditEvent).where(AuditEvent.action == "activation.frozen")).one()
    assert frozen.outcome == "success"
    with pytest.raises(notices.NoticeLinkInvalid):
        notices.freeze(flow.session, flow.deps, token)


def test_a_graph_failure_still_locks_and_tells_the_desk(flow: Flow) -> None:
    from activation.graph.errors import ServiceUnavailable

    person = unlocked_with_notices(flow)
    flow.graph.fail_next("disable_user", ServiceUnavailable("busy", status=503, code="serviceUnavailable"))
    token = link_token(flow.mailer.sent_to("ada@home.example", "account_notice")[-1].text)
    assert not notices.freeze(flow.session, flow.deps, token).graph_complete
    flow.session.expire_all()
    assert person.activation.state is ActivationState.LOCKED  # type: ignore[union-attr]
    assert "disable the account" in (person.activation.failure_reason or "")  # type: ignore[union-attr]


@pytest.mark.parametrize("spoil", ["tampered", "expired", "other purpose"])
def test_a_bad_link_does_nothing(flow: Flow, spoil: str) -> None:
    from activation.invites import token_service as invite_tokens

    person = unlocked_with_notices(flow)
    token = link_token(flow.mailer.sent_to("ada@home.example", "account_notice")[-1].text)
    if spoil == "tampered":
        token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    elif spoil == "expired":
        flow.clock.advance(7 * 24 * 3600 + 1)
    else:
        token = invite_tokens(flow.deps).dumps(notices.token_service(flow.deps).loads(token))
    with pytest.raises(notices.NoticeLinkInvalid):
        notices.freeze(flow.session, flow.deps, token)
    flow.session.expire_all()
    assert person.activation.state is ActivationState.INVITED  # type: ignore[union-attr]


@pytest.mark.parametrize(("action", "words"), [(DeskAction.REVOKE_TAP, "revoked"), (DeskAction.CANCEL, "cancelled")])
def test_every_desk_action_sends_a_notice(flow: Flow, action: DeskAction, words: str) -> None:
    from activation.staff import desk_actions

    manager(flow)
    person = locked(flow)
    desk_actions.perform(flow.session, flow.deps, DANA, person.id, action, "ticket 43")
    notice = flow.mailer.sent_to("ada@home.example", "account_notice")[-1]
    assert words in notice.text and "/not-me/" in notice.text
    assert flow.mailer.sent_to("morgan@contoso.example", "account_notice")


def test_freezing_a_cancelled_activation_keeps_it_cancelled(flow: Flow) -> None:
    from activation.staff import desk_actions

    person = locked(flow)
    desk_actions.perform(flow.session, flow.deps, DANA, person.id, DeskAction.CANCEL, "offer withdrawn")
    token = link_token(flow.mailer.sent_to("ada@home.example", "account_notice")[-1].text)
    notices.freeze(flow.session, flow.deps, token)
    flow.session.expire_all()
    assert person.activation.state is ActivationState.CANCELLED  # type: ignore[union-attr]
    assert flow.graph.user(person.entra_object_id or "").account_enabled is False


def test_notices_through_the_outbox_on_a_sqlite_file_are_all_stored_and_audited(tmp_path, make_settings) -> None:  # type: ignore[no-untyped-def]
    """The demo's outbox stores each email through its own connection, and SQLite has one writer: the
    notices' audit rows must not hold the write lock while the next email is stored (they did once,
    and every second notice waited out the busy timeout, then failed)."""
    from dataclasses import replace

    from activation.db import make_engine, make_session_factory
    from activation.mail.outbox import OutboxMailer
    from activation.models import Base, OutboxMessage

    engine = make_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        flow = make_flow(session, make_settings())
        flow.deps = replace(flow.deps, mailer=OutboxMailer(factory))
        person = unlocked_with_notices(flow)
        stored = session.scalars(select(OutboxMessage.to_address)).all()
        assert {"ada@home.example", "morgan@contoso.example"} <= set(stored)
        outcomes = session.scalars(select(AuditEvent.outcome).where(
            AuditEvent.action == "notice.sent", AuditEvent.person_id == person.id)).all()
        assert outcomes == ["success", "success"]
    engine.dispose()
