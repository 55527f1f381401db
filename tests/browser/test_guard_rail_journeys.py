"""Issue 16's pages in a phone-sized Chromium (390 px), each checked with axe-core: the caller-verification
form, the second agent's approval, the manager's approval, threat mode and the paused starter page,
the desk's funnel, and the "this wasn't me" page from the starter's notice."""

from __future__ import annotations

import re

from browser_support import Live, new_joiner, serious_violations
from playwright.sync_api import expect
from sqlalchemy import select
from test_staff_journeys import lock, reports_to, sign_in_as, staff_person

from activation.models import ActivationState, Person

PHONE = {"width": 390, "height": 844}


def phone_page(browser):  # type: ignore[no-untyped-def]
    return browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, ignore_https_errors=True).new_page()


def privileged(live: Live, employee_id: str) -> None:
    with live.runtime.session_factory() as session:  # type: ignore[attr-defined]
        person = session.scalars(select(Person).where(Person.employee_id == employee_id)).one()
        person.hr_privileged = True
        person.mobile = "+44 7700 900555"
        session.commit()


def state_of(live: Live, employee_id: str) -> ActivationState:
    with live.runtime.session_factory() as session:  # type: ignore[attr-defined]
        person = session.scalars(select(Person).where(Person.employee_id == employee_id)).one()
        return person.activation.state  # type: ignore[union-attr]


def open_unlock(page, employee_id: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_label(re.compile("Find a person")).fill(employee_id)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=re.compile("Dorothy Vaughan")).first.click()
    page.get_by_role("link", name=re.compile("Unlock", re.IGNORECASE)).click()


def test_two_agents_unlock_a_privileged_starter_who_can_then_say_it_was_not_them(live: Live, browser) -> None:  # type: ignore[no-untyped-def]
    staff_person(live, "SD001", "Dana", "Desk")
    email = "vip@home.example"
    new_joiner(live, "G100", email)
    privileged(live, "G100")
    lock(live, "G100")

    dana = phone_page(browser)
    sign_in_as(dana, live, "Dana Desk")
    open_unlock(dana, "G100")
    expect(dana.get_by_text("A second agent must approve")).to_be_visible()
    expect(dana.get_by_text(re.compile(r"HR holds \*\*\*55"))).to_be_visible()
    assert serious_violations(dana) == []
    dana.get_by_label(re.compile("Call back the phone number HR holds")).check()
    dana.get_by_label(re.compile("Reason", re.IGNORECASE)).fill("Ticket 77: called back on the HR number")
    dana.get_by_role("button", name="Unlock", exact=True).click()
    expect(dana.get_by_role("alert")).to_contain_text("confirm that you did")
    assert serious_violations(dana) == []
    dana.get_by_label(re.compile("I called that number")).check()
    dana.get_by_role("button", name="Unlock", exact=True).click()
    expect(dana.get_by_role("status")).to_contain_text("Waiting for a second agent")
    expect(dana.get_by_text("A colleague must approve this")).to_be_visible()
    assert serious_violations(dana) == []
    request_url = dana.url
    assert state_of(live, "G100") is ActivationState.LOCKED
    dana.context.close()

    sam = phone_page(browser)
    sign_in_as(sam, live, "Sam Second")
    sam.goto(f"{live.url}/staff/desk/")
    expect(sam.get_by_role("heading", name="Funnel")).to_be_visible()
    expect(sam.get_by_role("link", name=re.compile("unlock for Dorothy Vaughan"))).to_be_visible()
    assert serious_violations(sam) == []
    sam.get_by_role("link", name="Who starts tomorrow and will get stuck").click()
    expect(sam.get_by_role("heading", name=re.compile("Starting tomorrow"))).to_be_visible()
    assert serious_violations(sam) == []
    sam.goto(request_url)
    assert serious_violations(sam) == []
    sam.get_by_role("button", name="Approve as second agent").click()
    expect(sam.get_by_role("heading", name="Done", exact=True)).to_be_visible()
    assert state_of(live, "G100") is ActivationState.INVITED
    sam.context.close()

    notice = next(text for text in live.mailbox_text(email) if "/not-me/" in text)
    link = re.search(r"(http://\S+/not-me/\S+)", notice).group(1)  # type: ignore[union-attr]
    starter = phone_page(browser)
    starter.goto(link)
    expect(starter.get_by_role("heading", name="Was this not you?")).to_be_visible()
    assert "Dorothy" not in starter.content() and email not in starter.content()
    assert serious_violations(starter) == []
    starter.get_by_role("button", name=re.compile("This wasn't me")).click()
    expect(starter.get_by_role("heading", name=re.compile("we have stopped it"))).to_be_visible()
    assert serious_violations(starter) == []
    assert state_of(live, "G100") is ActivationState.LOCKED
    starter.goto(link)
    expect(starter.get_by_role("heading", name="This link no longer works")).to_be_visible()
    assert serious_violations(starter) == []
    starter.context.close()


