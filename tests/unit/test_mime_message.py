"""The SMTP backend's MIME message: the short-header policy writes what compat32 writes, and the
boundary given in advance never occurs in a body."""

from __future__ import annotations

import email
import io
from datetime import UTC, datetime
from email.generator import BytesGenerator
from email.policy import compat32

import pytest

from activation.clock import FakeClock
from activation.mail.message import Email
from activation.mail.smtp import build_mime_message

CLOCK = FakeClock(datetime(2026, 3, 2, 8, 30, tzinfo=UTC))


def flattened(message: email.message.Message, policy=None) -> bytes:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    BytesGenerator(out, policy=policy).flatten(message, linesep="\r\n")  # as smtplib.send_message does
    return out.getvalue()


@pytest.mark.parametrize("subject", [
    "Your activation code",
    "Ihr Aktivierungscode für Müller",  # RFC 2047 words
    "A subject that is much longer than one line of seventy-eight characters, so it has to be folded",
    "O'Brien, Smith & Sons: your code",
])
@pytest.mark.parametrize("sender", ["no-reply@contoso.example", "Contoso IT <no-reply@contoso.example>",
                                    "Contoso, IT Desk <no-reply@contoso.example>"])
def test_the_message_is_byte_for_byte_what_compat32_writes(subject: str, sender: str) -> None:
    mail = Email(to="ada@home.example", subject=subject, text="Your code is 123456.\n", html="<p>Ünïcode body</p>",
                 kind="code")
    message = build_mime_message(mail, mail_from=sender, clock=CLOCK)
    assert flattened(message) == flattened(message, policy=compat32)


def test_the_boundary_is_in_neither_body_and_both_parts_come_back_intact() -> None:
    text, html = "Line one\n--=_ not a boundary\n", "<p>Hello</p>\n"
    message = build_mime_message(Email(to="ada@home.example", subject="Hi", text=text, html=html, kind="code"),
                                 mail_from="no-reply@contoso.example", clock=CLOCK)
    boundary = message.get_boundary()
    assert boundary and boundary not in text and boundary not in html
    parsed = email.message_from_bytes(flattened(message))
    plain, rich = parsed.get_payload()
    def body(part):  # type: ignore[no-untyped-def]
        return part.get_payload(decode=True).decode().replace("\r\n", "\n")  # SMTP's line ends

    assert body(plain) == text and body(rich) == html
    other = build_mime_message(Email(to="ada@home.example", subject="Hi", text=text, html=html, kind="code"),
                               mail_from="no-reply@contoso.example", clock=CLOCK)
    assert other.get_boundary() != boundary  # random per message: nobody can plant it in a body
