"""Issue 16's desk guard rails over TLS in real Chromium, on phone-sized screens: threat mode switched by a
desk lead makes an unlock a request that a second, different agent approves; a privileged person needs a
second agent; a manager approves a desk request in the portal. Each ends with the starter finishing.

Every staff member signs in through the HTTPS emulator in a context of their own; each form post passes
the CSRF token and the origin check behind nginx. Threat mode is switched off again in `finally`: the
stack is shared by the whole session.
"""

from __future__ import annotations

import re
from pathlib import Path

from deploy_people import (
    fits_the_width,
    lock,
    new_joiner,
    phone_page,
    privileged,
    screenshot,
    sign_in_as,
    small_choices,
    staff_person,
    state_of,
)
from deploy_stack import Stack, wait_for
from playwright.sync_api import expect

from activation.models import ActivationState


def open_unlock(page, stack: Stack, employee_id: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{stack.url}/staff/desk/")
    page.get_by_label(re.compile("Find a person")).fill(employee_id)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=re.compile("Dorothy Vaughan")).first.click()
    page.get_by_role("link", name=re.compile("Unlock", re.IGNORECASE)).click()
    expect(page.get_by_role("heading", name="Unlock this activation")).to_be_visible()


def switch_threat_mode(page, stack: Stack, on: bool, reason: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{stack.url}/staff/desk/")
    page.get_by_role("link", name="Switch threat mode").click()
    expect(page.get_by_role("heading", name="Threat mode")).to_be_visible()
    page.get_by_label("On" if on else "Off", exact=True).check()
    page.get_by_label(re.compile("Reason", re.IGNORECASE)).fill(reason)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Done", exact=True)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Threat mode is on" if on else "Threat mode is off")


def post_from_the_page(page, url: str):  # type: ignore[no-untyped-def]
    """Submit a bare POST to `url` from this tab, with the session's CSRF token (the sign-out form's): a
    crafted request the page offers no button for, sent by the browser with its own Origin."""
    with page.expect_response(url) as answer:
        page.evaluate("""url => {
            const form = document.createElement('form');
            form.method = 'post';
            form.action = url;
            form.appendChild(document.querySelector('input[name=csrf_token]').cloneNode());
            document.body.appendChild(form);
            form.submit();
        }""", url)
    page.wait_for_load_state()
    return answer.value


def starter_finishes(page, stack: Stack, link: str, email: str) -> None:  # type: ignore[no-untyped-def]
    sent_before = len(stack.mailbox.texts_to(email))
    page.goto(link)
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("Code from the email").fill(stack.mailbox.latest_code(email, after=sent_before))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Your account is ready")).to_be_visible()
    assert len(page.locator("#tap").inner_text().strip()) >= 8


def test_in_threat_mode_an_unlock_waits_for_a_second_agent_not_the_first(  # type: ignore[no-untyped-def]
    stack: Stack, deploy_browser, tmp_path: Path
) -> None:
    for employee_id, given, family in (("SD001", "Dana", "Desk"), ("SD002", "Sam", "Second"),
                                       ("SD003", "Lee", "Lead")):
        staff_person(stack, employee_id, given, family)
    email = "threat.mode.tls@home.example"
    link = new_joiner(stack, "T400", email)
    lock(stack, "T400")

    lee = phone_page(deploy_browser)
    sign_in_as(lee, stack, "Lee Lead")
    lee.goto(f"{stack.url}/staff/desk/threat-mode")
    expect(lee.get_by_role("status")).to_contain_text("Threat mode is off")
    assert fits_the_width(lee) and small_choices(lee) == []  # a thumb hits the on/off radios
    screenshot(lee, tmp_path, "threat-mode-390.png")
    switch_threat_mode(lee, stack, True, "Phishing calls to the desk reported this morning")
    try:
        dana = phone_page(deploy_browser)
        sign_in_as(dana, stack, "Dana Desk")
        open_unlock(dana, stack, "T400")
        expect(dana.get_by_text(re.compile(r"A second agent must approve.*threat mode is on"))).to_be_visible()
        assert small_choices(dana) == []  # how the caller was verified, the invite's fate, "called back"
        screenshot(dana, tmp_path, "verify-threat-mode-390.png")
        dana.get_by_label(re.compile("Identity checked elsewhere")).check()
        dana.get_by_label(re.compile("Reference of the identity check")).fill("IDV-2026-0400")
        dana.get_by_label(re.compile("Reason", re.IGNORECASE)).fill("Ticket 400: ID checked in person")
        dana.get_by_role("button", name="Unlock", exact=True).click()
        expect(dana.get_by_role("status")).to_contain_text("Waiting for a second agent")
        request_url = dana.url
        assert re.fullmatch(rf"{re.escape(stack.url)}/staff/desk/requests/\d+", request_url)  # https, our host
        expect(dana.get_by_text("A colleague must approve this")).to_be_visible()
        expect(dana.get_by_role("button", name="Approve as second agent")).to_have_count(0)
        assert fits_the_width(dana)
        screenshot(dana, tmp_path, "request-own-390.png")
        refused = post_from_the_page(dana, f"{request_url}/approve")  # nor can she approve it by hand
        assert refused.status == 403
        expect(dana.get_by_role("status")).to_contain_text("A second agent must be someone else")
        assert state_of(stack, "T400") is ActivationState.LOCKED
        dana.context.close()

        sam = phone_page(deploy_browser)
        sign_in_as(sam, stack, "Sam Second")
        sam.goto(f"{stack.url}/staff/desk/")
        request_path = request_url.removeprefix(stack.url)
        sam.locator(f'a[href="{request_path}"]').click()  # the desk's "Waiting for approval" list
        expect(sam.get_by_role("status")).to_contain_text("Waiting for a second agent")
        assert fits_the_width(sam)
        screenshot(sam, tmp_path, "request-second-agent-390.png")
        sam.get_by_role("button", name="Approve as second agent").click()
        expect(sam.get_by_role("heading", name="Done", exact=True)).to_be_visible()
        expect(sam.get_by_role("status")).to_contain_text("Unlocked")
        assert state_of(stack, "T400") is ActivationState.INVITED
        sam.context.close()

        starter = phone_page(deploy_browser)
        starter_finishes(starter, stack, link, email)
        starter.context.close()
    finally:
        switch_threat_mode(lee, stack, False, "All clear after the review")
        lee.context.close()


