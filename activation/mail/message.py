"""What a mailer sends, and the one error every mail backend raises."""

from __future__ import annotations

from dataclasses import dataclass, field

from activation.errors import ActivationError


@dataclass(frozen=True)
class Email:
    """One rendered message. Bodies stay out of repr(): the code email carries a secret."""

    to: str
    subject: str
    text: str = field(repr=False)
    html: str = field(repr=False)
    kind: str = "message"


class MailDeliveryError(ActivationError):
    """A message could not be handed to the mail backend.

    The message is for operators: it names the backend and the cause class, never a password,
    a recipient's message body or a code.
    """

    def __init__(self, message: str, *, backend: str, cause: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.backend = backend
        self.cause = cause
        self.retry_after = retry_after  # seconds the service asked us to wait (a throttled mailbox)


def _has_line_break_or_control(value: str) -> bool:
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in value)


def ensure_safe_headers(email: Email, *, backend: str) -> None:
    """Refuse header injection: CR, LF or other control characters in To or Subject."""
    for name, value in (("To", email.to), ("Subject", email.subject)):
        if not value.strip():
            raise MailDeliveryError(f"{backend}: refused a {email.kind} email with an empty {name}.", backend=backend)
        if _has_line_break_or_control(value):
            raise MailDeliveryError(
                f"{backend}: refused a {email.kind} email whose {name} holds a line break or control character "
                "(possible header injection).",
                backend=backend,
            )
