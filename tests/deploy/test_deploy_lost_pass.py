"""A lost Temporary Access Pass replaced over TLS in a phone-sized Chromium: the finished starter opens
the same invite link, asks for a new pass (the 429 "wait a moment" page keeps the form working), proves
the personal email again with a fresh code and gets a new pass that replaces the old one."""

from __future__ import annotations

import re
from pathlib import Path

from deploy_people import fits_the_width, last_code_a_minute_ago, new_joiner, phone_page, screenshot
from deploy_stack import Stack
from playwright.sync_api import expect


def test_a_lost_pass_is_replaced_through_the_invite_link_over_tls(stack: Stack, deploy_browser,  # type: ignore[no-untyped-def]
                                                                  tmp_path: Path) -> None:
    email = "lost.pass.tls@home.example"
    link = new_joiner(stack, "L500", email)
    page = phone_page(deploy_browser)
    page.goto(link)
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("Code from the email").fill(stack.mailbox.latest_code(email))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Your account is ready")).to_be_visible()
    first = page.locator("#tap").inner_text().strip()
    page.close()  # the starter closes the tab without noting the pass

    page = page.context.new_page()
    page.goto(link)
    expect(page.get_by_role("heading", name="Your account is already activated")).to_be_visible()
    page.get_by_role("button", name="Email me a code for a new pass").click()
    expect(page.get_by_role("alert")).to_contain_text(re.compile(r"You can ask again in \d+ second"))
    last_code_a_minute_ago(stack, "L500")  # the cooldown is 60 s in staging: let that time pass
    sent_before = len(stack.mailbox.texts_to(email))
    page.get_by_role("button", name="Email me a code for a new pass").click()
    expect(page.get_by_role("heading", name="Enter the code we emailed you")).to_be_visible()
    assert page.url.startswith(f"{stack.url}/a/")  # the redirect stays on https and our host
    page.get_by_label("Code from the email").fill(stack.mailbox.latest_code(email, after=sent_before))
    with page.expect_response(re.compile(r"/a/[^/]+/pass$")) as answer:
        page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Your account is ready")).to_be_visible()
    assert answer.value.status == 200
    assert "no-store" in answer.value.headers["cache-control"]  # the pass is never kept by a cache
    second = page.locator("#tap").inner_text().strip()
    assert len(second) >= 8 and second != first
    assert fits_the_width(page)
    screenshot(page, tmp_path, "new-pass-result-390.png")

    info, control = stack.emulator, stack.control
    verify = f"{info.base_url}/_emulator/users/L500/tap/verify"
    assert control.post(verify, json={"value": second}, timeout=10).json() == {"valid": True}
    assert control.post(verify, json={"value": first}, timeout=10).json() == {"valid": False}  # replaced
    page.reload()  # a reload never shows the pass again
    expect(page.get_by_role("heading", name="Your account is already activated")).to_be_visible()
    assert second not in page.content()
    page.context.close()
