"""In-memory mailer for tests and for services' unit tests: records what it was asked to send."""

from __future__ import annotations

from dataclasses import dataclass, field

from activation.mail.message import Email, MailDeliveryError, ensure_safe_headers

BACKEND = "fake"


@dataclass
class FakeMailer:
    """`sent` holds delivered emails in order; `fail_next` scripts failures for the next sends."""

    sent: list[Email] = field(default_factory=list)
    failed: list[Email] = field(default_factory=list)
    _failures: list[MailDeliveryError] = field(default_factory=list, repr=False)

    def fail_next(self, times: int = 1, error: MailDeliveryError | None = None) -> None:
        if times < 1:
            raise ValueError("times must be at least 1")
        for _ in range(times):
            self._failures.append(
                error or MailDeliveryError("Fake mailer was told to fail.", backend=BACKEND, cause="scripted")
            )

    def send(self, email: Email) -> None:
        ensure_safe_headers(email, backend=BACKEND)
        if self._failures:
            self.failed.append(email)
            raise self._failures.pop(0)
        self.sent.append(email)

    def sent_to(self, address: str, kind: str | None = None) -> list[Email]:
        """Emails delivered to `address` (case-insensitive), optionally of one kind."""
        wanted = address.casefold()
        return [e for e in self.sent if e.to.casefold() == wanted and (kind is None or e.kind == kind)]
