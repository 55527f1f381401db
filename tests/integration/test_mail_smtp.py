"""SmtpMailer against a real SMTP server (aiosmtpd) on 127.0.0.1: plain, STARTTLS, implicit TLS, AUTH."""

from __future__ import annotations

import email
import email.policy
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from activation.clock import FakeClock
from activation.mail import Email, MailDeliveryError, SmtpMailer

USERNAME = "relay-user"
PASSWORD = "correct horse battery staple"
WRONG_PASSWORD = "Tr0ub4dor&3-not-it"
CODE = "48213907"
MAIL_FROM = "Contoso onboarding <no-reply@contoso.example>"


@dataclass
class Received:
    envelope: Any
    tls: bool
    authenticated: bool | None


@dataclass
class StoringHandler:
    """Keeps every accepted message with how the session was secured."""

    received: list[Received] = field(default_factory=list)
    peers: list[Any] = field(default_factory=list)  # the client's (address, port): one per SMTP session

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]  # noqa: N802
        tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        self.received.append(Received(envelope, tls, session.authenticated))
        self.peers.append(session.peer)
        return "250 Message accepted for delivery"

    def message(self, index: int = -1) -> EmailMessage:
        content = self.received[index].envelope.original_content
        return email.message_from_bytes(content, policy=email.policy.default)  # type: ignore[return-value]


def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:  # type: ignore[no-untyped-def]
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USERNAME.encode()
        and (auth_data.password == PASSWORD.encode())
    )
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Certificate:
    cert_path: Path
    key_path: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert_path))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1, made for this test run."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("smtp-tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return Certificate(cert_path, key_path)


@dataclass
class Server:
    handler: StoringHandler
    port: int
    controller: Controller
    running: bool = True

    def stop(self) -> None:
        self.controller.stop()
        self.running = False


@pytest.fixture
def start_server() -> Iterator[Callable[..., Server]]:
    """Factory: start an aiosmtpd server with the given SMTP options; all are stopped after the test."""
    servers: list[Server] = []

    def start(port: int | None = None, **options: Any) -> Server:
        handler = StoringHandler()
        port = port or free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, server_hostname="localhost", **options)
        controller.start()
        servers.append(Server(handler, port, controller))
        return servers[-1]

    yield start
    for server in servers:
        if server.running:
            server.stop()


def mailer(port: int, security: str = "none", **overrides: Any) -> SmtpMailer:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": security,
        "username": "",
        "password": "",
        "mail_from": MAIL_FROM,
        "timeout": 5,
        "clock": FakeClock(current=datetime(2026, 1, 5, 8, 30, tzinfo=UTC)),
        "local_hostname": "activation.test",
    }
    return SmtpMailer(**{**values, **overrides})


def code_email(**overrides: str) -> Email:
    values = {
        "to": "ada@example.org",
        "subject": "Your Contoso activation code",
        "text": f"Hello Ada,\n\nYour activation code is: {CODE}\n",
        "html": f"<p>Hello Ada,</p><p>Your activation code is: <b>{CODE}</b></p>\n",
        "kind": "code",
    }
    return Email(**{**values, **overrides})


def test_plain_smtp_delivers_a_multipart_alternative_message(start_server: Callable[..., Server]) -> None:
    server = start_server()

    mailer(server.port).send(code_email(subject="Bienvenue chez Contoso, Zoë"))

    [received] = server.handler.received
    assert received.envelope.mail_from == "no-reply@contoso.example"
    assert received.envelope.rcpt_tos == ["ada@example.org"]
    assert received.tls is False
    message = server.handler.message()
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    assert text_part is not None and html_part is not None
    assert f"Your activation code is: {CODE}" in text_part.get_content()
    assert f"<b>{CODE}</b>" in html_part.get_content()
    assert message["From"] == MAIL_FROM
    assert message["To"] == "ada@example.org"
    assert message["Subject"] == "Bienvenue chez Contoso, Zoë"
    assert message["Date"] == "Mon, 05 Jan 2026 08:30:00 +0000"
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith("@contoso.example>")
    assert message["Auto-Submitted"] == "auto-generated"


def test_non_ascii_text_long_lines_and_a_non_ascii_sender_name_arrive_intact(
    start_server: Callable[..., Server],
) -> None:
    server = start_server()
    long_line = "<p>" + "é" * 600 + " " + "x" * 1200 + "</p>"

    mailer(server.port, mail_from="Équipe d'accueil <no-reply@contoso.example>").send(
        code_email(text="Bonjour Zoë,\n\nVotre code : 48213907\n", html=long_line)
    )

    message = server.handler.message()
    assert message["From"] == "Équipe d'accueil <no-reply@contoso.example>"
    assert message.get_body(preferencelist=("plain",)).get_content() == "Bonjour Zoë,\n\nVotre code : 48213907\n"
    assert message.get_body(preferencelist=("html",)).get_content().rstrip("\n") == long_line
    raw = server.handler.received[-1].envelope.original_content
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998  # SMTP's line limit


def test_a_recipient_at_an_internationalised_domain_is_sent_with_smtputf8(start_server: Callable[..., Server]) -> None:
    server = start_server(enable_SMTPUTF8=True)

    mailer(server.port).send(code_email(to="zoe@exemple-café.fr"))

    [received] = server.handler.received
    assert received.envelope.rcpt_tos == ["zoe@exemple-café.fr"]
    assert server.handler.message()["To"] == "zoe@exemple-café.fr"


def test_each_message_gets_its_own_message_id(start_server: Callable[..., Server]) -> None:
    server = start_server()
    sender = mailer(server.port)

    sender.send(code_email())
    sender.send(code_email())

    assert server.handler.message(0)["Message-ID"] != server.handler.message(1)["Message-ID"]