def test_a_manager_approves_the_desk_request_on_a_phone(live: Live, browser) -> None:  # type: ignore[no-untyped-def]
    staff_person(live, "SD001", "Dana", "Desk")
    staff_person(live, "M1001", "Morgan", "Manager")
    new_joiner(live, "G200", "report@home.example")
    reports_to(live, "G200", "M1001")
    lock(live, "G200")
    dana = phone_page(browser)
    sign_in_as(dana, live, "Dana Desk")
    open_unlock(dana, "G200")
    dana.get_by_label(re.compile("Ask the manager to approve")).check()
    dana.get_by_label(re.compile("Reason", re.IGNORECASE)).fill("Ticket 78: manager to confirm")
    dana.get_by_role("button", name="Unlock", exact=True).click()
    expect(dana.get_by_role("status")).to_contain_text("Waiting for the manager")
    dana.context.close()

    mail = next(text for text in live.mailbox_text("morgan.manager@contoso.example") if "/staff/approvals/" in text)
    approval = re.search(r"(http://\S+/staff/approvals/\d+)", mail).group(1)  # type: ignore[union-attr]
    morgan = phone_page(browser)
    sign_in_as(morgan, live, "Morgan Manager")
    morgan.goto(approval)
    expect(morgan.get_by_role("heading", name=re.compile("Confirm a request for Dorothy Vaughan"))).to_be_visible()
    assert serious_violations(morgan) == []
    morgan.get_by_role("button", name="Approve", exact=True).click()
    expect(morgan.get_by_role("heading", name="Done", exact=True)).to_be_visible()
    assert serious_violations(morgan) == []
    assert state_of(live, "G200") is ActivationState.INVITED
    morgan.context.close()
    reports_to(live, "G200", "M9999")  # off Morgan's list again: other journeys count Morgan's starters


def test_threat_mode_pauses_a_starters_lost_link_request(live: Live, browser) -> None:  # type: ignore[no-untyped-def]
    lead = phone_page(browser)
    sign_in_as(lead, live, "Lee Lead")
    lead.goto(f"{live.url}/staff/desk/threat-mode")
    assert serious_violations(lead) == []
    lead.get_by_label("On", exact=True).check()
    lead.get_by_label(re.compile("Reason", re.IGNORECASE)).fill("Phishing calls reported this morning")
    lead.get_by_role("button", name="Save").click()
    expect(lead.get_by_role("status")).to_contain_text("Threat mode is on")
    try:
        starter = phone_page(browser)
        starter.goto(f"{live.url}/")
        starter.get_by_label(re.compile("personal email")).fill("someone@home.example")
        starter.get_by_role("button", name="Send me a new link").click()
        expect(starter.get_by_role("heading", name="Please try again a little later")).to_be_visible()
        assert serious_violations(starter) == []
        starter.context.close()
    finally:
        lead.goto(f"{live.url}/staff/desk/threat-mode")
        lead.get_by_label("Off", exact=True).check()
        lead.get_by_label(re.compile("Reason", re.IGNORECASE)).fill("All clear after the review")
        lead.get_by_role("button", name="Save").click()
        expect(lead.get_by_role("status")).to_contain_text("Threat mode is off")
        lead.context.close()
