"""Staff pages through the app factory with fakes, on every database backend (sign-in without the emulator)."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import date

import pytest

from activation.models import ActivationState
from tests.portal_support import csrf_token
from tests.staff_support import StaffWorld, build_world

VERIFIED = {"method": "id_check", "reference": "IDV-1"}  # issue 16: account-handing actions verify the caller


@pytest.fixture
def world(make_settings, database_url, db_engine) -> StaffWorld:  # type: ignore[no-untyped-def]
    return build_world(make_settings, database_url, db_engine, policy={"lockout_threshold": 3})


def logout_url(page: str) -> str:
    match = re.search(r'id="logout-link" href="([^"]+)"', page)
    assert match, "no link on to Entra's logout"
    return html.unescape(match.group(1))


# -- signing in and out ---------------------------------------------------------------------------


def test_pages_need_a_staff_session(world: StaffWorld) -> None:
    client = world.app.test_client()
    for url in ("/staff/starters/", "/staff/desk/", "/staff/desk/search?q=a"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/staff/sign-in?next=/staff/")


def test_idle_and_absolute_timeouts_end_the_session(world: StaffWorld) -> None:
    client = world.sign_in(world.staff())
    world.clock.advance(29 * 60)
    assert client.get("/staff/starters/").status_code == 200
    world.clock.advance(29 * 60)
    assert client.get("/staff/starters/").status_code == 200  # activity keeps it alive...
    for _ in range(16):
        world.clock.advance(29 * 60)
        client.get("/staff/starters/")
    assert client.get("/staff/starters/").status_code == 302  # ...but never beyond 8 hours

    idle = world.sign_in(world.staff("Idle Person"))
    world.clock.advance(31 * 60)
    assert idle.get("/staff/starters/").status_code == 302


def test_sign_out_ends_the_session_on_the_server(world: StaffWorld) -> None:
    member = world.staff()
    client = world.sign_in(member)
    cookie = client.get_cookie("staff_session")
    assert cookie is not None
    response = world.post(client, "/staff/starters/", "/staff/sign-out")
    assert response.status_code == 200
    assert logout_url(response.get_data(as_text=True)).endswith(
        "/oauth2/v2.0/logout?post_logout_redirect_uri=http%3A%2F%2Flocalhost%2Fstaff%2Fsigned-out")
    replay = world.app.test_client()
    replay.set_cookie("staff_session", cookie.value)
    assert replay.get("/staff/starters/").status_code == 302
    assert [e.actor_id for e in world.events("staff.signed_out")] == [member.oid]


# -- managers ------------------------------------------------------------------------------------


def test_manager_sees_own_reports_in_plain_words_with_masked_email(world: StaffWorld) -> None:
    manager = world.staff("Morgan Manager", employee_id="M1001")
    world.person("E1", "Grace Hopper", manager="M1001")
    world.person("E2", "Alan Turing", manager="M9999", email="alan@home.example")
    page = world.sign_in(manager).get("/staff/starters/").get_data(as_text=True)
    assert "Grace Hopper" in page and "Alan Turing" not in page
    assert "g***@h***.example" in page and "grace@home.example" not in page
    assert "Invite created but not emailed yet" in page and "Monday 2 March 2026" in page


def test_a_manager_only_in_the_directory_sees_their_reports_and_a_clear_page_otherwise(world: StaffWorld) -> None:
    from activation.graph.errors import ServiceUnavailable

    riley = world.staff("Riley Reviewer")  # no HR record: HR pushed only the joiners
    world.graph.add_user("M1002", "riley.reviewer@contoso.example", "Riley Reviewer", user_id=riley.oid)
    world.person("E7", "Ada Lovelace", manager="M1002", email="ada@home.example")
    assert "Ada Lovelace" in world.sign_in(riley).get("/staff/starters/").get_data(as_text=True)

    nobody = world.staff("Sam Nobody")
    world.graph.add_user(None, "sam@contoso.example", "Sam Nobody", user_id=nobody.oid)
    page = world.sign_in(nobody).get("/staff/starters/").get_data(as_text=True)
    assert "We cannot tell who reports to you" in page and "employee ID" in page

    other = world.staff("Kim Other")
    world.graph.fail_next("get_employee_id", ServiceUnavailable("down", status=503))
    answer = world.sign_in(other).get("/staff/starters/")
    assert answer.status_code == 503 and "try again in a minute" in answer.get_data(as_text=True)


def test_manager_cannot_see_or_act_for_someone_else_and_it_is_audited(world: StaffWorld) -> None:
    manager = world.staff("Morgan Manager", employee_id="M1001")
    other = world.person("E2", "Alan Turing", manager="M9999", email="alan@home.example")
    client = world.sign_in(manager)
    assert client.get(f"/staff/starters/{other}/resend").status_code == 404
    own = world.person("E1", manager="M1001")
    token = csrf_token(client.get(f"/staff/starters/{own}/resend").get_data(as_text=True))
    assert client.post(f"/staff/starters/{other}/resend", data={"csrf_token": token}).status_code == 404
    assert world.mailer.sent_to("alan@home.example") == []
    denied = world.events("staff.access_denied")
    assert len(denied) == 2 and {e.actor_id for e in denied} == {manager.oid}
    assert {e.employee_id for e in denied} == {"E2"} and {e.outcome for e in denied} == {"denied"}


def test_a_manager_who_is_no_longer_the_manager_loses_access_at_once(world: StaffWorld) -> None:
    manager = world.staff("Morgan Manager", employee_id="M1001")
    report = world.person("E1", manager="M1001")
    client = world.sign_in(manager)
    page = client.get(f"/staff/starters/{report}/resend")
    assert page.status_code == 200
    world.set_manager(report, "M2000")  # HR moved the starter to another team
    response = client.post(f"/staff/starters/{report}/resend",
                           data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert response.status_code == 404
    assert world.mailer.sent_to("grace@home.example") == []
    assert "Grace Hopper" not in client.get("/staff/starters/").get_data(as_text=True)


def test_manager_resends_an_invite_the_old_one_is_superseded_and_a_cooldown_applies(world: StaffWorld) -> None:
    manager = world.staff("Morgan Manager", employee_id="M1001")
    report = world.person("E1", manager="M1001")
    old_link = world.invite_link(report)
    client = world.sign_in(manager)
    world.clock.advance(10 * 60)
    confirm = client.get(f"/staff/starters/{report}/resend").get_data(as_text=True)
    assert "Resend the invite to Grace Hopper?" in confirm and "g***@h***.example" in confirm
    done = client.post(f"/staff/starters/{report}/resend", data={"csrf_token": csrf_token(confirm)})
    assert done.status_code == 200 and "A new invite is on its way" in done.get_data(as_text=True)
    assert len(world.mailer.sent_to("grace@home.example", "invite")) == 1
    assert world.app.test_client().get(old_link).status_code == 410  # superseded
    event = world.events("manager.resend_invite")[-1]
    assert (event.actor_id, event.employee_id, event.outcome) == (manager.oid, "E1", "success")
    assert event.reason and event.at == world.clock.now()

    again = world.post(client, f"/staff/starters/{report}/resend")
    assert again.status_code == 429
    assert len(world.mailer.sent_to("grace@home.example", "invite")) == 1
    world.clock.advance(5 * 60)
    assert world.post(client, f"/staff/starters/{report}/resend").status_code == 200


def test_manager_cannot_resend_once_activated(world: StaffWorld) -> None:
    manager = world.staff("Morgan Manager", employee_id="M1001")
    report = world.person("E1", manager="M1001", state=ActivationState.COMPLETED)
    client = world.sign_in(manager)
    assert "Resend invite" not in client.get("/staff/starters/").get_data(as_text=True)
    assert world.post(client, f"/staff/starters/{report}/resend").status_code == 409
    assert world.mailer.sent == []
    assert world.events("manager.resend_invite")[-1].outcome == "refused"


# -- role checks, forged parameters and CSRF -----------------------------------------------------


@pytest.mark.parametrize("url", ["/staff/desk/", "/staff/desk/search?q=grace&role=ServiceDesk",
                                 "/staff/desk/people/{p}?roles=ServiceDesk", "/staff/desk/people/{p}/unlock",
                                 "/staff/desk/audit/export.csv?employee_id=E1"])
def test_desk_pages_refuse_people_without_the_role(world: StaffWorld, url: str) -> None:
    person = world.person("E1")
    member = world.staff("Morgan Manager", employee_id="M1001")
    response = world.sign_in(member).get(url.format(p=person))
    assert response.status_code == 403
    denied = world.events("staff.access_denied")
    assert [(e.actor_id, e.outcome) for e in denied] == [(member.oid, "denied")]


def test_desk_actions_refuse_people_without_the_role_even_with_forged_fields(world: StaffWorld) -> None:
    person = world.person("E1", state=ActivationState.LOCKED)
    client = world.sign_in(world.staff())
    token = csrf_token(client.get("/staff/starters/").get_data(as_text=True))
    response = client.post(f"/staff/desk/people/{person}/unlock?role=ServiceDesk",
                           data={"csrf_token": token, "reason": "ticket 42", "invite": "keep",
                                 "roles": "ServiceDesk", "role": "ServiceDesk"})
    assert response.status_code == 403
    assert world.activation(person).state is ActivationState.LOCKED
    assert world.events("staff.access_denied")[-1].outcome == "denied"


@pytest.mark.parametrize("action_url", ["/staff/starters/{p}/resend", "/staff/desk/people/{p}/unlock",
                                        "/staff/sign-out"])
def test_every_post_needs_a_csrf_token(world: StaffWorld, action_url: str) -> None:
    world.staff("Morgan Manager", employee_id="M1001")
    person = world.person("E1", manager="M1001", state=ActivationState.LOCKED)
    desk = world.staff("Dana Desk", desk=True)
    client = world.sign_in(desk)
    response = client.post(action_url.format(p=person), data={"reason": "ticket 42", "invite": "keep"})
    assert response.status_code == 400
    assert world.activation(person).state is ActivationState.LOCKED
    assert client.get("/staff/desk/").status_code == 200  # still signed in


# -- the service desk ---------------------------------------------------------------------------


def test_desk_search_by_name_id_or_email_escapes_wildcards(world: StaffWorld) -> None:
    world.person("E1", "Grace Hopper")
    world.person("E2", "Alan Turing", email="alan_t@home.example")
    client = world.sign_in(world.staff("Dana Desk", desk=True))
    assert "Grace Hopper" in client.get("/staff/desk/search?q=hopp").get_data(as_text=True)
    assert "Alan Turing" in client.get("/staff/desk/search?q=E2").get_data(as_text=True)
    by_mail = client.get("/staff/desk/search?q=alan_t@").get_data(as_text=True)
    assert "Alan Turing" in by_mail and "Grace Hopper" not in by_mail
    assert "0 matches" in client.get("/staff/desk/search?q=%25").get_data(as_text=True)
    underscore = client.get("/staff/desk/search?q=_").get_data(as_text=True)
    assert "1 match " in underscore and "Alan Turing" in underscore


def _action_links(page: str) -> set[str]:
    return set(re.findall(r'href="/staff/desk/people/\d+/([a-z-]+)"', page))


@pytest.mark.parametrize(("state", "offered"), [
    (ActivationState.LOCKED, {"unlock", "reset", "cancel"}),
    (ActivationState.INVITED, {"resend-invite", "reset", "cancel"}),
    (ActivationState.COMPLETED, {"reset"}),  # no unlock, no resend, no cancel; no pass on record to revoke
    (ActivationState.CANCELLED, set()),
])
def test_desk_person_page_offers_only_the_actions_that_fit(world: StaffWorld, state, offered) -> None:  # type: ignore[no-untyped-def]
    person = world.person("E1", state=state)
    page = world.sign_in(world.staff("Dana Desk", desk=True)).get(f"/staff/desk/people/{person}").get_data(as_text=True)
    assert _action_links(page) == offered


def test_desk_pages_label_every_time_speak_in_words_and_never_send_the_desk_to_itself(world: StaffWorld) -> None:
    person = world.person("E1", state=ActivationState.LOCKED, time_zone="Europe/Berlin")
    client = world.sign_in(world.staff("Dana Desk", desk=True))
    page = client.get(f"/staff/desk/people/{person}").get_data(as_text=True)
    assert "contact the service desk" not in page.lower() and "site-footer" not in page
    assert "Check it is really them" in page
    times = re.findall(r"<time [^>]+>([^<]+)</time>", page)
    assert times and all("Europe/Berlin" in t and "UTC" in t for t in times)
    assert ">invite.issued<" not in page and ">success<" not in page
    dashboard = client.get("/staff/desk/").get_data(as_text=True)
    assert "contact the service desk" not in dashboard.lower()


def test_an_account_mastered_on_premises_is_flagged_before_day_one(world: StaffWorld) -> None:
    person = world.person("E1", start=date(2026, 3, 9))
    world.graph.add_user("AD1", "ad1@contoso.example", "Grace Synced", on_premises_sync_enabled=True)
    synced = world.person("AD2", "Grace Synced", email="synced@home.example", start=date(2026, 3, 9))
    with world.runtime.session_factory() as session:
        from activation.models import Person

        session.get(Person, synced).entra_object_id = world.graph.find_user_by_employee_id("AD1").id  # type: ignore[union-attr]
        session.commit()
    client = world.sign_in(world.staff("Dana Desk", desk=True))
    assert 'id="on-prem-flag"' in client.get(f"/staff/desk/people/{synced}").get_data(as_text=True)
    assert 'id="on-prem-flag"' not in client.get(f"/staff/desk/people/{person}").get_data(as_text=True)


def test_desk_person_page_shows_facts_state_and_timeline_but_never_a_secret(world: StaffWorld) -> None:
    person = world.person("E1", state=ActivationState.LOCKED)
    client = world.sign_in(world.staff("Dana Desk", desk=True))
    page = client.get(f"/staff/desk/people/{person}").get_data(as_text=True)
    for fact in ("E1", "grace@home.example", "e1@contoso.example", "Locked: too many wrong codes", "Invite created"):
        assert fact in page
    assert client.get("/staff/desk/people/999999").status_code == 404


def test_desk_action_needs_a_reason_shown_next_to_the_field(world: StaffWorld) -> None:
    person = world.person("E1", state=ActivationState.LOCKED)
    client = world.sign_in(world.staff("Dana Desk", desk=True))
    response = world.post(client, f"/staff/desk/people/{person}/unlock", data={"reason": "  ", "invite": "keep"})
    assert response.status_code == 400
    assert 'class="error-message" id="reason-error"' in response.get_data(as_text=True)
    assert world.activation(person).state is ActivationState.LOCKED


def test_unlock_lets_a_locked_starter_get_a_new_code_and_finish(world: StaffWorld) -> None:
    person = world.person("E1", invite=False)
    link = world.invite_link(person)
    starter = world.app.test_client()
    world.post(starter, link, f"{link}/send-code")
    for _ in range(3):
        world.post(starter, f"{link}/code", data={"code": "000000" if world.code() != "000000" else "111111"})
    assert world.activation(person).state is ActivationState.LOCKED
    assert "Your activation is paused" in starter.get(link).get_data(as_text=True)

    desk = world.staff("Dana Desk", desk=True)
    client = world.sign_in(desk)
    done = world.post(client, f"/staff/desk/people/{person}/unlock",
                      data={**VERIFIED, "reason": "Caller verified, ticket 42", "invite": "keep"})
    assert done.status_code == 200 and "Unlocked" in done.get_data(as_text=True)
    unlocked = world.activation(person)
    assert (unlocked.state, unlocked.failed_code_count, unlocked.lock_reason) == (ActivationState.INVITED, 0, None)

    world.post(starter, link, f"{link}/send-code")
    result = starter.get(world.post(starter, f"{link}/code", data={"code": world.code()}).headers["Location"])
    assert result.status_code == 200 and "e1@contoso.example" in result.get_data(as_text=True)
    assert world.activation(person).state is ActivationState.COMPLETED

    event = world.events("desk.unlock")[-1]
    assert (event.actor_id, event.employee_id, event.reason, event.outcome) == (
        desk.oid, "E1", "Caller verified, ticket 42", "success")
    timeline = client.get(f"/staff/desk/people/{person}").get_data(as_text=True)
    assert "Service desk unlocked the activation" in timeline and desk.oid in timeline
    assert "Caller verified, ticket 42" in timeline


def test_unlock_with_a_new_invite_supersedes_the_old_link(world: StaffWorld) -> None:
    person = world.person("E1", invite=False)
    old = world.invite_link(person)
    world.post(world.app.test_client(), old, f"{old}/send-code")
    with world.runtime.session_factory() as session:
        from activation.models import Activation

        activation = session.query(Activation).filter_by(person_id=person).one()
        activation.state, activation.lock_reason = ActivationState.LOCKED, "too many wrong codes"
        session.commit()
    client = world.sign_in(world.staff("Dana Desk", desk=True))
    world.post(client, f"/staff/desk/people/{person}/unlock", data={**VERIFIED, "reason": "ticket 43", "invite": "new"})
    assert world.app.test_client().get(old).status_code == 410
    assert len(world.mailer.sent_to("grace@home.example", "invite")) == 1
    assert world.events("desk.unlock")[-1].details == {"invite": "new"}


def test_revoke_tap_reset_and_cancel(world: StaffWorld) -> None:
    person = world.person("E1", invite=False)
    link = world.invite_link(person)
    starter = world.app.test_client()
    world.post(starter, link, f"{link}/send-code")
    starter.get(world.post(starter, f"{link}/code", data={"code": world.code()}).headers["Location"])
    user_id = world.activation(person).person_id and world.graph.find_user_by_employee_id("E1").id  # type: ignore[union-attr]
    assert world.graph.list_taps(user_id)

    client = world.sign_in(world.staff("Dana Desk", desk=True))
    revoked = world.post(client, f"/staff/desk/people/{person}/revoke-tap", data={"reason": "Pass was shared"})
    assert revoked.status_code == 200 and world.graph.list_taps(user_id) == []
    assert world.activation(person).tap_method_id is None

    world.post(client, f"/staff/desk/people/{person}/reset", data={**VERIFIED, "reason": "Starter lost the pass"})
    assert world.activation(person).state is ActivationState.INVITED
    assert len(world.mailer.sent_to("grace@home.example", "invite")) == 1

    world.post(client, f"/staff/desk/people/{person}/cancel", data={"reason": "Offer withdrawn"})
    assert world.activation(person).state is ActivationState.CANCELLED
    refused = world.post(client, f"/staff/desk/people/{person}/cancel", data={"reason": "Offer withdrawn"})
    assert refused.status_code == 409 and "already finished or cancelled" in refused.get_data(as_text=True)
    actions = [(e.action, e.outcome) for e in world.events() if e.action.startswith("desk.")]
    assert actions == [("desk.revoke_tap", "success"), ("desk.caller_verified", "success"), ("desk.reset", "success"),
                       ("desk.cancel", "success"), ("desk.cancel", "refused")]


def test_dashboard_puts_locked_and_failed_first_and_lists_this_weeks_joiners(world: StaffWorld) -> None:
    world.person("E1", "Grace Hopper", state=ActivationState.LOCKED)
    world.person("E2", "Alan Turing", email="alan@home.example", start=date(2026, 3, 4))
    world.person("E3", "Ada Lovelace", email="ada@home.example", start=date(2026, 3, 20))
    page = world.sign_in(world.staff("Dana Desk", desk=True)).get("/staff/desk/").get_data(as_text=True)
    attention, soon = page.split("Starting today or this week")
    assert "Grace Hopper" in attention and "Alan Turing" not in attention
    assert "Alan Turing" in soon and "Ada Lovelace" not in soon


def test_dashboard_shows_background_work_being_retried_and_failed_with_the_reason(world: StaffWorld) -> None:
    from activation.jobs.submit import submit

    with world.runtime.session_factory() as session:
        deps = world.runtime.deps()
        world.person("M1", "Morgan Manager", email="morgan@home.example", upn="m1@contoso.example")
        starter = world.person("E1", "Grace Hopper", manager="M1")
        world.mailer.fail_next(1)
        submit(session, deps, "mail.manager_notice", {"person_id": starter})
        submit(session, deps, "mail.manager_notice", {"person_id": 999_999})
        session.commit()  # the test environment's queue runs both as this commits
    page = world.sign_in(world.staff("Dana Desk", desk=True)).get("/staff/desk/").get_data(as_text=True)
    work = page.split("Background work")[1]
    retrying, failed = work.split("Failed in the last 7 days")
    assert "Being retried" in retrying and "could not be emailed" in retrying and "1 of 5" in retrying
    assert "person 999999 is no longer on record" in failed


def test_audit_export_is_a_formula_safe_csv_attachment(world: StaffWorld) -> None:
    person = world.person("E1", state=ActivationState.LOCKED)
    desk = world.staff("Dana Desk", desk=True)
    client = world.sign_in(desk)
    world.post(client, f"/staff/desk/people/{person}/unlock", data={**VERIFIED, "reason": '=HYPERLINK("x"), "quoted"',
                                                                      "invite": "keep"})
    response = client.get("/staff/desk/audit/export.csv?since=2026-03-01&until=2026-03-02")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    unlock = next(r for r in rows if r["action"] == "desk.unlock")
    assert unlock["reason"] == '\'=HYPERLINK("x"), "quoted"' and unlock["actor_id"] == desk.oid
    by_person = client.get("/staff/desk/audit/export.csv?employee_id=E1")
    assert {r["employee_id"] for r in csv.DictReader(io.StringIO(by_person.get_data(as_text=True)))} == {"E1"}
    assert client.get("/staff/desk/audit/export.csv").status_code == 400
    assert world.events("desk.audit_export")[-1].actor_id == desk.oid


class FakeSignIn:
    """Stands in for MSAL: records the flow it handed out."""

    def begin(self, redirect_uri: str) -> dict:
        return {"auth_uri": "https://login.example/authorize?state=state-from-msal-flow",
                "state": "state-from-msal-flow", "redirect_uri": redirect_uri}

    def complete(self, flow: dict, response: dict) -> dict:
        raise AssertionError("not used")


def test_on_https_the_cookie_is_host_prefixed_secure_httponly_and_lax(make_settings, database_url, db_engine) -> None:  # type: ignore[no-untyped-def]
    from activation.runtime import Runtime
    from portal import create_app

    settings = make_settings(database={"url": database_url}, portal={"public_url": "https://activate.example"})
    runtime = Runtime.from_settings(settings, engine=db_engine)
    runtime.override("staff_sign_in", FakeSignIn())
    client = create_app(runtime=runtime).test_client()
    response = client.get("/staff/sign-in?next=/staff/desk/", base_url="https://activate.example")
    assert response.headers["Location"] == "https://login.example/authorize?state=state-from-msal-flow"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-staff_sign_in=")  # the pending sign-in, under its own cookie
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in cookie
    assert "Domain" not in cookie and "state-from-msal-flow" not in cookie  # the flow stays on the server
