"""Day one ends with a credential: pre-TAP checks, watching methods with backoff, readiness, the funnel."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from activation import account_steps, codes, credentials, day_before, tap_checks
from activation.graph.auth_methods import AUTHENTICATOR, PASSKEY, TapPolicy
from activation.graph.errors import ServiceUnavailable
from activation.models import Activation, ActivationState, AuditEvent, Person
from activation.staff import funnel
from tests.unit.starter_support import Flow, make_flow


@pytest.fixture
def flow(memory_session: Session, make_settings) -> Flow:  # type: ignore[no-untyped-def]
    return make_flow(memory_session, make_settings())


def boss(flow: Flow) -> Person:
    manager = Person(employee_id="M1", given_name="Morgan", family_name="Manager", display_name="Morgan Manager",
                     start_date=date(2020, 1, 6), hr_status="active", entra_object_id="oid-morgan",
                     upn="morgan@contoso.example")
    flow.session.add(manager)
    flow.session.commit()
    return manager


def activated(flow: Flow, employee_id: str = "E100") -> Person:
    person = flow.person(employee_id, manager="M1", email=f"{employee_id.lower()}@home.example")
    token, opened = flow.invite(person)
    codes.request_code(flow.session, flow.deps, opened, "browser-1")
    codes.verify_code(flow.session, flow.deps, flow.reopen(token), "browser-1",
                      flow.last_code(f"{employee_id.lower()}@home.example"))
    account_steps.finish(flow.session, flow.deps, flow.reopen(token), "browser-1")
    return person


def finish_fails(flow: Flow) -> tuple[Person, account_steps.AccountStepFailed]:
    person = flow.person(manager="M1")
    token, opened = flow.invite(person)
    codes.request_code(flow.session, flow.deps, opened, "browser-1")
    codes.verify_code(flow.session, flow.deps, flow.reopen(token), "browser-1", flow.last_code())
    with pytest.raises(account_steps.AccountStepFailed) as failed:
        account_steps.finish(flow.session, flow.deps, flow.reopen(token), "browser-1")
    return person, failed.value


# -- pre-TAP checks -------------------------------------------------------------------------------------


def test_a_user_in_scope_without_methods_or_roles_passes(flow: Flow) -> None:
    user = flow.graph.add_user("E1")
    assert tap_checks.why_not_issue(flow.graph, user.id, flow.deps.settings.policy) is None


@pytest.mark.parametrize(("setup", "reason"), [
    ("disabled", "disabled in the tenant's authentication methods policy"),
    ("out of scope", "outside the Temporary Access Pass policy's scope"),
    ("excluded", "outside the Temporary Access Pass policy's scope"),
    ("lifetime", "outside the tenant's TAP range"),
    ("admin", "holds an administrator role (Global Administrator)"),
    ("methods", "already has sign-in methods registered (authenticator)"),
])
def test_each_pre_tap_check_names_its_reason(flow: Flow, setup: str, reason: str) -> None:
    user = flow.graph.add_user("E1")
    everyone = frozenset({"all_users"})
    if setup == "disabled":
        flow.graph.policy = TapPolicy(False, everyone, frozenset(), 60, 480, False)
    elif setup == "out of scope":
        flow.graph.policy = TapPolicy(True, frozenset({"group-joiners"}), frozenset(), 60, 480, False)
    elif setup == "excluded":
        flow.graph.policy = TapPolicy(True, everyone, frozenset({"group-vip"}), 60, 480, False)
        flow.graph.add_membership(user.id, "group-vip")
    elif setup == "lifetime":
        flow.graph.policy = TapPolicy(True, everyone, frozenset(), 60, 90, False)
    elif setup == "admin":
        flow.graph.add_membership(user.id, "role-1", role=True, name="Global Administrator")
    else:
        flow.graph.register_method(user.id, AUTHENTICATOR)
    assert reason in (tap_checks.why_not_issue(flow.graph, user.id, flow.deps.settings.policy) or "")


def test_a_group_in_scope_passes(flow: Flow) -> None:
    user = flow.graph.add_user("E1")
    flow.graph.policy = TapPolicy(True, frozenset({"group-joiners"}), frozenset(), 60, 480, False)
    flow.graph.add_membership(user.id, "group-joiners")
    assert tap_checks.why_not_issue(flow.graph, user.id, flow.deps.settings.policy) is None


def test_a_failed_check_sends_the_starter_to_the_desk_with_the_reason(flow: Flow) -> None:
    flow.graph.policy = TapPolicy(True, frozenset({"group-joiners"}), frozenset(), 60, 480, False)
    person, failed = finish_fails(flow)
    assert not failed.retryable and not any(call[0] == "create_tap" for call in flow.graph.calls)
    flow.session.expire_all()
    assert person.activation.state is ActivationState.FAILED  # type: ignore[union-attr]
    assert "outside the Temporary Access Pass policy" in (person.activation.failure_reason or "")  # type: ignore[union-attr]


def test_a_graph_error_during_the_checks_is_retryable(flow: Flow) -> None:
    flow.graph.fail_next("tap_policy", ServiceUnavailable("busy", status=503, code="serviceUnavailable"))
    person, failed = finish_fails(flow)
    assert failed.retryable
    flow.session.expire_all()
    assert person.activation.state is ActivationState.ENABLED  # type: ignore[union-attr]


# -- watching for the credential ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [PASSKEY, AUTHENTICATOR])
def test_a_registered_credential_is_recorded_the_tap_deleted_and_the_manager_told(flow: Flow, kind: str) -> None:
    boss(flow)
    person = activated(flow)
    user_id = person.entra_object_id or ""
    assert flow.graph.list_taps(user_id)
    assert credentials.watch_due(flow.session, flow.deps).registered == []
    flow.clock.advance(60)
    flow.graph.register_method(user_id, kind)
    report = credentials.watch_due(flow.session, flow.deps)
    assert report.registered == [("E100", kind)] and report.still_watching == 0
    flow.session.expire_all()
    activation = person.activation
    assert (activation.credential_type, activation.credential_at) == (kind, flow.clock.now())  # type: ignore[union-attr]
    assert flow.graph.list_taps(user_id) == [] and activation.tap_expires_at is None  # type: ignore[union-attr]
    told = flow.mailer.sent_to("morgan@contoso.example", "credential_registered")
    assert len(told) == 1 and "Ada Lovelace" in told[0].text
    event = flow.session.scalars(select(AuditEvent).where(AuditEvent.action == "credential.registered")).one()
    assert event.details == {"registered": kind, "temporary_method_removed": True}


def test_a_phone_method_is_not_a_day_one_credential(flow: Flow) -> None:
    person = activated(flow)
    flow.graph.register_method(person.entra_object_id or "", "phone")
    assert credentials.watch_due(flow.session, flow.deps).registered == []


def test_checks_back_off_and_stop_when_the_pass_expires(flow: Flow) -> None:
    person = activated(flow)
    checked_at = []
    for _ in range(400):  # minute by minute across the pass's 120-minute lifetime and beyond
        if credentials.watch_due(flow.session, flow.deps).checked:
            checked_at.append(flow.clock.now())
        flow.clock.advance(60)
    gaps = [(b - a) for a, b in zip(checked_at, checked_at[1:], strict=False)]
    assert gaps[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)] and max(gaps) == timedelta(minutes=15)
    assert checked_at[-1] < person.activation.tap_expires_at  # type: ignore[union-attr, operator]
    assert credentials.watch_due(flow.session, flow.deps).still_watching == 0


def test_a_graph_error_is_reported_and_retried_later(flow: Flow) -> None:
    person = activated(flow)
    flow.graph.fail_next("authentication_methods", ServiceUnavailable("busy", status=503, code="serviceUnavailable"))
    assert credentials.watch_due(flow.session, flow.deps).failed == [("E100", "ServiceUnavailable")]
    flow.graph.register_method(person.entra_object_id or "", PASSKEY)
    flow.clock.advance(60)
    assert credentials.watch_due(flow.session, flow.deps).registered == [("E100", PASSKEY)]


# -- the funnel and "no credential yet" ------------------------------------------------------------------


def test_the_funnel_counts_each_step_with_drop_off_and_the_median(flow: Flow) -> None:
    boss(flow)
    first, second = activated(flow, "E1"), activated(flow, "E2")
    flow.invite(flow.person("E3", email="e3@home.example"))
    flow.mailer.sent.clear()
    flow.clock.advance(30 * 60)
    flow.graph.register_method(first.entra_object_id or "", PASSKEY)
    credentials.watch_due(flow.session, flow.deps)
    board = funnel.compute(flow.session, flow.clock.now())
    assert [(s.name, s.count) for s in board.steps] == [("invited", 3), ("code sent", 2), ("TAP issued", 2),
                                                        ("credential registered", 1)]
    assert [s.drop_off for s in board.steps] == [None, pytest.approx(1 / 3), 0.0, 0.5]
    assert board.median_invite_to_credential == timedelta(minutes=30) and board.measured == 1
    assert [(w.employee_id, w.words) for w in board.waiting] == [("E2", "TAP unused, 1 h 30 min left")]
    flow.clock.advance(2 * 3600)
    assert "no credential yet" in funnel.compute(flow.session, flow.clock.now()).waiting[0].words
    assert second.id == board.waiting[0].person_id


# -- the day-before readiness report ---------------------------------------------------------------------


def test_readiness_lists_who_starts_tomorrow_and_will_get_stuck(flow: Flow) -> None:
    boss(flow)
    tomorrow = date(2026, 3, 3)
    flow.person("E1", manager="M1", start_date=tomorrow)  # ready
    flow.person("E2", manager="M1", start_date=tomorrow, email=None)
    flow.person("E3", manager="M1", start_date=tomorrow, with_account=False)
    flow.person("E4", manager="M1", start_date=tomorrow, on_prem=True)
    outside = flow.person("E5", manager="M1", start_date=tomorrow)
    flow.person("E6", manager="NOBODY", start_date=tomorrow)
    flow.person("E7", start_date=date(2026, 3, 10), email=None)  # not tomorrow
    flow.graph.policy = TapPolicy(True, frozenset({"group-joiners"}), frozenset(), 60, 480, False)
    for employee_id in ("E1", "E2", "E4", "E6"):
        user = flow.graph.find_user_by_employee_id(employee_id)
        flow.graph.add_membership(user.id, "group-joiners")  # type: ignore[union-attr]
    assert outside.entra_object_id
    report = day_before.tomorrow(flow.session, flow.deps)
    reasons = {row.employee_id: row.reasons for row in report.stuck}
    assert report.day == tomorrow and report.checked == 6 and set(reasons) == {"E2", "E3", "E4", "E5", "E6"}
    assert reasons["E2"] == ("no personal email from HR",)
    assert reasons["E3"] == ("no Entra account yet",)
    assert "on-premises" in reasons["E4"][0]
    assert "outside the Temporary Access Pass policy" in reasons["E5"][0]
    assert reasons["E6"] == ("manager unknown",)


def test_readiness_never_says_ready_when_it_could_not_look(flow: Flow) -> None:
    boss(flow)
    flow.person("E1", manager="M1", start_date=date(2026, 3, 3))
    flow.graph.fail_next("get_user", ServiceUnavailable("busy", status=503, code="serviceUnavailable"))
    assert "could not be checked" in day_before.tomorrow(flow.session, flow.deps).stuck[0].reasons[0]


def test_activation_rows_carry_no_tap(flow: Flow) -> None:
    activated(flow)
    row = flow.session.scalars(select(Activation)).one()
    assert row.tap_method_id and not hasattr(row, "tap")


def test_the_desk_tells_an_unused_pass_from_a_used_one_without_a_credential(flow: Flow) -> None:
    unused, used = activated(flow, "E1"), activated(flow, "E2")
    flow.graph.sign_in_with_tap(used.entra_object_id or "")
    credentials.watch_due(flow.session, flow.deps)
    words = {w.employee_id: w.words for w in funnel.compute(flow.session, flow.clock.now()).waiting}
    assert words == {"E1": "TAP unused, 2 h left", "E2": "no credential yet: signed in with the TAP, 2 h left"}
    assert unused.id != used.id


def test_the_consumer_watches_for_credentials_on_its_schedule(flow: Flow) -> None:
    """No cron: the periodic `schedule.credentials_watch` job runs the watcher."""
    from activation.jobs.handlers import default_handlers
    from activation.jobs.runner import run_job
    from activation.jobs.submit import submit

    boss(flow)
    person = activated(flow)
    flow.clock.advance(120)
    flow.graph.register_method(person.entra_object_id or "", PASSKEY)
    job = submit(flow.session, flow.deps, "schedule.credentials_watch", key="slot-1")
    flow.session.commit()
    outcome = run_job(flow.session, flow.deps, job.id, default_handlers())
    flow.session.refresh(job)
    assert str(outcome.state) == "done" and job.result == {"checked": 1, "registered": 1, "failed": 0,
                                                             "still_watching": 0}
    assert flow.graph.list_taps(person.entra_object_id or "") == []
