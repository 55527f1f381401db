"""A lost Temporary Access Pass: verify again with a fresh code, get a new pass that replaces the old one."""

from __future__ import annotations

import pytest

from activation import account_steps, audit, codes, invites, lost_tap
from activation.graph.auth_methods import PASSKEY
from activation.lost_tap import NewPass
from activation.models import ActivationState
from activation.staff import desk_actions
from activation.staff.auth import DESK_ROLE, StaffMember
from tests.unit.starter_support import Flow, make_flow

BROWSER = "b" * 43
DANA = StaffMember("oid-dana", "Dana Desk", "dana@contoso.example", frozenset({DESK_ROLE}))


@pytest.fixture
def flow(memory_session, make_settings) -> Flow:  # type: ignore[no-untyped-def]
    return make_flow(memory_session, make_settings(portal={"public_url": "https://activate.example"}))


def activated(flow: Flow):  # type: ignore[no-untyped-def]
    manager = flow.person("M1", email="boss@home.example")
    person = flow.person(manager="M1")
    token, opened = flow.invite(person)
    codes.request_code(flow.session, flow.deps, opened, BROWSER)
    codes.verify_code(flow.session, flow.deps, flow.reopen(token), BROWSER, flow.last_code())
    first = account_steps.finish(flow.session, flow.deps, flow.reopen(token), BROWSER)
    return person, manager, token, first


def completed(flow: Flow, token: str) -> invites.OpenInvite:
    flow.session.expire_all()
    return invites.open_invite(flow.session, flow.deps, token, allow_completed=True)


def test_a_lost_pass_is_replaced_after_a_fresh_code_audited_and_the_manager_told(flow: Flow) -> None:
    person, manager, token, first = activated(flow)
    assert lost_tap.status(flow.session, flow.deps, person) is NewPass.AVAILABLE
    flow.clock.advance(3600)  # an hour later the note with the pass is lost
    new_token = lost_tap.start(flow.session, flow.deps, completed(flow, token), BROWSER)
    assert len(flow.mailer.sent_to("ada@home.example", "code")) == 2  # a fresh code to the personal email
    codes.verify_code(flow.session, flow.deps, flow.reopen(new_token), BROWSER, flow.last_code())
    second = account_steps.finish(flow.session, flow.deps, flow.reopen(new_token), BROWSER)
    assert "done" in flow.run_jobs()  # the manager's email is queued

    assert second.tap and second.tap != first.tap
    passes = flow.graph.list_taps(person.entra_object_id)
    assert len(passes) == 1 and passes[0].id == person.activation.tap_method_id  # one TAP per user
    assert person.activation.state is ActivationState.COMPLETED
    actions = [e.action for e in audit.events(flow.session, person_id=person.id, newest_first=False)]
    assert actions.count("account.enabled") == 1 and actions.count("activation.completed") == 1
    assert "tap.lost_reported" in actions and actions[-1] == "manager.notified"
    assert actions.index("tap.reissued") > actions.index("tap.lost_reported")
    [note] = flow.mailer.sent_to(manager.upn, "manager_new_pass")
    assert "new one" in note.text and second.tap not in note.text and second.tap not in note.html
    with pytest.raises(invites.InviteProblem) as again:  # and the new pass is shown once as well
        flow.reopen(new_token)
    assert again.value.reason == "completed"


def test_no_new_pass_once_the_old_one_was_used_to_sign_in(flow: Flow) -> None:
    person, _, token, _ = activated(flow)
    flow.graph.sign_in_with_tap(person.entra_object_id)
    assert lost_tap.status(flow.session, flow.deps, person) is NewPass.USED
    with pytest.raises(lost_tap.NewPassRefused):
        lost_tap.start(flow.session, flow.deps, completed(flow, token), BROWSER)
    assert len(flow.mailer.sent_to("ada@home.example", "code")) == 1
    assert audit.events(flow.session, action="tap.lost_reported")[0].outcome == "refused"


def test_after_a_desk_revoke_the_desk_decides(flow: Flow) -> None:
    person, _, token, _ = activated(flow)
    flow.person("SD1", with_account=False, email=None, entra_object_id=DANA.oid)
    desk_actions.perform(flow.session, flow.deps, DANA, person.id, desk_actions.DeskAction.REVOKE_TAP,
                         "caller reported the pass was seen by someone else")
    assert lost_tap.status(flow.session, flow.deps, person) is NewPass.REVOKED
    with pytest.raises(lost_tap.NewPassRefused):
        lost_tap.start(flow.session, flow.deps, completed(flow, token), BROWSER)


def test_no_new_pass_after_the_window_closes(flow: Flow) -> None:
    person, _, token, _ = activated(flow)
    flow.clock.advance(20 * 86400)
    assert lost_tap.status(flow.session, flow.deps, person) is NewPass.WINDOW_CLOSED


def test_a_graph_outage_is_not_taken_for_permission(flow: Flow) -> None:
    from activation.graph.errors import ServiceUnavailable

    person, _, _, _ = activated(flow)
    flow.graph.fail_next("list_taps", ServiceUnavailable("down", status=503))
    assert lost_tap.status(flow.session, flow.deps, person) is NewPass.UNAVAILABLE


def test_no_new_pass_once_a_passkey_is_registered(flow: Flow) -> None:
    """DESIGN 6: a lost TAP is replaced only while no method is registered yet."""
    person, _, token, _ = activated(flow)
    flow.graph.register_method(person.entra_object_id, PASSKEY)
    assert lost_tap.status(flow.session, flow.deps, person) is NewPass.REGISTERED
    with pytest.raises(lost_tap.NewPassRefused):
        lost_tap.start(flow.session, flow.deps, completed(flow, token), BROWSER)
    assert len(flow.mailer.sent_to("ada@home.example", "code")) == 1  # no fresh code went out
