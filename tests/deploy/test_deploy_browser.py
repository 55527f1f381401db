"""Real Chromium over TLS through nginx to two gunicorn masters: starter, manager, desk, sign-out.

Chromium trusts the test CA (and the emulator's, for staff sign-in) through an NSS database; no
certificate error is ignored. Every form post here passes the CSRF token and the origin check.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from deploy_people import PHONE, invited_yesterday, lock, new_joiner, sign_in_as, staff_person
from deploy_stack import Stack
from playwright.sync_api import expect


def test_starter_journey_to_the_tap_over_tls(stack: Stack, deploy_browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    email = "tls.starter@home.example"
    link = new_joiner(stack, "D100", email)
    context = deploy_browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True)
    page = context.new_page()
    screens: list[str] = []
    page.on("framenavigated", lambda frame: screens.append(frame.url) if frame == page.main_frame else None)

    started = time.monotonic()
    page.goto(link)
    expect(page.get_by_role("heading", name="Welcome, Dorothy")).to_be_visible()
    page.get_by_role("button", name="Send me a code").click()
    expect(page.get_by_role("heading", name="Enter the code we emailed you")).to_be_visible()
    page.get_by_label("Code from the email").fill(stack.mailbox.latest_code(email))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Your account is ready")).to_be_visible()
    seconds = time.monotonic() - started
    tap = page.locator("#tap").inner_text().strip()
    assert len(tap) >= 8
    print(f"\nstarter journey over TLS in Chromium: {len(screens)} screens, {seconds:.1f}s")  # noqa: T201
    assert page.url.startswith(f"{stack.url}/a/")  # the result page's own URL carries the invite token
    shot = Path(os.environ.get("ACTIVATION_DEPLOY_SCREENSHOT", str(tmp_path / "starter-result-390.png")))
    page.screenshot(path=str(shot), full_page=True)

    # Follow the My Security Info link: the other origin learns nothing about our URL.
    page.get_by_role("link", name="Go to My Security Info").click()
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    arrived = [r for r in stack.foreign.requests if r["path"].startswith("/security-info")]
    assert arrived, stack.foreign.requests
    for request in arrived:
        assert "referer" not in request
        assert "/a/" not in " ".join(request.values())
    context.close()


def test_an_invite_page_sends_nothing_to_another_origin_even_without_rel_noreferrer(  # type: ignore[no-untyped-def]
    stack: Stack, deploy_browser
) -> None:
    """The referrer policy, not a link attribute, is what keeps the token home: leave the invite page
    for another origin by any route and no Referer goes with it."""
    link = new_joiner(stack, "D101", "policy@home.example")
    context = deploy_browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(link)
    expect(page.get_by_role("heading", name="Welcome, Dorothy")).to_be_visible()
    page.evaluate("url => { window.location.href = url }", f"{stack.foreign.url}/from-invite-page")
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    arrived = [r for r in stack.foreign.requests if r["path"].startswith("/from-invite-page")]
    assert arrived and all("referer" not in r for r in arrived)
    context.close()


def test_manager_resends_and_signs_out(stack: Stack, deploy_browser) -> None:  # type: ignore[no-untyped-def]
    staff_person(stack, "M1001", "Morgan", "Manager")
    old_link = new_joiner(stack, "D200", "resend@home.example", manager_id="M1001")
    invited_yesterday(stack, "D200")
    context = deploy_browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in_as(page, stack, "Morgan Manager")
    expect(page.get_by_role("heading", name="My new starters")).to_be_visible()
    page.get_by_role("link", name=re.compile("Resend invite to Dorothy")).click()
    page.get_by_role("button", name="Resend invite").click()
    expect(page.get_by_role("heading", name="Done", exact=True)).to_be_visible()

    def new_link() -> str:
        found = stack.mailbox.link("resend@home.example", stack.url)
        assert found != old_link
        return found

    new_link()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You have signed out")).to_be_visible()
    # Signed out here and at the identity provider: the starters page asks for a sign-in again.
    page.goto(f"{stack.url}/staff/starters/")
    expect(page.get_by_role("button", name=re.compile("Morgan Manager"))).to_be_visible()
    assert page.url.startswith(stack.emulator.base_url)
    context.close()

    starter = deploy_browser.new_context(viewport=PHONE).new_page()
    starter.goto(old_link)
    expect(starter.get_by_role("heading", name="A newer link was sent")).to_be_visible()
    starter.context.close()


def test_desk_unlocks_a_locked_starter_who_then_finishes(stack: Stack, deploy_browser) -> None:  # type: ignore[no-untyped-def]
    staff_person(stack, "SD001", "Dana", "Desk")
    email = "locked.tls@home.example"
    link = new_joiner(stack, "D300", email)
    lock(stack, "D300")
    starter = deploy_browser.new_context(viewport=PHONE).new_page()
    starter.goto(link)
    expect(starter.get_by_role("heading", name="Your activation is paused")).to_be_visible()

    context = deploy_browser.new_context(viewport={"width": 1280, "height": 900})
    desk = context.new_page()
    sign_in_as(desk, stack, "Dana Desk")
    expect(desk.get_by_role("heading", name="Service desk")).to_be_visible()
    desk.get_by_label(re.compile("Find a person")).fill("D300")
    desk.get_by_role("button", name="Search").click()
    desk.get_by_role("link", name=re.compile("Dorothy Vaughan")).first.click()
    desk.get_by_role("link", name=re.compile("Unlock", re.IGNORECASE)).click()
    desk.get_by_label(re.compile("Identity checked elsewhere")).check()  # the caller is verified first
    desk.get_by_label(re.compile("Reference of the identity check")).fill("IDV-2026-0042")
    desk.get_by_label(re.compile("Reason", re.IGNORECASE)).fill("Called from her phone; identity checked")
    desk.get_by_role("button", name="Unlock", exact=True).click()
    expect(desk.get_by_role("heading", name="Done", exact=True)).to_be_visible()
    desk.get_by_role("button", name="Sign out").click()
    expect(desk.get_by_role("heading", name="You have signed out")).to_be_visible()
    context.close()

    sent_before = len(stack.mailbox.texts_to(email))
    starter.goto(link)
    starter.get_by_role("button", name="Send me a code").click()
    starter.get_by_label("Code from the email").fill(stack.mailbox.latest_code(email, after=sent_before))
    starter.get_by_role("button", name="Continue").click()
    expect(starter.get_by_role("heading", name="Your account is ready")).to_be_visible()
    starter.context.close()
