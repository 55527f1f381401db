"""The job consumer runs as its own service next to the two gunicorn masters: a lost-link request
answered by a portal process is looked up and emailed by `activation worker`, through Redis."""

from __future__ import annotations

from deploy_people import new_joiner
from deploy_stack import Stack, wait_for
from playwright.sync_api import expect

PHONE = {"width": 390, "height": 844}


def test_a_lost_link_request_is_emailed_by_the_worker_service(stack: Stack, deploy_browser) -> None:  # type: ignore[no-untyped-def]
    email = "lost.link.tls@home.example"
    first = new_joiner(stack, "D800", email)
    links_before = len(stack.mailbox.texts_to(email))
    context = deploy_browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{stack.url}/")
    page.get_by_label("Your personal email address").fill("Lost.Link.TLS@Home.Example")  # typed with capitals
    page.get_by_role("button", name="Send me a new link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    context.close()

    def new_link() -> str | None:
        texts = stack.mailbox.texts_to(email)[links_before:]
        for text in texts:
            for word in text.split():
                if word.startswith(f"{stack.url}/a/") and word != first:
                    return word
        return None

    # Queued mail is paced to [queue] mail_per_minute (25) emails a minute, counted with the codes and
    # invites the journeys before this one sent: after a busy minute the job waits up to a minute.
    fresh = wait_for(new_link, "the worker to email a new link", timeout=30 + 60)
    assert fresh != first
