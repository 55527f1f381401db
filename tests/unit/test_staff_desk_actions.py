"""Desk actions as services: guards, reasons, old codes killed, Graph failures reported and audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from activation import codes
from activation.graph.errors import ServiceUnavailable
from activation.models import ActivationState, AuditEvent
from activation.staff import desk_actions
from activation.staff.auth import DESK_ROLE, StaffMember
from activation.staff.desk_actions import DeskAction
from activation.staff.verification import Clearance
from tests.unit.starter_support import Flow, make_flow


def UNLOCK_CLEARED(person_id: int) -> Clearance:  # noqa: N802 - reads as a constant in the calls
    """What activation.staff.approvals hands over once the caller is verified (tested in test_desk_approvals)."""
    return Clearance(0, person_id, "unlock")


DANA = StaffMember("oid-dana", "Dana Desk", "dana@contoso.example", frozenset({DESK_ROLE}))


@pytest.fixture
def flow(memory_session: Session, make_settings) -> Flow:  # type: ignore[no-untyped-def]
    return make_flow(memory_session, make_settings())


def last_event(flow: Flow, action: str) -> AuditEvent:
    return flow.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                .order_by(AuditEvent.id.desc())).first()  # type: ignore[return-value]


def test_unlock_kills_the_old_code_and_resets_the_counter_but_keeps_the_link(flow: Flow) -> None:
    person = flow.person()
    token, opened = flow.invite(person)
    codes.request_code(flow.session, flow.deps, opened, "browser-1")
    old_code = flow.last_code()
    opened.activation.state = ActivationState.LOCKED
    opened.activation.failed_code_count = 10
    flow.session.commit()

    desk_actions.perform(flow.session, flow.deps, DANA, person.id, DeskAction.UNLOCK, "ticket 42",
                             clearance=UNLOCK_CLEARED(person.id))
    reopened = flow.reopen(token)  # the invite link still works
    assert (reopened.activation.state, reopened.activation.failed_code_count) == (ActivationState.INVITED, 0)
    with pytest.raises(codes.CodeExpired):
        codes.verify_code(flow.session, flow.deps, reopened, "browser-1", old_code)
    codes.request_code(flow.session, flow.deps, reopened, "browser-1")  # no cooldown left over
    assert codes.verify_code(flow.session, flow.deps, flow.reopen(token), "browser-1",
                             flow.last_code()).state is ActivationState.VERIFIED


@pytest.mark.parametrize("reason", ["", "   ", "ok", "x" * 501])
def test_a_reason_is_mandatory_and_bounded(flow: Flow, reason: str) -> None:
    person = flow.person()
    with pytest.raises(desk_actions.InvalidReason):
        desk_actions.perform(flow.session, flow.deps, DANA, person.id, DeskAction.CANCEL, reason)
    assert person.activation.state is ActivationState.PENDING  # type: ignore[union-attr]


def test_actions_that_do_not_apply_are_refused_and_audited(flow: Flow) -> None:
    person = flow.person()
    with pytest.raises(desk_actions.ActionRefused):
        desk_actions.perform(flow.session, flow.deps, DANA, person.id, DeskAction.UNLOCK, "ticket 42")
    event = last_event(flow, "desk.unlock")
    assert (event.actor_id, event.outcome, event.reason) == (DANA.oid, "refused", "ticket 42")


def test_keeping_an_expired_invite_is_refused(flow: Flow) -> None:
    person = flow.person()
    flow.invite(person)
    person.activation.state = ActivationState.LOCKED  # type: ignore[union-attr]
    flow.session.commit()
    flow.clock.advance(15 * 24 * 3600)
    with pytest.raises(desk_actions.ActionRefused):
        desk_actions.perform(flow.session, flow.deps, DANA, person.id, DeskAction.UNLOCK, "ticket 42",
                                 clearance=UNLOCK_CLEARED(person.id))
    desk_actions.perform(flow.session, flow.deps, DANA, person.id, DeskAction.UNLOCK, "ticket 42", new_invite=True,
                         clearance=UNLOCK_CLEARED(person.id))
    assert len(flow.mailer.sent_to("ada@home.example", "invite")) == 1


def test_revoke_tap_reports_a_graph_failure_and_audits_it(flow: Flow) -> None:
    person = flow.person()
    flow.graph.fail_next("list_taps", ServiceUnavailable("busy", status=503, code="serviceUnavailable"))
    with pytest.raises(desk_actions.ActionFailed) as failed:
        desk_actions.perform(flow.session, flow.deps, DANA, person.id, DeskAction.REVOKE_TAP, "pass shared")
    assert failed.value.done is False
    event = last_event(flow, "desk.revoke_tap")
    assert (event.outcome, event.details) == ("failure", {"error": "ServiceUnavailable"})


def test_revoke_tap_deletes_the_pass_in_graph(flow: Flow) -> None:
    person = flow.person()
    flow.graph.create_tap(person.entra_object_id or "", 60, True)
    done = desk_actions.perform(flow.session, flow.deps, DANA, person.id, DeskAction.REVOKE_TAP, "pass shared")
    assert flow.graph.list_taps(person.entra_object_id or "") == [] and "revoked" in done.message
    assert last_event(flow, "desk.revoke_tap").details == {"methods_removed": 1}
