"""The mail port. Adapters: outbox (database), SMTP relay, Graph sendMail, and an in-memory fake."""

from __future__ import annotations

from typing import Protocol

from activation.mail.message import Email


class Mailer(Protocol):
    def send(self, email: Email) -> None:
        """Deliver `email` to the backend or raise MailDeliveryError; never report success that did not happen."""