def test_messages_in_a_row_share_one_smtp_session(start_server: Callable[..., Server]) -> None:
    """Connect, greeting and EHLO once: a burst of code emails does not pay a new session per message."""
    server = start_server()
    sender = mailer(server.port)

    for _ in range(3):
        sender.send(code_email())

    assert len(server.handler.received) == 3
    assert len(set(server.handler.peers)) == 1


def test_a_kept_session_the_relay_has_closed_is_replaced_without_losing_the_message(
    start_server: Callable[..., Server],
) -> None:
    first = start_server()
    sender = mailer(first.port)
    sender.send(code_email())
    first.stop()  # the relay restarts: the session the mailer kept is closed
    second = start_server(port=first.port)

    sender.send(code_email(subject="After the relay restarted"))

    [received] = second.handler.received
    assert received.envelope.rcpt_tos == ["ada@example.org"]
    assert second.handler.message()["Subject"] == "After the relay restarted"


def test_starttls_and_auth_happen_once_per_kept_session(start_server: Callable[..., Server],
                                                        certificate: Certificate) -> None:
    server = start_server(tls_context=certificate.server_context(), require_starttls=True,
                          authenticator=authenticator, auth_require_tls=True)
    sender = mailer(server.port, "starttls", username=USERNAME, password=PASSWORD,
                    ssl_context=certificate.client_context())

    sender.send(code_email())
    sender.send(code_email())

    assert [(r.tls, r.authenticated) for r in server.handler.received] == [(True, True), (True, True)]
    assert len(set(server.handler.peers)) == 1


def test_starttls_with_a_trusted_certificate(start_server: Callable[..., Server], certificate: Certificate) -> None:
    server = start_server(tls_context=certificate.server_context(), require_starttls=True)

    mailer(server.port, "starttls", ssl_context=certificate.client_context()).send(code_email())

    [received] = server.handler.received
    assert received.tls is True
    assert server.handler.message().get_content_type() == "multipart/alternative"


def test_starttls_refuses_a_certificate_it_does_not_trust(
    start_server: Callable[..., Server], certificate: Certificate
) -> None:
    server = start_server(tls_context=certificate.server_context(), require_starttls=True)

    with pytest.raises(MailDeliveryError, match="certificate we do not trust") as caught:
        mailer(server.port, "starttls", ssl_context=ssl.create_default_context()).send(code_email())

    assert "SSLCertVerificationError" in str(caught.value)
    assert server.handler.received == []


def test_starttls_against_a_server_without_it_fails_clearly(start_server: Callable[..., Server]) -> None:
    server = start_server()

    with pytest.raises(MailDeliveryError, match="does not offer STARTTLS"):
        mailer(server.port, "starttls").send(code_email())
    assert server.handler.received == []


def test_implicit_tls(start_server: Callable[..., Server], certificate: Certificate) -> None:
    server = start_server(ssl_context=certificate.server_context())

    mailer(server.port, "ssl", ssl_context=certificate.client_context()).send(code_email())

    [received] = server.handler.received
    assert received.tls is True


def test_auth_with_the_right_password(start_server: Callable[..., Server], certificate: Certificate) -> None:
    server = start_server(
        tls_context=certificate.server_context(),
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=True,
    )

    mailer(
        server.port, "starttls", username=USERNAME, password=PASSWORD, ssl_context=certificate.client_context()
    ).send(code_email())

    [received] = server.handler.received
    assert received.tls is True and received.authenticated is True


def test_auth_with_a_wrong_password_never_reveals_it(
    start_server: Callable[..., Server], certificate: Certificate, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_server(
        tls_context=certificate.server_context(),
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=True,
    )
    caplog.set_level("DEBUG")

    with pytest.raises(MailDeliveryError) as caught:
        mailer(
            server.port,
            "starttls",
            username=USERNAME,
            password=WRONG_PASSWORD,
            ssl_context=certificate.client_context(),
        ).send(code_email())

    error = caught.value
    assert str(error).startswith(f"SMTP relay 127.0.0.1:{server.port} rejected the SMTP username or password")
    assert "SMTPAuthenticationError" in str(error)
    assert error.backend == "smtp" and error.cause == "SMTPAuthenticationError"
    assert error.__cause__ is None and error.__suppress_context__
    for secret in (WRONG_PASSWORD, CODE):
        assert secret not in str(error)
        assert secret not in repr(error)
        assert secret not in caplog.text
    assert server.handler.received == []


def test_a_server_that_is_down_gives_a_clear_error() -> None:
    port = free_port()  # nothing listens there any more

    with pytest.raises(MailDeliveryError) as caught:
        mailer(port).send(code_email())

    assert str(caught.value) == (
        f"SMTP relay 127.0.0.1:{port} refused the connection (ConnectionRefusedError); code email not sent."
    )


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as silent:  # accepts TCP connections (backlog) but never sends a greeting
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]

        with pytest.raises(MailDeliveryError, match="did not answer within 0.2 seconds during connect"):
            mailer(port, timeout=0.2).send(code_email())


class RefusingHandler(StoringHandler):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:  # type: ignore[no-untyped-def]  # noqa: N802
        return "550 5.1.1 No such user here"


def test_a_refused_recipient_is_reported_without_the_address() -> None:
    port = free_port()
    controller = Controller(RefusingHandler(), hostname="127.0.0.1", port=port, server_hostname="localhost")
    controller.start()
    try:
        with pytest.raises(MailDeliveryError, match=r"refused the recipient \(reply 550\)") as caught:
            mailer(port).send(code_email())
    finally:
        controller.stop()
    assert "ada@example.org" not in str(caught.value)
