"""SMTP relay backend using the standard library client (STARTTLS, implicit TLS or plain)."""

from __future__ import annotations

import logging
import secrets
import smtplib
import ssl
import threading
import time
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from typing import Any

from activation.clock import Clock, SystemClock
from activation.errors import ConfigurationError
from activation.mail.message import Email, MailDeliveryError, ensure_safe_headers
from activation.mail.smtp_errors import BACKEND, delivery_error

logger = logging.getLogger(__name__)
SECURITY_MODES = ("starttls", "ssl", "none")
# An SMTP session is kept open this long after a message for the next one (connect, greeting, EHLO,
# STARTTLS and AUTH cost more than the message): well below the idle timeouts relays use (Postfix
# 300 s, Exchange Online 10 min), so a kept session is rarely found closed; if it is, the message
# goes on a fresh session (nothing was accepted on the dead one).
IDLE_REUSE_SECONDS = 20.0
MAX_IDLE_SESSIONS = 4


def build_mime_message(email: Email, *, mail_from: str, clock: Clock) -> Message:
    """multipart/alternative with the text part first (the fallback) and the HTML part last (preferred).

    Built with the email package's classic (compat32) classes: the modern EmailMessage parses every
    header it is given through its header registry, which made it about three times as expensive as
    this for the same message. A message to or from an internationalised address still takes the
    modern path, which smtplib needs to send it with SMTPUTF8.
    """
    if not (email.to.isascii() and parseaddr(mail_from)[1].isascii()):
        return _build_international(email, mail_from=mail_from, clock=clock)
    message = MIMEMultipart("alternative", boundary=_boundary(email), policy=SHORT_HEADERS)
    _set_headers(message, email, mail_from=mail_from, clock=clock)
    message.attach(_text_part(email.text, "plain"))
    message.attach(_text_part(email.html, "html"))
    return message


class Compat32ShortHeaders(Compat32):
    """compat32, except that a header which is printable ASCII and fits on one line is written as given.
    compat32 builds an email.header.Header for every header to fold it, and for such a header the
    result is the same text (tests/unit/test_mime_message.py compares the two); that was about half the
    CPU of flattening a message. Any other header takes compat32's own folding."""

    def fold_binary(self, name: str, value: Any) -> bytes:
        if (isinstance(value, str) and value.isascii() and value.isprintable()
                and len(name) + 2 + len(value) <= (self.max_line_length or 78)):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


SHORT_HEADERS = Compat32ShortHeaders()


def _boundary(email: Email) -> str:
    """A random MIME boundary found in neither body. Given in advance, it spares the generator its own
    search (a regular expression compiled and run over both bodies for every message). "=_" cannot
    occur in a base64 part, and a 7bit part is checked."""
    while True:
        boundary = f"=_{secrets.token_hex(16)}"
        if boundary not in email.text and boundary not in email.html:
            return boundary


def _set_headers(message: Message, email: Email, *, mail_from: str, clock: Clock, encode: bool = True) -> None:
    """`encode`: RFC 2047 words for non-ASCII text (compat32 writes headers as given; EmailMessage encodes)."""
    name, address = parseaddr(mail_from)
    if encode:
        message["From"] = formataddr((name, address), charset="utf-8") if name else address
        message["Subject"] = email.subject if email.subject.isascii() else Header(email.subject, "utf-8").encode()
    else:
        message["From"] = mail_from
        message["Subject"] = email.subject
    message["To"] = email.to
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = make_msgid(domain=address.rpartition("@")[2] or "localhost")
    # RFC 3834: an automated message; the second header asks Exchange not to send out-of-office replies.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"


def _text_part(body: str, subtype: str) -> MIMEText:
    """7bit when the body is plain ASCII in SMTP-sized lines, otherwise UTF-8 in base64."""
    fits_7bit = body.isascii() and all(len(line) <= 998 for line in body.splitlines())
    return MIMEText(body, subtype, "us-ascii" if fits_7bit else "utf-8", policy=SHORT_HEADERS)


def _build_international(email: Email, *, mail_from: str, clock: Clock) -> EmailMessage:
    message = EmailMessage()
    _set_headers(message, email, mail_from=mail_from, clock=clock, encode=False)
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


