"""Issue 16's "this wasn't me" link over TLS in real Chromium: the notice emailed after activation opens
through nginx, the button's POST passes the CSRF and origin checks, and the activation is frozen. The
manager's link comes in their one "has activated" email, sent by the job worker through real SMTP."""

from __future__ import annotations

from deploy_people import new_joiner, staff_person
from deploy_stack import Stack, wait_for
from playwright.sync_api import expect
from sqlalchemy import select

from activation.models import Activation, ActivationState, Person

PHONE = {"width": 390, "height": 844}


def activate(stack: Stack, deploy_browser, employee_id: str, email: str, manager_id: str | None = None) -> None:  # type: ignore[no-untyped-def]
    link = new_joiner(stack, employee_id, email, manager_id=manager_id)
    context = deploy_browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(link)
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("Code from the email").fill(stack.mailbox.latest_code(email))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Your account is ready")).to_be_visible()
    context.close()


def notice_link_in(stack: Stack, address: str, must_contain: str = "", after: int = 0) -> str | None:
    for text in stack.mailbox.texts_to(address)[after:]:
        if must_contain in text:
            for word in text.split():
                if word.startswith(f"{stack.url}/not-me/"):
                    return word
    return None


def press_wasnt_me(stack: Stack, deploy_browser, link: str, employee_id: str) -> None:  # type: ignore[no-untyped-def]
    context = deploy_browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(link)
    expect(page.get_by_role("heading", name="Was this not you?")).to_be_visible()
    page.get_by_role("button", name="This wasn't me: stop it").click()
    expect(page.get_by_role("heading", name="Thank you: we have stopped it")).to_be_visible()
    context.close()
    with stack.runtime.session_factory() as session:
        state = session.scalars(select(Activation.state).join(Person).where(Person.employee_id == employee_id)).one()
    assert state is ActivationState.LOCKED
    user = stack.control.get(f"{stack.emulator.base_url}/_emulator/users", timeout=10).json()
    users = user.get("value", user) if isinstance(user, dict) else user
    assert [u["accountEnabled"] for u in users if u.get("employeeId") == employee_id] == [False]


def test_the_wasnt_me_link_freezes_the_activation_over_tls(stack: Stack, deploy_browser) -> None:  # type: ignore[no-untyped-def]
    email = "not.me.tls@home.example"
    activate(stack, deploy_browser, "D900", email)
    link = wait_for(lambda: notice_link_in(stack, email), "the activation notice", timeout=30)
    press_wasnt_me(stack, deploy_browser, link, "D900")


def test_the_manager_gets_one_email_whose_link_freezes_the_activation(stack: Stack, deploy_browser) -> None:  # type: ignore[no-untyped-def]
    staff_person(stack, "M1002", "Riley", "Reviewer")  # not Morgan: other journeys count Morgan's starters
    boss = "riley.reviewer@contoso.example"
    before = len(stack.mailbox.texts_to(boss))
    activate(stack, deploy_browser, "D901", "not.me.manager@home.example", manager_id="M1002")
    link = wait_for(lambda: notice_link_in(stack, boss, "activated their", before), "the manager's email", timeout=30)
    about_the_starter = [t for t in stack.mailbox.texts_to(boss)[before:] if "Dorothy Vaughan" in t]
    assert len(about_the_starter) == 1, about_the_starter  # the queued email carries the link: no second notice
    press_wasnt_me(stack, deploy_browser, link, "D901")
