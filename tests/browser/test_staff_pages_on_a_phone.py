"""Issue 13, staff side in a browser: the manager's table on a 390 px phone (Resend reachable, also by
keyboard and without JavaScript), a manager found only through the directory, and the desk person page."""

from __future__ import annotations

import re

import pytest
from browser_support import Live, new_joiner, serious_violations
from conftest import MOBILE
from playwright.sync_api import expect
from sqlalchemy import select, update
from test_staff_journeys import invited_yesterday, reports_to, sign_in_as, staff_person

from activation.models import Invite, Person


def fits(page) -> None:  # type: ignore[no-untyped-def]
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"), page.url


def test_a_manager_only_in_the_directory_reaches_resend_on_a_phone(live: Live, browser) -> None:  # type: ignore[no-untyped-def]
    new_joiner(live, "B500", "ines@home.example")
    reports_to(live, "B500", "M1002")  # Riley Reviewer: in the directory as M1002, not in the HR data
    invited_yesterday(live, "B500")
    context = browser.new_context(viewport=MOBILE, is_mobile=True, has_touch=True, ignore_https_errors=True)
    page = context.new_page()
    sign_in_as(page, live, "Riley Reviewer")
    expect(page.get_by_role("heading", name="My new starters")).to_be_visible()
    resend = page.get_by_role("link", name=re.compile("Resend invite to Dorothy"))
    expect(resend).to_be_visible()
    fits(page)
    box = resend.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= MOBILE["width"]
    assert serious_violations(page) == []
    for _ in range(30):  # and by keyboard alone
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.textContent.trim()").startswith("Resend"):
            break
    else:
        pytest.fail("Resend is not reachable with the keyboard")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile("Resend the invite"))).to_be_visible()
    fits(page)
    assert serious_violations(page) == []
    context.close()


def test_the_cooldown_and_missing_email_are_said_before_the_click_even_without_javascript(live: Live, browser) -> None:  # type: ignore[no-untyped-def]
    staff_person(live, "M1001", "Morgan", "Manager")
    new_joiner(live, "B501", "fresh@home.example")
    reports_to(live, "B501", "M1001")  # invited moments ago: inside the 5-minute cooldown
    new_joiner(live, "B502", "noemail@home.example")
    reports_to(live, "B502", "M1001")
    with live.runtime.session_factory() as session:  # type: ignore[attr-defined]
        person = session.scalars(select(Person).where(Person.employee_id == "B502")).one()
        person.personal_email = None
        session.execute(update(Invite).where(Invite.person_id == person.id).values(superseded_at=Invite.issued_at))
        person.activation.state = person.activation.state.PENDING  # type: ignore[union-attr]
        session.commit()
    context = browser.new_context(viewport=MOBILE, java_script_enabled=False, ignore_https_errors=True)
    page = context.new_page()
    sign_in_as(page, live, "Morgan Manager")
    text = page.inner_text("main")
    assert re.search(r"you can resend in about [1-5] minutes?", text), text
    expect(page.get_by_text("Ask HR to add their personal email address")).to_be_visible()
    assert "send it now" not in page.content()
    fits(page)
    context.close()


def test_desk_person_page_on_a_phone_is_accessible_and_offers_only_fitting_actions(live: Live, browser) -> None:  # type: ignore[no-untyped-def]
    staff_person(live, "SD001", "Dana", "Desk")
    new_joiner(live, "B503", "synced.b503@home.example")
    info, control = live.emulator  # type: ignore[misc]
    control.patch(f"{info.base_url}/_emulator/users/B503", json={"onPremisesSyncEnabled": True},
                  timeout=10).raise_for_status()
    context = browser.new_context(viewport=MOBILE, is_mobile=True, has_touch=True, ignore_https_errors=True)
    page = context.new_page()
    sign_in_as(page, live, "Dana Desk")
    page.get_by_label(re.compile("Find a person")).fill("B503")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=re.compile("Dorothy Vaughan")).first.click()
    expect(page.get_by_text("Mastered in on-premises Active Directory")).to_be_visible()
    expect(page.get_by_role("link", name="Unlock")).to_have_count(0)  # not locked: no unlock offered
    assert "contact the service desk" not in page.content().lower()
    assert "person.created" not in page.inner_text("main")
    assert all("UTC" in t for t in page.locator("time").all_inner_texts())
    assert serious_violations(page) == []
    context.close()
