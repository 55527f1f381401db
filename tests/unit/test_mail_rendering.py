"""The email renderer: HR data escaped in HTML, intact in text; one-line subjects; links from the caller."""

from __future__ import annotations

from pathlib import Path

import pytest

from activation.mail import Email, EmailRenderer, EmailTemplateError

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "email"
PUBLIC_URL = "https://activate.contoso.example"
HOSTILE = "<script>alert(1)</script> O'Brien & Sons"
LINK = f"{PUBLIC_URL}/invite/abc.def?lang=en&x=1"


@pytest.fixture
def renderer() -> EmailRenderer:
    return EmailRenderer(
        TEMPLATES, public_url=PUBLIC_URL + "/", organisation_name="Contoso", support_contact="the IT service desk"
    )


def invite_context(**overrides: str) -> dict[str, str]:
    context = {
        "given_name": "Ada",
        "link": LINK,
        "window_opens": "Monday 5 January 2026, 00:00 (Europe/London)",
        "expires": "Monday 19 January 2026, 23:59 (Europe/London)",
        "start_date": "Monday 5 January 2026",
    }
    return {**context, **overrides}


def render_all(renderer: EmailRenderer, name: str) -> dict[str, Email]:
    return {
        "invite": renderer.render("invite", "ada@example.org", **invite_context(given_name=name)),
        "code": renderer.render("code", "ada@example.org", given_name=name, code="48213907", minutes=10),
        "manager_notification": renderer.render(
            "manager_notification",
            "boss@contoso.example",
            manager_name=name,
            starter_name=name,
            completed_at="Monday 5 January 2026, 09:12 (Europe/London)",
        ),
    }


@pytest.mark.parametrize("kind", ["invite", "code", "manager_notification"])
def test_hr_data_is_escaped_in_html_and_intact_in_text(renderer: EmailRenderer, kind: str) -> None:
    email = render_all(renderer, HOSTILE)[kind]

    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; O&#39;Brien &amp; Sons" in email.html
    assert HOSTILE in email.text
    assert "&lt;" not in email.text and "&amp;" not in email.text
    assert email.kind == kind


def test_every_email_names_the_organisation_and_how_to_get_help(renderer: EmailRenderer) -> None:
    for email in render_all(renderer, "Ada").values():
        for body in (email.text, email.html):
            assert "Contoso" in body
            assert "the IT service desk" in body


def test_the_code_appears_in_the_code_email_body_only(renderer: EmailRenderer) -> None:
    emails = render_all(renderer, "Ada")

    assert "48213907" in emails["code"].text
    assert "48213907" in emails["code"].html
    assert "10 minutes" in emails["code"].text
    assert "48213907" not in emails["code"].subject  # subjects show on lock screens
    for kind in ("invite", "manager_notification"):
        assert "48213907" not in emails[kind].text + emails[kind].html + emails[kind].subject


@pytest.mark.parametrize("kind", ["invite", "code", "manager_notification"])
def test_subjects_are_single_stripped_lines(renderer: EmailRenderer, kind: str) -> None:
    subject = render_all(renderer, "Ada")[kind].subject

    assert subject == subject.strip()
    assert "\n" not in subject and "\r" not in subject
    assert subject


def test_hr_data_with_a_line_break_cannot_reach_a_subject(renderer: EmailRenderer) -> None:
    with pytest.raises(EmailTemplateError, match="single line"):
        renderer.render(
            "manager_notification",
            "boss@contoso.example",
            manager_name="Bea",
            starter_name="Ada\r\nBcc: victim@example.org",
            completed_at="today",
        )


def test_the_invite_link_is_the_one_the_caller_built(renderer: EmailRenderer) -> None:
    email = renderer.render("invite", "ada@example.org", **invite_context())

    assert LINK in email.text
    assert 'href="https://activate.contoso.example/invite/abc.def?lang=en&amp;x=1"' in email.html
    assert "Monday 5 January 2026, 00:00 (Europe/London)" in email.text
    assert "Monday 19 January 2026, 23:59 (Europe/London)" in email.text


