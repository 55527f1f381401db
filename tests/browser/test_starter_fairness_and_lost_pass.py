"""Issue 13 in a browser: the fair lockout, the resend countdown with and without JavaScript, a lost
pass replaced through the same link, and the pages a starter meets after a desk revoke or on-prem."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from browser_support import Live, new_joiner, serious_violations, serve_portal
from conftest import MOBILE
from playwright.sync_api import expect
from sqlalchemy import select

from activation.models import Person
from activation.staff import desk_actions
from activation.staff.auth import DESK_ROLE, StaffMember


def link_for(live: Live, email: str) -> str:
    text = next(t for t in live.mailbox_text(email) if "/a/" in t)
    return next(word for word in text.split() if word.startswith(f"{live.url}/a/"))


def wrong(code: str) -> str:
    return str((int(code) + 1) % 10 ** len(code)).zfill(len(code))


def accessible(page) -> None:  # type: ignore[no-untyped-def]
    assert serious_violations(page) == [], page.url


def fits(page) -> None:  # type: ignore[no-untyped-def]
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"), page.url


def test_a_used_up_code_hides_the_box_and_the_pause_is_announced_first(live: Live, phone) -> None:  # type: ignore[no-untyped-def]
    email = "fair@home.example"
    new_joiner(live, "B400", email)
    page = phone
    page.goto(link_for(live, email))
    page.get_by_role("button", name="Send me a code").click()
    code = live.latest_code(email)
    for _ in range(4):
        page.get_by_label("Code from the email").fill(wrong(code))
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_text("That code is not right")).to_be_visible()
    page.reload()  # a reload is not a guess: the answer was a redirect to a GET
    page.get_by_label("Code from the email").fill(wrong(code))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("This code cannot be tried again")).to_be_visible()
    expect(page.get_by_text("After 5 more wrong codes your activation will be paused")).to_be_visible()
    expect(page.get_by_label("Code from the email")).to_have_count(0)  # no box for a dead code
    expect(page.get_by_role("button", name="Send a new code")).to_be_visible()
    accessible(page)
    fits(page)
    with live.runtime.session_factory() as session:  # type: ignore[attr-defined]
        person = session.scalars(select(Person).where(Person.employee_id == "B400")).one()
        assert person.activation.failed_code_count == 5  # type: ignore[union-attr]


def test_without_javascript_the_page_states_the_time_and_the_button_works_after_it(live: Live, browser) -> None:  # type: ignore[no-untyped-def]
    email = "nojs@home.example"
    new_joiner(live, "B401", email)
    context = browser.new_context(viewport=MOBILE, java_script_enabled=False)
    page = context.new_page()
    page.goto(link_for(live, email))
    page.get_by_role("button", name="Send me a code").click()
    expect(page.get_by_role("heading", name="Enter the code we emailed you")).to_be_visible()
    button = page.get_by_role("button", name="Send a new code")
    expect(button).to_be_enabled()
    if page.locator("#resend-when").count():
        expect(page.locator("#resend-when")).to_contain_text(re.compile(r"from \d\d:\d\d:\d\d \(UTC time\)"))
    # (axe-core runs as page script, so it checks this same page in the JavaScript tests, not here)
    def codes_sent() -> int:
        return len([t for t in live.mailbox_text(email) if "code" in t.lower() and "/a/" not in t])

    before = codes_sent()
    deadline = time.monotonic() + 10  # the cooldown is 1 s in the test settings: poll the server, never sleep
    while codes_sent() == before:
        assert time.monotonic() < deadline, "the button never worked after the stated time"
        page.get_by_role("button", name="Send a new code").click()
        expect(page.get_by_role("heading", name="Enter the code we emailed you")).to_be_visible()
    assert codes_sent() == before + 1
    context.close()


@pytest.fixture(scope="module")
def slow_live(tmp_path_factory, emulator_info, make_database) -> Iterator[Live]:  # type: ignore[no-untyped-def]
    """A portal whose resend cooldown is long enough to watch the countdown tick."""
    with serve_portal(tmp_path_factory.mktemp("slow-instance"), make_database("sqlite"), emulator_info,
                      cooldown_seconds=4) as running:
        yield running


def test_the_countdown_ticks_and_enables_the_button(slow_live: Live, phone) -> None:  # type: ignore[no-untyped-def]
    email = "tick@home.example"
    new_joiner(slow_live, "B402", email)
    page = phone
    page.goto(link_for(slow_live, email))
    page.get_by_role("button", name="Send me a code").click()
    button = page.get_by_role("button", name="Send a new code")
    expect(button).to_be_disabled()  # JavaScript holds it until the stated time
    seen = {page.locator(".countdown-text").inner_text()}
    expect(page.locator(".countdown-text")).not_to_have_text(next(iter(seen)), timeout=3000)  # it moves
    accessible(page)
    expect(page.locator("#resend-when")).to_have_text("You can ask for a new code now.", timeout=6000)
    expect(button).to_be_enabled()
    button.click()
    expect(page.get_by_role("heading", name="Enter the code we emailed you")).to_be_visible()
    assert len([t for t in slow_live.mailbox_text(email) if "code" in t.lower()]) >= 2


def test_a_lost_pass_is_replaced_through_the_same_link(live: Live, phone) -> None:  # type: ignore[no-untyped-def]
    email = "lostpass@home.example"
    new_joiner(live, "B403", email)
    page = phone
    link = link_for(live, email)
    page.goto(link)
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("Code from the email").fill(live.latest_code(email))
    page.get_by_role("button", name="Continue").click()
    first = page.locator("#tap").inner_text().strip()
    page.close()  # the starter closes the tab without noting the pass

    page = phone.context.new_page()
    page.goto(link)
    expect(page.get_by_role("heading", name="already activated")).to_be_visible()
    accessible(page)
    fits(page)
    deadline = time.monotonic() + 10  # the first code is under a second old: the page may ask to wait
    while True:
        page.get_by_role("button", name="Email me a code for a new pass").click()
        page.wait_for_load_state()
        if page.get_by_role("heading", name="Enter the code we emailed you").count():
            break
        expect(page.get_by_text("You can ask again in")).to_be_visible()
        assert time.monotonic() < deadline, "no new code after the stated wait"
    page.get_by_label("Code from the email").fill(live.latest_code(email))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Your account is ready")).to_be_visible()
    second = page.locator("#tap").inner_text().strip()
    assert second and second != first
    info, control = live.emulator  # type: ignore[misc]
    assert control.post(f"{info.base_url}/_emulator/users/B403/tap/verify", json={"value": second},
                        timeout=10).json() == {"valid": True}
    assert control.post(f"{info.base_url}/_emulator/users/B403/tap/verify", json={"value": first},
                        timeout=10).json() == {"valid": False}  # one TAP per user: the old one is gone
    expect(page.get_by_role("button", name="Copy sign-in name")).to_be_visible()
    accessible(page)


def test_after_a_desk_revoke_the_starter_page_says_what_to_do(live: Live, phone) -> None:  # type: ignore[no-untyped-def]
    email = "revoked@home.example"
    new_joiner(live, "B404", email)
    page = phone
    link = link_for(live, email)
    page.goto(link)
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("Code from the email").fill(live.latest_code(email))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Your account is ready")).to_be_visible()
    desk = StaffMember("oid-browser-desk", "Dana Desk", "dana@contoso.example", frozenset({DESK_ROLE}))
    with live.runtime.session_factory() as session:  # type: ignore[attr-defined]
        person = session.scalars(select(Person).where(Person.employee_id == "B404")).one()
        desk_actions.perform(session, live.runtime.deps(), desk, person.id,  # type: ignore[attr-defined]
                             desk_actions.DeskAction.REVOKE_TAP, "caller says the pass was seen by someone")
    page.goto(link)
    expect(page.get_by_text("The service desk has withdrawn your Temporary Access Pass")).to_be_visible()
    expect(page.get_by_role("button", name="Email me a code for a new pass")).to_have_count(0)
    assert page.locator("footer").count() == 0  # the contact is in the body once
    accessible(page)
    fits(page)


def test_an_account_mastered_on_premises_ends_on_a_calm_page_not_an_error(live: Live, phone) -> None:  # type: ignore[no-untyped-def]
    email = "synced@home.example"
    new_joiner(live, "B405", email)
    info, control = live.emulator  # type: ignore[misc]
    control.patch(f"{info.base_url}/_emulator/users/B405", json={"onPremisesSyncEnabled": True},
                  timeout=10).raise_for_status()
    page = phone
    link = link_for(live, email)
    page.goto(link)
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("Code from the email").fill(live.latest_code(email))
    with page.expect_response(re.compile(r"/pass$")) as answer:
        page.get_by_role("button", name="Continue").click()
    assert answer.value.status == 409
    expect(page.get_by_role("heading", name="The service desk needs to finish this")).to_be_visible()
    accessible(page)
    page.goto(link)
    expect(page.get_by_role("heading", name="The service desk needs to finish this")).to_be_visible()
