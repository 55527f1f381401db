"""Mail adapters without a network: fake, outbox, Graph; header injection; the factory."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from activation.clock import FakeClock
from activation.config import MailSettings
from activation.db import make_engine, make_session_factory
from activation.errors import ActivationError, ConfigurationError
from activation.graph.errors import Forbidden
from activation.graph.models import MailMessage
from activation.mail import (
    Email,
    FakeMailer,
    GraphMailer,
    MailDeliveryError,
    OutboxMailer,
    SmtpMailer,
    build_mailer,
)
from activation.models import Base, OutboxMessage

CODE = "48213907"


def an_email(**overrides: str) -> Email:
    values = {
        "to": "ada@example.org",
        "subject": "Your Contoso activation code",
        "text": f"Your code is {CODE}",
        "html": f"<p>Your code is <b>{CODE}</b></p>",
        "kind": "code",
    }
    return Email(**{**values, **overrides})


@pytest.fixture
def memory_engine() -> Iterator[Engine]:
    engine = make_engine("sqlite:///:memory:")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(memory_engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(memory_engine)


class RecordingGraph:
    """Just enough of GraphClient: records send_mail calls, raises what it is told to."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple[str, MailMessage]] = []
        self.error = error

    def send_mail(self, sender: str, message: MailMessage) -> None:
        self.calls.append((sender, message))
        if self.error is not None:
            raise self.error


# -- FakeMailer ------------------------------------------------------------------------------------


def test_fake_mailer_records_what_it_sent() -> None:
    mailer = FakeMailer()
    mailer.send(an_email())
    mailer.send(an_email(to="bob@example.org", kind="invite"))

    assert [e.to for e in mailer.sent] == ["ada@example.org", "bob@example.org"]
    assert mailer.sent_to("ADA@example.org", kind="code") == [an_email()]
    assert mailer.sent_to("ada@example.org", kind="invite") == []


def test_fake_mailer_fails_on_demand_then_recovers() -> None:
    mailer = FakeMailer()
    mailer.fail_next(times=2)

    for _ in range(2):
        with pytest.raises(MailDeliveryError):
            mailer.send(an_email())
    mailer.send(an_email())

    assert len(mailer.failed) == 2
    assert mailer.sent == [an_email()]


def test_fake_mailer_raises_the_scripted_error() -> None:
    mailer = FakeMailer()
    scripted = MailDeliveryError("relay down", backend="smtp", cause="ConnectionRefusedError")
    mailer.fail_next(error=scripted)

    with pytest.raises(MailDeliveryError) as caught:
        mailer.send(an_email())
    assert caught.value is scripted


# -- header injection, every adapter ----------------------------------------------------------------

INJECTIONS = [
    {"to": "ada@example.org\r\nBcc: victim@example.org"},
    {"to": "ada@example.org\nBcc: victim@example.org"},
    {"subject": "Hello\r\nBcc: victim@example.org"},
    {"subject": "Hello\rX-Evil: 1"},
    {"subject": "Hello\x00"},
    {"to": "  "},
]


def smtp_mailer_nobody_listens_to() -> SmtpMailer:
    # Port 9 on a TEST-NET address: if validation failed to stop the send, this would error differently.
    return SmtpMailer("192.0.2.1", 9, "none", "", "", "no-reply@contoso.example", 0.01)


@pytest.mark.parametrize("overrides", INJECTIONS)
def test_header_injection_is_refused_before_sending(overrides: dict[str, str], session_factory) -> None:  # type: ignore[no-untyped-def]
    graph = RecordingGraph()
    fake = FakeMailer()
    mailers = [
        fake,
        OutboxMailer(session_factory),
        GraphMailer(graph, "hr@contoso.example"),
        smtp_mailer_nobody_listens_to(),
    ]

    for mailer in mailers:
        with pytest.raises(MailDeliveryError, match="(header injection|empty)"):
            mailer.send(an_email(**overrides))

    assert fake.sent == [] and graph.calls == []
    with session_factory() as session:
        assert session.scalars(select(OutboxMessage)).all() == []


# -- OutboxMailer -----------------------------------------------------------------------------------


def test_outbox_mailer_stores_a_row_and_commits_it(session_factory: sessionmaker[Session]) -> None:
    clock = FakeClock(current=datetime(2026, 1, 5, 8, 30, tzinfo=UTC))
    OutboxMailer(session_factory, clock=clock).send(an_email())

    with session_factory() as other_session:  # visible from another session: it was committed
        rows = other_session.scalars(select(OutboxMessage)).all()
    assert len(rows) == 1
    row = rows[0]
    assert (row.to_address, row.subject) == ("ada@example.org", "Your Contoso activation code")
    assert CODE in row.text_body and f"<b>{CODE}</b>" in row.html_body
    assert row.created_at == clock.now()


