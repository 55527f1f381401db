"""Graph backend: sendMail from one mailbox (Mail.Send scoped to that mailbox)."""

from __future__ import annotations

import logging
from typing import Protocol

from activation.errors import ActivationError
from activation.graph.models import MailMessage
from activation.mail.message import Email, MailDeliveryError, ensure_safe_headers

logger = logging.getLogger(__name__)
BACKEND = "graph"


class SendsGraphMail(Protocol):
    """The one part of GraphClient this adapter needs."""

    def send_mail(self, sender: str, message: MailMessage) -> None: ...


class GraphMailer:
    def __init__(self, graph_client: SendsGraphMail, sender: str) -> None:
        self._graph = graph_client
        self._sender = sender

    def send(self, email: Email) -> None:
        ensure_safe_headers(email, backend=BACKEND)
        message = MailMessage(to=[email.to], subject=email.subject, html=email.html, text=email.text)
        try:
            self._graph.send_mail(self._sender, message)
        except ActivationError as exc:
            # Graph and token errors are written to be safe to show (no tokens, no bodies).
            raise MailDeliveryError(
                f"Graph sendMail as {self._sender} failed for a {email.kind} email ({type(exc).__name__}: {exc}).",
                backend=BACKEND,
                cause=type(exc).__name__,
                retry_after=getattr(exc, "retry_after", None),
            ) from exc
        logger.info("Sent a %s email through Graph sendMail as %s.", email.kind, self._sender)
