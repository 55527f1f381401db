"""The activation flow's rules (DESIGN section 6), through the services, with fakes and a fake clock."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from activation import account_steps, audit, codes, invites, lost_link, notices
from activation.graph.errors import OnPremisesMastered, ServiceUnavailable
from activation.mail.message import MailDeliveryError
from activation.models import ActivationState, AuditEvent, HrStatus, OtpChallenge
from tests.unit.starter_support import Flow, make_flow

BROWSER = "b" * 43
OTHER_BROWSER = "c" * 43


@pytest.fixture
def flow(memory_session, make_settings) -> Flow:  # type: ignore[no-untyped-def]
    return make_flow(memory_session, make_settings(portal={"public_url": "https://activate.example"}))


def wrong(code: str) -> str:
    return str((int(code) + 1) % 10 ** len(code)).zfill(len(code))


# -- invites ------------------------------------------------------------------------------------

def test_only_the_newest_unexpired_invite_is_valid(flow: Flow) -> None:
    person = flow.person()
    first_token, _ = flow.invite(person)
    second_token, opened = flow.invite(person)
    assert opened.invite.person_id == person.id
    with pytest.raises(invites.InviteProblem) as problem:
        flow.reopen(first_token)
    assert problem.value.reason == "superseded"
    flow.clock.advance(15 * 86400)
    with pytest.raises(invites.InviteProblem) as problem:
        flow.reopen(second_token)
    assert problem.value.reason == "expired"


@pytest.mark.parametrize("token", ["", "nonsense", "a" * 600])
def test_unknown_or_tampered_links_are_unknown(flow: Flow, token: str) -> None:
    person = flow.person()
    real, _ = flow.invite(person)
    for candidate in (token, real[:-2] + ("AA" if not real.endswith("AA") else "BB")):
        with pytest.raises(invites.InviteProblem) as problem:
            invites.open_invite(flow.session, flow.deps, candidate)
        assert problem.value.reason == "unknown"


def test_leaver_invite_is_cancelled(flow: Flow) -> None:
    person = flow.person()
    token, _ = flow.invite(person)
    person.hr_status = HrStatus.TERMINATED
    flow.session.commit()
    with pytest.raises(invites.InviteProblem) as problem:
        flow.reopen(token)
    assert problem.value.reason == "cancelled"


def test_invite_link_uses_the_public_url_and_mail_carries_no_code(flow: Flow) -> None:
    person = flow.person()
    invite = invites.issue(flow.session, flow.deps, person, audit.Actor.system())
    invites.send(flow.session, flow.deps, invite, person, audit.Actor.system())
    email = flow.mailer.sent_to("ada@home.example", "invite")[0]
    assert "https://activate.example/a/" in email.text
    assert invite.sent_at is not None


def test_send_due_invites_once_and_reports_who_could_not_be_invited(flow: Flow) -> None:
    flow.person("E1")
    flow.person("E2", email=None)
    flow.person("E3", with_account=False)
    leaver = flow.person("E4")
    leaver.hr_status = HrStatus.TERMINATED
    flow.person("E5", start_date=datetime(2026, 6, 1).date())  # far in the future: not due yet
    flow.session.commit()

    report = invites.send_due(flow.session, flow.deps)
    assert report.sent == ["E1"]
    reasons = dict(report.skipped)
    assert "no personal email" in reasons["E2"]
    assert "no account yet" in reasons["E3"]
    assert "leaver" in reasons["E4"]
    assert "E5" not in reasons
    assert invites.send_due(flow.session, flow.deps).sent == []
    assert len(flow.mailer.sent_to("ada@home.example", "invite")) == 1


def test_send_due_reports_mail_failures_and_retries_next_run(flow: Flow) -> None:
    flow.person("E1")
    flow.mailer.fail_next()
    report = invites.send_due(flow.session, flow.deps)
    assert report.sent == [] and report.failed[0][0] == "E1"
    assert invites.send_due(flow.session, flow.deps).sent == ["E1"]


# -- codes --------------------------------------------------------------------------------------

def test_code_is_emailed_and_only_its_keyed_hash_is_stored(flow: Flow) -> None:
    _, opened = flow.invite(flow.person())
    sent = codes.request_code(flow.session, flow.deps, opened, BROWSER)
    code = flow.last_code()
    assert len(code) == flow.deps.settings.policy.otp_digits
    assert sent.masked_email == "a***@h***.example"
    challenge = flow.session.scalars(select(OtpChallenge)).one()
    assert code not in challenge.code_hash and len(challenge.code_hash) == 64
    assert opened.activation.state is ActivationState.CODE_SENT
    assert (challenge.expires_at - challenge.created_at).total_seconds() == 600


def test_resend_has_a_cooldown_and_kills_the_old_code(flow: Flow) -> None:
    token, opened = flow.invite(flow.person())
    codes.request_code(flow.session, flow.deps, opened, BROWSER)
    first = flow.last_code()
    with pytest.raises(codes.CooldownActive) as cooldown:
        codes.request_code(flow.session, flow.deps, flow.reopen(token), BROWSER)
    assert 0 < cooldown.value.seconds_left <= 60
    flow.clock.advance(61)
    codes.request_code(flow.session, flow.deps, flow.reopen(token), BROWSER)
    second = flow.last_code()
    if first != second:
        with pytest.raises(codes.CodeRejected):
            codes.verify_code(flow.session, flow.deps, flow.reopen(token), BROWSER, first)
    activation = codes.verify_code(flow.session, flow.deps, flow.reopen(token), BROWSER, second)
    assert activation.state is ActivationState.VERIFIED


def test_code_expires_after_ten_minutes(flow: Flow) -> None:
    token, opened = flow.invite(flow.person())
    codes.request_code(flow.session, flow.deps, opened, BROWSER)
    flow.clock.advance(601)
    with pytest.raises(codes.CodeExpired):
        codes.verify_code(flow.session, flow.deps, flow.reopen(token), BROWSER, flow.last_code())


def test_code_is_bound_to_the_browser_that_asked(flow: Flow) -> None:
    token, opened = flow.invite(flow.person())
    codes.request_code(flow.session, flow.deps, opened, BROWSER)
    with pytest.raises(codes.CodeExpired):
        codes.verify_code(flow.session, flow.deps, flow.reopen(token), OTHER_BROWSER, flow.last_code())


def test_code_is_single_use(flow: Flow) -> None:
    token, opened = flow.invite(flow.person())
    codes.request_code(flow.session, flow.deps, opened, BROWSER)
    code = flow.last_code()
    codes.verify_code(flow.session, flow.deps, opened, BROWSER, code)
    with pytest.raises(codes.CodeExpired):
        codes.verify_code(flow.session, flow.deps, flow.reopen(token), BROWSER, code)


def test_five_tries_per_code(flow: Flow) -> None:
    token, opened = flow.invite(flow.person())
    codes.request_code(flow.session, flow.deps, opened, BROWSER)
    code = flow.last_code()
    left = []
    for _ in range(5):
        with pytest.raises(codes.CodeRejected) as rejected:
            codes.verify_code(flow.session, flow.deps, flow.reopen(token), BROWSER, wrong(code))
        left.append(rejected.value.tries_left)
    assert left == [4, 3, 2, 1, 0]
    with pytest.raises(codes.CodeExpired):  # even the right code: this one is used up
        codes.verify_code(flow.session, flow.deps, flow.reopen(token), BROWSER, code)


def test_lockout_across_codes_and_resend_does_not_reset_it(flow: Flow) -> None:
    token, opened = flow.invite(flow.person())
    threshold = flow.deps.settings.policy.lockout_threshold
    failures = 0
    while True:
        codes.request_code(flow.session, flow.deps, flow.reopen(token), BROWSER)
        code = flow.last_code()
        for _ in range(3):
            failures += 1
            try:
                codes.verify_code(flow.session, flow.deps, flow.reopen(token), BROWSER, wrong(code))
            except codes.CodeRejected:
                continue
            except codes.ActivationLocked:
                break
        else:
            flow.clock.advance(61)
            continue
        break
    assert failures == threshold
    activation = flow.reopen(token).activation
    assert activation.state is ActivationState.LOCKED and activation.lock_reason == "too many wrong codes"
    assert flow.session.scalars(select(AuditEvent).where(AuditEvent.action == "activation.locked")).one()


def test_only_comparisons_against_a_live_code_count_towards_the_lockout(flow: Flow) -> None:
    token, opened = flow.invite(flow.person())
    codes.request_code(flow.session, flow.deps, opened, BROWSER)
    first = flow.last_code()
    for _ in range(5):
        with pytest.raises(codes.CodeRejected):
            codes.verify_code(flow.session, flow.deps, flow.reopen(token), BROWSER, wrong(first))
    for _ in range(3):  # the used-up code again (a reload, a second tab): nothing is compared
        with pytest.raises(codes.CodeUsedUp):
            codes.verify_code(flow.session, flow.deps, flow.reopen(token), BROWSER, wrong(first))
    assert flow.reopen(token).activation.failed_code_count == 5
    flow.clock.advance(61)
    codes.request_code(flow.session, flow.deps, flow.reopen(token), BROWSER)
    flow.clock.advance(11 * 60)  # the new code expires unused
    for _ in range(3):
        with pytest.raises(codes.CodeExpired):
            codes.verify_code(flow.session, flow.deps, flow.reopen(token), BROWSER, "123456")
    activation = flow.reopen(token).activation
    assert activation.failed_code_count == 5 and activation.state is ActivationState.CODE_SENT


def test_the_pause_is_announced_before_it_happens(flow: Flow) -> None:
    token, opened = flow.invite(flow.person())
    threshold = flow.deps.settings.policy.lockout_threshold
    codes.request_code(flow.session, flow.deps, opened, BROWSER)
    announced = []
    for _ in range(5):
        with pytest.raises(codes.CodeRejected) as rejected:
            codes.verify_code(flow.session, flow.deps, flow.reopen(token), BROWSER, wrong(flow.last_code()))
        announced.append(rejected.value.failures_left)
    assert announced == [threshold - n for n in range(1, 6)]
    current = codes.current_code(flow.session, flow.deps, flow.reopen(token), BROWSER)
    assert current is not None and current.used_up and current.failures_left == threshold - 5


def test_locked_activation_answers_a_correct_code_like_a_wrong_one(flow: Flow) -> None:
    token, opened = flow.invite(flow.person())
    codes.request_code(flow.session, flow.deps, opened, BROWSER)
    code = flow.last_code()
    opened.activation.state = ActivationState.LOCKED
    flow.session.commit()
    outcomes = []
    for attempt in (code, wrong(code)):
        with pytest.raises(codes.ActivationLocked) as locked:
            codes.verify_code(flow.session, flow.deps, flow.reopen(token), BROWSER, attempt)
        outcomes.append((type(locked.value), str(locked.value)))
    assert outcomes[0] == outcomes[1]


def test_mail_failure_is_visible_audited_and_starts_no_cooldown(flow: Flow) -> None:
    token, opened = flow.invite(flow.person())
    flow.mailer.fail_next(error=MailDeliveryError("relay down", backend="fake"))
    with pytest.raises(codes.CodeNotSent):
        codes.request_code(flow.session, flow.deps, opened, BROWSER)
    assert flow.reopen(token).activation.state is ActivationState.INVITED
    failure = flow.session.scalars(select(AuditEvent).where(AuditEvent.action == "code.sent")).one()
    assert failure.outcome == "failure"
    codes.request_code(flow.session, flow.deps, flow.reopen(token), BROWSER)  # no cooldown after a failure


@pytest.mark.parametrize(("now", "when"), [
    (datetime(2026, 3, 1, 23, 0, tzinfo=UTC), "before"),  # 23:00 UTC on 1 March is still 1 March in London
    (datetime(2026, 3, 20, 9, 0, tzinfo=UTC), "after"),
])
def test_outside_the_window_nothing_is_sent(memory_session, make_settings, now, when) -> None:  # type: ignore[no-untyped-def]
    flow = make_flow(memory_session, make_settings(), now=now)
    _, opened = flow.invite(flow.person())
    with pytest.raises(codes.OutsideWindow) as outside:
        codes.request_code(flow.session, flow.deps, opened, BROWSER)
    assert outside.value.when == when
    assert outside.value.opens == "Monday 2 March 2026, 00:00 (Europe/London)"
    assert flow.mailer.sent == []


# -- account steps ------------------------------------------------------------------------------

def verified(flow: Flow, **person_fields):  # type: ignore[no-untyped-def]
    person = flow.person(**person_fields)
    token, opened = flow.invite(person)
    codes.request_code(flow.session, flow.deps, opened, BROWSER)
    codes.verify_code(flow.session, flow.deps, flow.reopen(token), BROWSER, flow.last_code())
    return person, token


def test_finish_enables_issues_one_tap_and_notifies_the_manager(flow: Flow) -> None:
    manager = flow.person("M1", email="boss@home.example")
    person, token = verified(flow, manager="M1")
    issued = account_steps.finish(flow.session, flow.deps, flow.reopen(token), BROWSER)
    assert issued.tap and issued.tap not in repr(issued)
    assert issued.user_principal_name == "e100@contoso.example"
    assert flow.graph.user(person.entra_object_id).account_enabled is True
    assert len(flow.graph.list_taps(person.entra_object_id)) == 1
    activation = person.activation
    assert activation.state is ActivationState.COMPLETED and activation.tap_expires_at is not None
    with pytest.raises(invites.InviteProblem) as problem:  # reload: the pass is never shown again
        flow.reopen(token)
    assert problem.value.reason == "completed"
    assert flow.mailer.sent_to(manager.upn, "manager_notification") == []  # queued, not sent in the request
    assert flow.run_jobs() == ["done"]
    assert flow.run_jobs() == []  # once
    notes = flow.mailer.sent_to(manager.upn, "manager_notification")
    assert len(notes) == 1 and issued.tap not in notes[0].text
    assert [m.kind for m in flow.mailer.sent if m.to == manager.upn] == ["manager_notification"]  # one email, not two
    actions = [e.action for e in audit.events(flow.session, person_id=person.id, newest_first=False)]
    assert actions[-5:] == ["account.enabled", "tap.issued", "activation.completed", "notice.sent",
                            "manager.notified"]  # the starter's notice in the request; the manager's email queued
    notice = flow.mailer.sent_to("ada@home.example", "account_notice")[-1]
    assert "/not-me/" in notice.text and issued.tap not in notice.text
    starter_link = re.search(r"/not-me/(\S+)", notice.text).group(1)  # type: ignore[union-attr]
    boss_link = re.search(r"/not-me/(\S+)", notes[0].text).group(1)  # type: ignore[union-attr]
    assert boss_link != starter_link and f'/not-me/{boss_link}"' in notes[0].html
    assert "7 days and only once" in notes[0].text


def test_the_managers_link_freezes_the_activation(flow: Flow) -> None:
    flow.person("M1", email="boss@home.example")
    person, token = verified(flow, manager="M1")
    account_steps.finish(flow.session, flow.deps, flow.reopen(token), BROWSER)
    flow.run_jobs()
    [note] = flow.mailer.sent_to("m1@contoso.example", "manager_notification")
    boss_link = re.search(r"/not-me/(\S+)", note.text).group(1)  # type: ignore[union-attr]
    assert notices.freeze(flow.session, flow.deps, boss_link).graph_complete
    flow.session.expire_all()
    assert person.activation.state is ActivationState.LOCKED
    assert flow.graph.user(person.entra_object_id).account_enabled is False
    assert flow.graph.list_taps(person.entra_object_id) == []


def test_with_manager_emails_off_the_manager_still_gets_a_notice_with_the_link(memory_session, make_settings) -> None:  # type: ignore[no-untyped-def]
    flow = make_flow(memory_session, make_settings(policy={"manager_notification": False}))
    flow.person("M1", email="boss@home.example")
    _person, token = verified(flow, manager="M1")
    account_steps.finish(flow.session, flow.deps, flow.reopen(token), BROWSER)
    assert flow.run_jobs() == []
    [boss] = [m for m in flow.mailer.sent if m.to == "m1@contoso.example"]
    assert boss.kind == "account_notice" and "/not-me/" in boss.text


def test_tap_failure_after_enable_can_be_retried_without_a_new_code(flow: Flow) -> None:
    person, token = verified(flow)
    flow.graph.fail_next("create_tap", ServiceUnavailable("try later", status=503, code="serviceNotAvailable"))
    with pytest.raises(account_steps.AccountStepFailed) as failed:
        account_steps.finish(flow.session, flow.deps, flow.reopen(token), BROWSER)
    assert failed.value.retryable
    activation = flow.reopen(token).activation
    assert activation.state is ActivationState.ENABLED
    assert "Temporary Access Pass" in (activation.failure_reason or "")

    issued = account_steps.finish(flow.session, flow.deps, flow.reopen(token), BROWSER)
    assert issued.tap
    operations = [name for name, _ in flow.graph.calls]
    assert operations.count("enable_user") == 1
    assert len(flow.graph.list_taps(person.entra_object_id)) == 1


def test_retry_window_and_browser_binding_for_resume(flow: Flow) -> None:
    _, token = verified(flow)
    with pytest.raises(account_steps.ResumeNotAllowed):
        account_steps.finish(flow.session, flow.deps, flow.reopen(token), OTHER_BROWSER)
    flow.clock.advance(16 * 60)
    with pytest.raises(account_steps.ResumeNotAllowed):
        account_steps.finish(flow.session, flow.deps, flow.reopen(token), BROWSER)


def test_another_browser_takes_no_lease_so_the_right_one_finishes_at_once(flow: Flow) -> None:
    person, token = verified(flow)
    with pytest.raises(account_steps.ResumeNotAllowed):
        account_steps.finish(flow.session, flow.deps, flow.reopen(token), OTHER_BROWSER)
    assert person.activation.step_lease_until is None
    assert account_steps.finish(flow.session, flow.deps, flow.reopen(token), BROWSER).tap


def test_on_premises_mastered_user_fails_with_a_reason_for_the_desk(flow: Flow) -> None:
    _, token = verified(flow, on_prem=True)
    with pytest.raises(account_steps.AccountStepFailed) as failed:
        account_steps.finish(flow.session, flow.deps, flow.reopen(token), BROWSER)
    assert not failed.value.retryable
    activation = flow.reopen(token).activation
    assert activation.state is ActivationState.FAILED
    assert "on-premises" in (activation.failure_reason or "")


def test_user_found_by_employee_id_when_reconciliation_has_not_run(flow: Flow) -> None:
    person, token = verified(flow)
    object_id = person.entra_object_id
    person.entra_object_id = None
    flow.session.commit()
    account_steps.finish(flow.session, flow.deps, flow.reopen(token), BROWSER)
    assert person.entra_object_id == object_id


def test_on_prem_error_type_is_what_the_fake_raises(flow: Flow) -> None:
    user = flow.graph.add_user("X1", "x1@contoso.example", on_premises_sync_enabled=True)
    with pytest.raises(OnPremisesMastered):
        flow.graph.enable_user(user.id)


# -- lost link ----------------------------------------------------------------------------------

def test_lost_link_sends_only_to_eligible_known_addresses(flow: Flow) -> None:
    person = flow.person()
    flow.invite(person)
    assert lost_link.request_new_link(flow.session, flow.deps, " ada@HOME.example ") is None
    assert lost_link.request_new_link(flow.session, flow.deps, "nobody@home.example") is None
    assert [e.to for e in flow.mailer.sent] == ["ada@home.example"]
    outcomes = [e.outcome for e in audit.events(flow.session, action="lost_link.requested")]
    assert outcomes == ["ignored"]


@pytest.mark.parametrize(("stored", "typed"), [
    ("zoe.nguyen@home.example", "Zoe.Nguyen@Home.Example"),
    ("Zoe.Nguyen@home.example", "zoe.nguyen@HOME.example"),
    ("ZOE.NGUYEN@HOME.EXAMPLE", " zoe.nguyen@home.example "),
])
def test_lost_link_compares_addresses_case_insensitively_on_both_sides(flow: Flow, stored: str, typed: str) -> None:
    person = flow.person(email=stored)
    flow.invite(person)
    lost_link.request_new_link(flow.session, flow.deps, typed)
    assert len(flow.mailer.sent_to(stored, "invite")) == 1
    assert [e.outcome for e in audit.events(flow.session, action="lost_link.requested")] == []


def test_a_new_invite_that_could_not_be_sent_keeps_the_old_link_working(flow: Flow) -> None:
    person = flow.person()
    first = invites.issue(flow.session, flow.deps, person, audit.Actor.system())
    invites.send(flow.session, flow.deps, first, person, audit.Actor.system())
    old_token = invites.token_service(flow.deps).dumps(first.id)
    flow.clock.advance(3600)
    second = invites.issue(flow.session, flow.deps, person, audit.Actor.staff("oid-manager"))
    flow.mailer.fail_next()
    with pytest.raises(invites.InviteNotSent):
        invites.send(flow.session, flow.deps, second, person, audit.Actor.staff("oid-manager"))
    assert flow.reopen(old_token).invite.id == first.id
    with pytest.raises(invites.InviteProblem) as problem:
        flow.reopen(invites.token_service(flow.deps).dumps(second.id))
    assert problem.value.reason == "superseded"


def test_a_closed_window_expires_the_activation_and_staff_can_reopen_it(flow: Flow) -> None:
    person = flow.person()
    flow.invite(person)
    flow.clock.advance(20 * 86400)  # back from three weeks away: the 14-day grace has passed
    report = invites.send_due(flow.session, flow.deps)
    assert report.expired == ["E100"]
    assert person.activation.state is ActivationState.EXPIRED
    lost_link.request_new_link(flow.session, flow.deps, "ada@home.example")
    assert flow.mailer.sent_to("ada@home.example", "invite") == []  # the starter alone cannot reopen it

    invite = invites.issue(flow.session, flow.deps, person, audit.Actor.staff("oid-desk"), reason="back from leave")
    invites.send(flow.session, flow.deps, invite, person, audit.Actor.staff("oid-desk"))
    new_token = invites.token_service(flow.deps).dumps(invite.id)
    codes.request_code(flow.session, flow.deps, flow.reopen(new_token), BROWSER)
    codes.verify_code(flow.session, flow.deps, flow.reopen(new_token), BROWSER, flow.last_code())
    assert account_steps.finish(flow.session, flow.deps, flow.reopen(new_token), BROWSER).tap
    issued = audit.events(flow.session, person_id=person.id, action="invite.issued")[0]
    assert "window_reopened_until" in issued.details


# -- wording ------------------------------------------------------------------------------------

def test_times_say_the_zone_once_and_utc_beside_it() -> None:
    from activation.window import format_duration, format_local_and_utc

    moment = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    said = format_local_and_utc(moment, "Europe/Berlin")
    assert said == "Monday 2 March 2026, 11:30 (Europe/Berlin), 10:30 UTC"
    assert ") (" not in said
    assert format_local_and_utc(datetime(2026, 3, 2, 23, 30, tzinfo=UTC), "Europe/Berlin").endswith(
        "Monday 2 March 2026, 23:30 UTC")  # another day in UTC: the date is said
    assert [format_duration(m) for m in (60, 120, 90, 1)] == ["1 hour", "2 hours", "90 minutes", "1 minute"]


def test_a_starter_without_a_manager_queues_no_manager_email(flow: Flow) -> None:
    _person, token = verified(flow)
    account_steps.finish(flow.session, flow.deps, flow.reopen(token), BROWSER)
    assert flow.run_jobs() == []
    [notice] = flow.mailer.sent_to("ada@home.example", "account_notice")
    assert "/not-me/" in notice.text


def test_a_change_to_the_activation_during_the_steps_stops_them_and_releases_the_lease(flow: Flow) -> None:
    from sqlalchemy import update
    from sqlalchemy.orm.exc import StaleDataError

    from activation.models import Activation

    person, token = verified(flow)
    real_enable = flow.graph.enable_user

    def enable_while_the_desk_acts(user_id: str) -> None:
        real_enable(user_id)
        flow.session.execute(update(Activation).where(Activation.person_id == person.id)
                             .values(lock_reason="desk note", version=Activation.version + 1)
                             .execution_options(synchronize_session=False))
        flow.session.commit()

    flow.graph.enable_user = enable_while_the_desk_acts  # type: ignore[method-assign]
    with pytest.raises(StaleDataError):
        account_steps.finish(flow.session, flow.deps, flow.reopen(token), BROWSER)
    flow.session.expire_all()
    activation = person.activation
    assert activation.state is ActivationState.VERIFIED and activation.step_lease_until is None
    assert activation.lock_reason == "desk note" and flow.graph.list_taps(person.entra_object_id) == []
