"""Staff in a browser: a manager resends an invite; the service desk unlocks a locked starter."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from browser_support import Live, new_joiner, screenshot, serious_violations
from playwright.sync_api import expect
from sqlalchemy import select, update

from activation.models import Activation, ActivationState, HrStatus, Invite, Person


def staff_person(live: Live, employee_id: str, given: str, family: str) -> None:
    """HR knows the staff member, and reconciliation has matched them to their Entra account."""
    info, control = live.emulator  # type: ignore[misc]
    user = control.get(f"{info.base_url}/_emulator/users/{employee_id}", timeout=10).json()
    with live.runtime.session_factory() as session:  # type: ignore[attr-defined]
        if session.scalars(select(Person).where(Person.employee_id == employee_id)).first():
            return
        person = Person(employee_id=employee_id, given_name=given, family_name=family,
                        display_name=f"{given} {family}", start_date=datetime(2019, 3, 4).date(),
                        hr_status=HrStatus.ACTIVE, entra_object_id=user["id"], upn=user["userPrincipalName"])
        person.activation = Activation(state=ActivationState.COMPLETED, failed_code_count=0, codes_sent=0)
        session.add(person)
        session.commit()


def reports_to(live: Live, employee_id: str, manager_id: str) -> None:
    with live.runtime.session_factory() as session:  # type: ignore[attr-defined]
        person = session.scalars(select(Person).where(Person.employee_id == employee_id)).one()
        person.manager_employee_id = manager_id
        session.commit()


def invited_yesterday(live: Live, employee_id: str) -> None:
    """The invite went out a day ago (past the manager's resend cooldown)."""
    with live.runtime.session_factory() as session:  # type: ignore[attr-defined]
        person = session.scalars(select(Person).where(Person.employee_id == employee_id)).one()
        session.execute(update(Invite).where(Invite.person_id == person.id)
                        .values(issued_at=datetime.now(UTC) - timedelta(days=1)))
        session.commit()


def sign_in_as(page, live: Live, account: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live.url}/staff/")
    page.get_by_role("button", name=re.compile(account)).click()
    page.wait_for_url(f"{live.url}/staff/**")


def invite_link(live: Live, email: str) -> str:
    text = next(t for t in live.mailbox_text(email) if "/a/" in t)
    return next(word for word in text.split() if word.startswith(f"{live.url}/a/"))


def test_manager_resends_an_invite_and_the_old_link_stops_working(live: Live, browser) -> None:  # type: ignore[no-untyped-def]
    staff_person(live, "M1001", "Morgan", "Manager")
    new_joiner(live, "B200", "hedy@home.example")
    reports_to(live, "B200", "M1001")
    invited_yesterday(live, "B200")
    old_link = invite_link(live, "hedy@home.example")

    context = browser.new_context(viewport={"width": 1280, "height": 900}, ignore_https_errors=True)
    page = context.new_page()
    sign_in_as(page, live, "Morgan Manager")
    expect(page.get_by_role("heading", name="My new starters")).to_be_visible()
    expect(page.get_by_role("cell", name=re.compile("^Dorothy Vaughan B200"))).to_be_visible()
    assert "hedy@home.example" not in page.content()  # masked for managers
    assert serious_violations(page) == []
    screenshot(page, "4-manager-starters")

    page.get_by_role("link", name=re.compile("Resend invite to Dorothy")).click()
    expect(page.get_by_role("heading", name=re.compile("Resend the invite"))).to_be_visible()
    assert serious_violations(page) == []
    page.get_by_role("button", name="Resend invite").click()
    expect(page.get_by_role("heading", name="Done", exact=True)).to_be_visible()
    assert serious_violations(page) == []
    context.close()

    phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    phone.goto(old_link)
    expect(phone.get_by_role("heading", name="A newer link was sent")).to_be_visible()
    assert serious_violations(phone) == []
    assert invite_link(live, "hedy@home.example") != old_link
    phone.context.close()


def lock(live: Live, employee_id: str) -> None:
    """The starter typed wrong codes until the activation locked."""
    with live.runtime.session_factory() as session:  # type: ignore[attr-defined]
        person = session.scalars(select(Person).where(Person.employee_id == employee_id)).one()
        person.activation.state = ActivationState.LOCKED  # type: ignore[union-attr]
        person.activation.lock_reason = "too many wrong codes"  # type: ignore[union-attr]
        session.commit()


def test_desk_unlocks_a_locked_starter_who_then_finishes(live: Live, browser) -> None:  # type: ignore[no-untyped-def]
    staff_person(live, "SD001", "Dana", "Desk")
    email = "locked@home.example"
    new_joiner(live, "B300", email)
    link = invite_link(live, email)
    starter = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    starter.goto(link)
    starter.get_by_role("button", name="Send me a code").click()
    lock(live, "B300")
    starter.goto(link)
    expect(starter.get_by_role("heading", name="Your activation is paused")).to_be_visible()
    assert serious_violations(starter) == []

    context = browser.new_context(viewport={"width": 1280, "height": 900}, ignore_https_errors=True)
    desk = context.new_page()
    sign_in_as(desk, live, "Dana Desk")
    expect(desk.get_by_role("heading", name="Service desk")).to_be_visible()
    assert serious_violations(desk) == []
    screenshot(desk, "5-desk-dashboard")
    desk.get_by_label(re.compile("Find a person")).fill("B300")
    desk.get_by_role("button", name="Search").click()
    desk.get_by_role("link", name=re.compile("Dorothy Vaughan")).first.click()
    expect(desk.get_by_role("heading", name="Dorothy Vaughan")).to_be_visible()
    assert serious_violations(desk) == []
    screenshot(desk, "6-desk-person")
    desk.get_by_role("link", name=re.compile("Unlock", re.IGNORECASE)).click()
    desk.get_by_label(re.compile("Identity checked elsewhere")).check()  # issue 16: verify the caller first
    desk.get_by_label(re.compile("Reference of the identity check")).fill("IDV-2026-0042")
    desk.get_by_label(re.compile("Reason", re.IGNORECASE)).fill("Called the desk from her phone; identity checked")
    assert serious_violations(desk) == []
    desk.get_by_role("button", name="Unlock", exact=True).click()
    expect(desk.get_by_role("heading", name="Done", exact=True)).to_be_visible()
    assert serious_violations(desk) == []
    context.close()

    starter.goto(link)
    starter.get_by_role("button", name="Send me a code").click()
    starter.get_by_label("Code from the email").fill(live.latest_code(email))
    starter.get_by_role("button", name="Continue").click()
    expect(starter.get_by_role("heading", name="Your account is ready")).to_be_visible()
    starter.context.close()