def test_a_privileged_persons_unlock_needs_a_second_agent_over_tls(stack: Stack, deploy_browser) -> None:  # type: ignore[no-untyped-def]
    staff_person(stack, "SD001", "Dana", "Desk")
    staff_person(stack, "SD002", "Sam", "Second")
    email = "privileged.tls@home.example"
    link = new_joiner(stack, "T410", email)
    privileged(stack, "T410")
    lock(stack, "T410")

    dana = phone_page(deploy_browser)
    sign_in_as(dana, stack, "Dana Desk")
    open_unlock(dana, stack, "T410")
    expect(dana.get_by_text(re.compile(r"A second agent must approve.*HR flags this person"))).to_be_visible()
    expect(dana.get_by_text(re.compile(r"HR holds \*\*\*55"))).to_be_visible()  # masked, never the number
    assert "900555" not in dana.content()
    dana.get_by_label(re.compile("Call back the phone number HR holds")).check()
    dana.get_by_label(re.compile("I called that number")).check()
    dana.get_by_label(re.compile("Reason", re.IGNORECASE)).fill("Ticket 410: called back on the HR number")
    dana.get_by_role("button", name="Unlock", exact=True).click()
    expect(dana.get_by_role("status")).to_contain_text("Waiting for a second agent")
    request_url = dana.url
    assert state_of(stack, "T410") is ActivationState.LOCKED
    dana.context.close()

    sam = phone_page(deploy_browser)
    sign_in_as(sam, stack, "Sam Second")
    sam.goto(request_url)
    expect(sam.get_by_text("HR flags this person as privileged")).to_be_visible()
    sam.get_by_role("button", name="Approve as second agent").click()
    expect(sam.get_by_role("heading", name="Done", exact=True)).to_be_visible()
    assert state_of(stack, "T410") is ActivationState.INVITED
    sam.context.close()

    starter = phone_page(deploy_browser)
    starter_finishes(starter, stack, link, email)
    starter.context.close()


def test_the_manager_approves_the_desks_unlock_over_tls(stack: Stack, deploy_browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    staff_person(stack, "SD001", "Dana", "Desk")
    staff_person(stack, "M1002", "Riley", "Reviewer")  # not Morgan: other journeys count Morgan's starters
    email = "manager.approval.tls@home.example"
    link = new_joiner(stack, "T420", email, manager_id="M1002")
    lock(stack, "T420")

    dana = phone_page(deploy_browser)
    sign_in_as(dana, stack, "Dana Desk")
    open_unlock(dana, stack, "T420")
    expect(dana.get_by_text("The manager gets an email, signs in and approves")).to_be_visible()
    dana.get_by_label(re.compile("Ask the manager to approve")).check()
    dana.get_by_label(re.compile("Reason", re.IGNORECASE)).fill("Ticket 420: manager to confirm")
    dana.get_by_role("button", name="Unlock", exact=True).click()
    expect(dana.get_by_role("status")).to_contain_text("Waiting for the manager")
    assert state_of(stack, "T420") is ActivationState.LOCKED
    dana.context.close()

    def approval_link() -> str | None:
        for text in stack.mailbox.texts_to("riley.reviewer@contoso.example"):
            found = re.search(r"(\S+/staff/approvals/\d+)", text)
            if found and "Dorothy Vaughan" in text:
                return found.group(1)
        return None

    approval = wait_for(approval_link, "the manager's approval email", timeout=20)
    assert approval.startswith(f"{stack.url}/staff/approvals/")  # built from the public https URL
    riley = phone_page(deploy_browser)
    riley.goto(approval)  # not signed in yet: the link goes through the sign-in and comes back here
    riley.get_by_role("button", name=re.compile("Riley Reviewer")).click()
    riley.wait_for_url(approval)
    expect(riley.get_by_role("heading", name="Confirm a request for Dorothy Vaughan")).to_be_visible()
    assert fits_the_width(riley)
    screenshot(riley, tmp_path, "manager-approval-390.png")
    riley.get_by_role("button", name="Approve", exact=True).click()
    expect(riley.get_by_role("heading", name="Done", exact=True)).to_be_visible()
    expect(riley.get_by_role("status")).to_contain_text("The service desk's action has been carried out")
    assert state_of(stack, "T420") is ActivationState.INVITED
    riley.context.close()

    starter = phone_page(deploy_browser)
    starter_finishes(starter, stack, link, email)
    starter.context.close()
