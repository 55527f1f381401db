"""Issue 16's "this wasn't me" link over TLS in real Chromium: the notice emailed after activation opens
through nginx, the button's POST passes the CSRF and origin checks, and the activation is frozen."""

from __future__ import annotations

from deploy_people import new_joiner
from deploy_stack import Stack, wait_for
from playwright.sync_api import expect
from sqlalchemy import select

from activation.models import Activation, ActivationState, Person

PHONE = {"width": 390, "height": 844}


def test_the_wasnt_me_link_freezes_the_activation_over_tls(stack: Stack, deploy_browser) -> None:  # type: ignore[no-untyped-def]
    email = "not.me.tls@home.example"
    link = new_joiner(stack, "D900", email)
    context = deploy_browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(link)
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("Code from the email").fill(stack.mailbox.latest_code(email))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Your account is ready")).to_be_visible()

    def notice_link() -> str | None:
        for text in stack.mailbox.texts_to(email):
            for word in text.split():
                if word.startswith(f"{stack.url}/not-me/"):
                    return word
        return None

    page.goto(wait_for(notice_link, "the activation notice", timeout=30))
    expect(page.get_by_role("heading", name="Was this not you?")).to_be_visible()
    page.get_by_role("button", name="This wasn't me: stop it").click()
    expect(page.get_by_role("heading", name="Thank you: we have stopped it")).to_be_visible()
    context.close()
    with stack.runtime.session_factory() as session:
        state = session.scalars(select(Activation.state).join(Person).where(Person.employee_id == "D900")).one()
    assert state is ActivationState.LOCKED
    user = stack.control.get(f"{stack.emulator.base_url}/_emulator/users", timeout=10).json()
    users = user.get("value", user) if isinstance(user, dict) else user
    assert [u["accountEnabled"] for u in users if u.get("employeeId") == "D900"] == [False]
