"""A new starter on a phone: invite from the mailbox, code, wrong code, right code, TAP once."""

from __future__ import annotations

import pytest
from browser_support import Live, new_joiner, screenshot, serious_violations
from playwright.sync_api import expect


def check_accessible(page) -> None:  # type: ignore[no-untyped-def]
    assert serious_violations(page) == [], page.url


def test_starter_on_a_phone(live: Live, phone) -> None:  # type: ignore[no-untyped-def]
    email = "dorothy@home.example"
    new_joiner(live, "B100", email)
    page = phone

    page.goto(f"{live.url}/_demo/mailbox/?to={email}")
    check_accessible(page)
    page.get_by_role("link", name="Activate your").first.click()
    page.get_by_role("link", name=f"{live.url}/a/").first.click()
    expect(page.get_by_role("heading", name="Welcome, Dorothy")).to_be_visible()
    check_accessible(page)
    screenshot(page, "1-starter-landing")

    page.get_by_role("button", name="Send me a code").click()
    expect(page.get_by_role("heading", name="Enter the code we emailed you")).to_be_visible()
    check_accessible(page)
    code = live.latest_code(email)
    wrong = str((int(code) + 1) % 10 ** len(code)).zfill(len(code))

    page.get_by_label("Code from the email").fill(wrong)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("That code is not right")).to_be_visible()
    check_accessible(page)
    screenshot(page, "2-starter-wrong-code")

    page.get_by_label("Code from the email").fill(code)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Your account is ready")).to_be_visible()
    tap = page.locator("#tap").inner_text().strip()
    assert len(tap) >= 8
    expect(page.get_by_text("b100@contoso.example")).to_be_visible()
    check_accessible(page)
    screenshot(page, "3-starter-result")

    page.reload()  # post/redirect/get: a reload repeats the GET, no "resubmit the form?" and no second pass
    assert tap not in page.content()
    expect(page.get_by_role("heading", name="already activated")).to_be_visible()
    expect(page.get_by_role("button", name="Email me a code for a new pass")).to_be_visible()
    check_accessible(page)


def test_starter_journey_by_keyboard_alone(live: Live, phone) -> None:  # type: ignore[no-untyped-def]
    email = "keyboard@home.example"
    new_joiner(live, "B101", email)
    page = phone
    link = next(line for line in live.mailbox_text(email)[0].split() if line.startswith(f"{live.url}/a/"))
    page.goto(link)

    def tab_to(name: str) -> None:
        for _ in range(20):
            page.keyboard.press("Tab")
            focused = page.evaluate("document.activeElement && document.activeElement.textContent.trim()")
            if focused == name:
                return
        pytest.fail(f"could not reach {name!r} with the keyboard")

    tab_to("Send me a code")
    page.keyboard.press("Enter")
    page.wait_for_url("**/code")
    expect(page.locator("#code")).to_be_focused()  # the code field has focus
    page.keyboard.type(live.latest_code(email))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Your account is ready")).to_be_visible()


def test_readable_at_200_percent_zoom(live: Live, browser) -> None:  # type: ignore[no-untyped-def]
    """A 1280x900 screen at 200% zoom is a 640x450 CSS viewport: nothing may need sideways scrolling."""
    email = "zoom@home.example"
    new_joiner(live, "B102", email)
    link = next(line for line in live.mailbox_text(email)[0].split() if line.startswith(f"{live.url}/a/"))
    context = browser.new_context(viewport={"width": 640, "height": 450}, device_scale_factor=2)
    page = context.new_page()
    for url in (f"{live.url}/", link):
        page.goto(url)
        fits = page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        assert fits, f"{url} scrolls sideways at 200% zoom"
    page.get_by_role("button", name="Send me a code").click()
    expect(page.get_by_role("heading", name="Enter the code we emailed you")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    context.close()