class SmtpMailer:
    def __init__(
        self,
        host: str,
        port: int,
        security: str,
        username: str,
        password: str,
        mail_from: str,
        timeout: float,
        ssl_context: ssl.SSLContext | None = None,
        *,
        clock: Clock | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if security not in SECURITY_MODES:
            raise ConfigurationError(
                f"ACTIVATION_SMTP_SECURITY {security!r} is not one of {', '.join(SECURITY_MODES)}."
            )
        if security == "none" and username:
            raise ConfigurationError(
                "ACTIVATION_SMTP_SECURITY=none with a username would send the SMTP password in clear text; "
                "use starttls or ssl."
            )
        if username and not password:
            raise ConfigurationError("ACTIVATION_SMTP_USERNAME is set but ACTIVATION_SMTP_PASSWORD is empty.")
        self._host = host
        self._port = port
        self._security = security
        self._username = username
        self._password = password
        self._mail_from = mail_from
        self._timeout = timeout
        self._clock = clock or SystemClock()
        self._local_hostname = local_hostname
        self._ssl_context = ssl_context
        self._idle: list[tuple[smtplib.SMTP, float]] = []  # kept sessions, most recent last
        self._idle_lock = threading.Lock()
        if self._ssl_context is None and security != "none":
            self._ssl_context = ssl.create_default_context()

    def __repr__(self) -> str:
        return f"SmtpMailer(host={self._host!r}, port={self._port}, security={self._security!r})"

    def send(self, email: Email) -> None:
        ensure_safe_headers(email, backend=BACKEND)
        try:
            message = build_mime_message(email, mail_from=self._mail_from, clock=self._clock)
        except (ValueError, TypeError, IndexError) as exc:  # the email package's header parsing
            raise MailDeliveryError(
                f"SMTP: could not build a {email.kind} email ({type(exc).__name__}).",
                backend=BACKEND,
                cause=type(exc).__name__,
            ) from None
        client, reused = self._idle_session(), True
        if client is None:
            client, reused = self._open_session(email), False
        try:
            client.send_message(message)
        except (smtplib.SMTPServerDisconnected, ConnectionError) as exc:
            client.close()
            if not reused:
                raise self._error(exc, "send", email) from None
            client = self._open_session(email)  # the kept session had been closed by the server
            self._send_on_fresh(client, message, email)
        except (smtplib.SMTPException, OSError) as exc:
            client.close()
            # `from None`: the chained smtplib error could carry the server's reply to AUTH.
            raise self._error(exc, "send", email) from None
        self._keep_or_quit(client)
        logger.info(
            "Sent a %s email through SMTP relay %s:%s (%s).", email.kind, self._host, self._port, message["Message-ID"]
        )

    def _send_on_fresh(self, client: smtplib.SMTP, message: Message, email: Email) -> None:
        try:
            client.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            client.close()
            raise self._error(exc, "send", email) from None

    def _open_session(self, email: Email) -> smtplib.SMTP:
        """Connect, then STARTTLS and AUTH as configured: a session ready for MAIL FROM."""
        stage = "connect"
        try:
            client = self._connect()
        except (smtplib.SMTPException, OSError) as exc:  # ssl.SSLError is an OSError
            raise self._error(exc, stage, email) from None
        try:
            if self._security == "starttls":
                stage = "starttls"
                client.ehlo()
                client.starttls(context=self._ssl_context)
                client.ehlo()
            if self._username:
                stage = "auth"
                client.login(self._username, self._password)
        except (smtplib.SMTPException, OSError) as exc:
            client.close()
            raise self._error(exc, stage, email) from None  # never chain the server's reply to AUTH
        return client

    def _idle_session(self) -> smtplib.SMTP | None:
        """The most recently used kept session, if it is fresh enough; stale ones are closed."""
        fresh, stale = None, []
        with self._idle_lock:
            while self._idle and fresh is None:
                client, since = self._idle.pop()
                if time.monotonic() - since < IDLE_REUSE_SECONDS:
                    fresh = client
                else:
                    stale.append(client)
        for client in stale:
            self._quit_quietly(client)
        return fresh

    def _keep_or_quit(self, client: smtplib.SMTP) -> None:
        with self._idle_lock:
            if len(self._idle) < MAX_IDLE_SESSIONS:
                self._idle.append((client, time.monotonic()))
                return
        self._quit_quietly(client)

    def close(self) -> None:
        """QUIT every kept session (at shutdown; a kept session also ends when the process does)."""
        with self._idle_lock:
            kept, self._idle = self._idle, []
        for client, _since in kept:
            self._quit_quietly(client)

    def _connect(self) -> smtplib.SMTP:
        if self._security == "ssl":
            return smtplib.SMTP_SSL(
                self._host,
                self._port,
                local_hostname=self._local_hostname,
                timeout=self._timeout,
                context=self._ssl_context,
            )
        return smtplib.SMTP(self._host, self._port, local_hostname=self._local_hostname, timeout=self._timeout)

    def _quit_quietly(self, client: smtplib.SMTP) -> None:
        """The message is already accepted; a failed QUIT must not turn that into a reported failure."""
        try:
            client.quit()
        except (smtplib.SMTPException, OSError) as exc:
            logger.debug("SMTP QUIT to %s:%s failed after delivery (%s).", self._host, self._port, type(exc).__name__)
            client.close()

    def _error(self, exc: BaseException, stage: str, email: Email) -> MailDeliveryError:
        return delivery_error(
            exc, host=self._host, port=self._port, stage=stage, timeout=self._timeout, kind=email.kind
        )
