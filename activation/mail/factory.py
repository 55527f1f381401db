"""Choose the mail backend from settings (ACTIVATION_MAIL_BACKEND), never from "are we testing"."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import cast

from sqlalchemy.orm import Session

from activation.config import MailSettings
from activation.errors import ConfigurationError
from activation.mail.graph_mail import GraphMailer, SendsGraphMail
from activation.mail.outbox import OutboxMailer
from activation.mail.protocol import Mailer
from activation.mail.smtp import SmtpMailer

BACKENDS = ("outbox", "smtp", "graph")


def build_mailer(
    mail: MailSettings,
    *,
    session_factory: Callable[[], Session] | None,
    graph_client_provider: Callable[[], object] | None,
    smtp_ssl_context: ssl.SSLContext | None = None,
) -> Mailer:
    """`graph_client_provider` is only called for the graph backend, so other setups never build MSAL."""
    if mail.backend == "outbox":
        if session_factory is None:
            raise ConfigurationError("ACTIVATION_MAIL_BACKEND=outbox needs a database session factory.")
        return OutboxMailer(session_factory)
    if mail.backend == "smtp":
        if not mail.smtp_host:
            raise ConfigurationError("ACTIVATION_MAIL_BACKEND=smtp needs ACTIVATION_SMTP_HOST.")
        return SmtpMailer(
            host=mail.smtp_host,
            port=mail.smtp_port,
            security=mail.smtp_security,
            username=mail.smtp_username,
            password=mail.smtp_password,
            mail_from=mail.mail_from,
            timeout=mail.smtp_timeout_seconds,
            ssl_context=smtp_ssl_context,
        )
    if mail.backend == "graph":
        if not mail.sender:
            raise ConfigurationError(
                "ACTIVATION_MAIL_BACKEND=graph needs ACTIVATION_MAIL_SENDER (the sending mailbox)."
            )
        if graph_client_provider is None:
            raise ConfigurationError("ACTIVATION_MAIL_BACKEND=graph needs a Graph client.")
        client = graph_client_provider()
        if not callable(getattr(client, "send_mail", None)):
            raise ConfigurationError("ACTIVATION_MAIL_BACKEND=graph: the Graph client has no send_mail.")
        return GraphMailer(cast(SendsGraphMail, client), mail.sender)
    raise ConfigurationError(f"ACTIVATION_MAIL_BACKEND {mail.backend!r} is not one of {', '.join(BACKENDS)}.")
