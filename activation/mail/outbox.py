"""Outbox backend: messages stored in the database, viewable in demo mode instead of being sent."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from activation.clock import Clock, SystemClock
from activation.mail.message import Email, MailDeliveryError, ensure_safe_headers
from activation.models import OutboxMessage

logger = logging.getLogger(__name__)
BACKEND = "outbox"


class OutboxMailer:
    """Stores each message in its own short transaction.

    Sending mail is a side effect independent of the caller's unit of work, so it commits itself:
    a caller that later rolls back does not un-send the email, just as SMTP could not.
    """

    def __init__(self, session_factory: Callable[[], Session], *, clock: Clock | None = None) -> None:
        self._session_factory = session_factory
        self._clock = clock or SystemClock()

    def send(self, email: Email) -> None:
        ensure_safe_headers(email, backend=BACKEND)
        row = OutboxMessage(
            created_at=self._clock.now(),
            to_address=email.to,
            subject=email.subject,
            text_body=email.text,
            html_body=email.html,
        )
        try:
            with self._session_factory() as session, session.begin():
                session.add(row)
        except SQLAlchemyError as exc:
            raise MailDeliveryError(
                f"Outbox could not store a {email.kind} email ({type(exc).__name__}).",
                backend=BACKEND,
                cause=type(exc).__name__,
            ) from None
        logger.info("Stored a %s email in the outbox (id %s).", email.kind, row.id)
