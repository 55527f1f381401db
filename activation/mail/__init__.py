"""Mail port and adapters: outbox, SMTP relay, Graph sendMail, fake; plus the email renderer."""

from activation.mail.factory import build_mailer
from activation.mail.fake import FakeMailer
from activation.mail.graph_mail import GraphMailer
from activation.mail.message import Email, MailDeliveryError
from activation.mail.outbox import OutboxMailer
from activation.mail.protocol import Mailer
from activation.mail.rendering import EmailRenderer, EmailTemplateError
from activation.mail.smtp import SmtpMailer

__all__ = [
    "Email",
    "EmailRenderer",
    "EmailTemplateError",
    "FakeMailer",
    "GraphMailer",
    "MailDeliveryError",
    "Mailer",
    "OutboxMailer",
    "SmtpMailer",
    "build_mailer",
]
