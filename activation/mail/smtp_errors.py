"""Turn smtplib / socket / TLS failures into calm operator messages that carry no secret.

Server replies are deliberately left out (only their numeric code is kept): a relay may echo
what it was sent, and the AUTH exchange holds the password.
"""

from __future__ import annotations

import smtplib
import ssl

from activation.mail.message import MailDeliveryError

BACKEND = "smtp"


def _what_went_wrong(exc: BaseException, stage: str, timeout: float) -> str:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"rejected the SMTP username or password (reply {exc.smtp_code})"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return "does not offer STARTTLS" if stage == "starttls" else f"does not support {stage.upper()}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in exc.recipients.values()})
        return f"refused the recipient (reply {', '.join(str(c) for c in codes)})"
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return f"refused the sender address (reply {exc.smtp_code})"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"answered {exc.smtp_code} during {stage}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"closed the connection during {stage}"
    if isinstance(exc, smtplib.SMTPException):
        return f"failed during {stage}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"presented a certificate we do not trust ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"failed the TLS handshake ({exc.reason or 'no reason given'})"
    if isinstance(exc, TimeoutError):
        return f"did not answer within {timeout:g} seconds during {stage}"
    if isinstance(exc, ConnectionRefusedError):
        return "refused the connection"
    if isinstance(exc, OSError) and exc.strerror:
        return f"could not be reached during {stage}: {exc.strerror}"
    return f"failed during {stage}"


def delivery_error(
    exc: BaseException, *, host: str, port: int, stage: str, timeout: float, kind: str
) -> MailDeliveryError:
    if isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(exc.__context__, TimeoutError):
        exc = exc.__context__  # smtplib reports a read timeout as a disconnection; name what really happened
    cause = type(exc).__name__
    message = f"SMTP relay {host}:{port} {_what_went_wrong(exc, stage, timeout)} ({cause}); {kind} email not sent."
    return MailDeliveryError(message, backend=BACKEND, cause=cause)