@pytest.mark.parametrize(
    "link",
    ["https://evil.example/invite/abc", "https://activate.contoso.example.evil.example/x", "/invite/abc", ""],
)
def test_links_outside_the_public_url_are_refused(renderer: EmailRenderer, link: str) -> None:
    with pytest.raises(EmailTemplateError, match="public URL"):
        renderer.render("invite", "ada@example.org", **invite_context(link=link))


def test_strict_undefined_catches_a_missing_variable(renderer: EmailRenderer) -> None:
    context = invite_context()
    del context["window_opens"]

    with pytest.raises(EmailTemplateError, match="window_opens"):
        renderer.render("invite", "ada@example.org", **context)


def test_shared_values_come_from_settings_not_the_caller(renderer: EmailRenderer) -> None:
    with pytest.raises(EmailTemplateError, match="organisation_name"):
        renderer.render("code", "ada@example.org", given_name="Ada", code="1", minutes=10, organisation_name="Evil")


@pytest.mark.parametrize("kind", ["../secrets", "nope", "Invite"])
def test_unknown_or_unsafe_kinds_are_refused(renderer: EmailRenderer, kind: str) -> None:
    with pytest.raises(EmailTemplateError):
        renderer.render(kind, "ada@example.org")


def test_each_renderer_has_its_own_settings() -> None:
    first = EmailRenderer(TEMPLATES, public_url=PUBLIC_URL, organisation_name="Contoso", support_contact="desk A")
    second = EmailRenderer(TEMPLATES, public_url=PUBLIC_URL, organisation_name="Fabrikam", support_contact="desk B")

    assert "Contoso" in first.render("code", "a@example.org", given_name="A", code="1", minutes=10).subject
    assert "Fabrikam" in second.render("code", "a@example.org", given_name="A", code="1", minutes=10).subject


def test_email_repr_never_shows_the_bodies(renderer: EmailRenderer) -> None:
    email = renderer.render("code", "ada@example.org", given_name="Ada", code="48213907", minutes=10)

    assert "48213907" not in repr(email)


def test_the_invite_is_a_button_with_the_date_once_and_no_raw_url_in_html(renderer: EmailRenderer) -> None:
    import re

    email = renderer.render("invite", "ada@example.org", **invite_context())
    visible = re.sub(r"<[^>]+>", " ", email.html)  # what a reader sees, without attributes
    assert "activate.contoso.example" not in visible  # no long raw link in the HTML part
    assert email.html.count('href="https://activate.contoso.example/invite/') == 1
    assert visible.count("5 January 2026") == 1  # the day is said once
    assert LINK in email.text  # the text part keeps the link: it is all a text reader has


@pytest.mark.parametrize("kind", ["manager_notification", "manager_new_pass"])
def test_a_body_that_names_the_contact_does_not_repeat_it_in_the_footer(renderer: EmailRenderer, kind: str) -> None:
    email = renderer.render(kind, "boss@contoso.example", manager_name="Morgan", starter_name="Ada",
                            completed_at="Monday 5 January 2026, 09:12 (Europe/London)")
    assert email.html.count("the IT service desk") == 1 and email.text.count("the IT service desk") == 1


@pytest.mark.parametrize("kind", ["manager_notification", "manager_new_pass"])
def test_the_managers_email_carries_the_wasnt_me_link_when_given(renderer: EmailRenderer, kind: str) -> None:
    link = f"{PUBLIC_URL}/not-me/abc.def"
    email = renderer.render(kind, "boss@contoso.example", manager_name="Morgan", starter_name="Ada",
                            completed_at="Monday 5 January 2026, 09:12 (Europe/London)", wasnt_me_link=link,
                            link_days=7)
    assert link in email.text and f'href="{link}"' in email.html
    assert "7 days and only once" in email.text and "freeze the activation" in email.html
    assert email.html.count("the IT service desk") == 1 and email.text.count("the IT service desk") == 1
    with pytest.raises(EmailTemplateError):
        renderer.render(kind, "boss@contoso.example", manager_name="Morgan", starter_name="Ada",
                        completed_at="Monday", wasnt_me_link="https://evil.example/not-me/x", link_days=7)