def test_outbox_mailer_does_not_depend_on_the_callers_transaction(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as caller_session:
        caller_session.add(OutboxMessage(to_address="x@example.org", subject="s", text_body="t", html_body="h"))
        OutboxMailer(session_factory).send(an_email())
        caller_session.rollback()

    with session_factory() as session:
        assert [r.to_address for r in session.scalars(select(OutboxMessage))] == ["ada@example.org"]


def test_outbox_mailer_translates_database_errors(memory_engine: Engine) -> None:
    Base.metadata.drop_all(memory_engine)
    mailer = OutboxMailer(make_session_factory(memory_engine))

    with pytest.raises(MailDeliveryError, match=r"Outbox could not store a code email \(OperationalError\)") as caught:
        mailer.send(an_email())
    assert CODE not in str(caught.value)
    assert caught.value.backend == "outbox"


# -- GraphMailer ------------------------------------------------------------------------------------


def test_graph_mailer_sends_both_bodies_from_the_configured_mailbox() -> None:
    graph = RecordingGraph()
    GraphMailer(graph, "onboarding@contoso.example").send(an_email())

    assert graph.calls == [
        (
            "onboarding@contoso.example",
            MailMessage(
                to=["ada@example.org"],
                subject="Your Contoso activation code",
                html=f"<p>Your code is <b>{CODE}</b></p>",
                text=f"Your code is {CODE}",
            ),
        )
    ]


class SomeGraphFailure(ActivationError):
    pass


@pytest.mark.parametrize(
    "error",
    [
        Forbidden("Access is denied.", status=403, code="ErrorAccessDenied", request_id="req-1"),
        SomeGraphFailure("token could not be acquired"),
    ],
)
def test_graph_mailer_translates_graph_errors(error: ActivationError) -> None:
    mailer = GraphMailer(RecordingGraph(error=error), "onboarding@contoso.example")

    with pytest.raises(MailDeliveryError) as caught:
        mailer.send(an_email())

    message = str(caught.value)
    assert "Graph sendMail as onboarding@contoso.example failed" in message
    assert type(error).__name__ in message
    assert CODE not in message
    assert caught.value.backend == "graph"
    assert caught.value.cause == type(error).__name__


def test_graph_mailer_works_with_the_graph_packages_fake() -> None:
    from activation.graph.fake import FakeGraph

    graph = FakeGraph()
    GraphMailer(graph, "onboarding@contoso.example").send(an_email())

    assert [(sender, m.to) for sender, m in graph.sent_mail] == [("onboarding@contoso.example", ["ada@example.org"])]


# -- SmtpMailer construction -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("security", "username", "password", "match"),
    [
        ("tls", "", "", "ACTIVATION_SMTP_SECURITY"),
        ("none", "relay-user", "s3cret-pw", "clear text"),
        ("starttls", "relay-user", "", "ACTIVATION_SMTP_PASSWORD"),
    ],
)
def test_smtp_mailer_refuses_unsafe_or_invalid_settings(
    security: str, username: str, password: str, match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match) as caught:
        SmtpMailer("smtp.contoso.example", 587, security, username, password, "no-reply@contoso.example", 5)
    assert "s3cret-pw" not in str(caught.value)


def test_smtp_mailer_repr_hides_the_password() -> None:
    mailer = SmtpMailer("smtp.contoso.example", 587, "starttls", "u", "s3cret-pw", "no-reply@contoso.example", 5)
    assert "s3cret-pw" not in repr(mailer)


# -- factory ----------------------------------------------------------------------------------------


def test_factory_builds_the_outbox_mailer(session_factory: sessionmaker[Session]) -> None:
    mailer = build_mailer(MailSettings(backend="outbox"), session_factory=session_factory, graph_client_provider=None)
    assert isinstance(mailer, OutboxMailer)


def test_factory_builds_the_smtp_mailer_without_touching_graph() -> None:
    def provider() -> object:
        raise AssertionError("Graph must not be built for the smtp backend")

    settings = MailSettings(backend="smtp", smtp_host="smtp.contoso.example", smtp_port=587)
    assert isinstance(build_mailer(settings, session_factory=None, graph_client_provider=provider), SmtpMailer)


def test_factory_builds_the_graph_mailer_from_the_sender_mailbox() -> None:
    graph = RecordingGraph()
    settings = MailSettings(backend="graph", sender="onboarding@contoso.example")
    mailer = build_mailer(settings, session_factory=None, graph_client_provider=lambda: graph)

    mailer.send(an_email())
    assert graph.calls[0][0] == "onboarding@contoso.example"


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        (MailSettings(backend="carrier-pigeon"), "ACTIVATION_MAIL_BACKEND"),
        (MailSettings(backend="graph", sender=""), "ACTIVATION_MAIL_SENDER"),
        (MailSettings(backend="outbox"), "session factory"),
        (MailSettings(backend="smtp", smtp_host=""), "ACTIVATION_SMTP_HOST"),
    ],
)
def test_factory_reports_configuration_errors(settings: MailSettings, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        build_mailer(settings, session_factory=None, graph_client_provider=None)


def test_graph_mailer_passes_on_a_throttled_mailboxs_retry_after() -> None:
    from activation.graph.errors import Throttled

    mailer = GraphMailer(RecordingGraph(error=Throttled("Mailbox over its limit", retry_after=17.0)),
                         "onboarding@contoso.example")
    with pytest.raises(MailDeliveryError) as caught:
        mailer.send(an_email())
    assert caught.value.retry_after == 17.0 and caught.value.cause == "Throttled"
