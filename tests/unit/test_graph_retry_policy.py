"""Retry rules, first as pure logic, then through HttpGraphClient against the stub with a FakeClock."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_graph_support import Canned, StubServer, envelope, make_client, stub_server

from activation.clock import FakeClock
from activation.graph.errors import BadRequest, GraphUnavailable, ServiceUnavailable, Throttled
from activation.graph.models import MailMessage
from activation.graph.retry import RetryPolicy, parse_retry_after

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[StubServer]:
    yield from stub_server(tmp_path)


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 0.5), (2, 1.0), (3, 2.0), (7, 30.0), (20, 30.0)])
def test_backoff_is_capped_exponential_with_full_jitter(attempt: int, ceiling: float) -> None:
    policy = RetryPolicy()
    assert policy.backoff(attempt, lambda: 1.0) == pytest.approx(ceiling)
    assert policy.backoff(attempt, lambda: 0.0) == 0.0
    assert policy.backoff(attempt, lambda: 0.5) == pytest.approx(ceiling / 2)


def test_next_wait_honours_retry_after_and_bounds() -> None:
    policy = RetryPolicy(max_attempts=3, max_total_seconds=10)
    assert policy.next_wait(1, elapsed=0, retry_after=2) == 2
    assert policy.next_wait(1, elapsed=9, retry_after=2) is None  # would end past the budget
    assert policy.next_wait(3, elapsed=0, retry_after=0) is None  # out of attempts
    assert policy.next_wait(2, elapsed=0, retry_after=None, rand=lambda: 1.0) == pytest.approx(1.0)


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("2", 2.0),
        (" 0 ", 0.0),
        ("-3", 0.0),
        ("Mon, 05 Jan 2026 09:00:30 GMT", 30.0),
        ("Mon, 05 Jan 2026 08:00:00 GMT", 0.0),
        ("soon", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected


def test_429_is_retried_after_retry_after(stub: StubServer) -> None:
    clock = FakeClock()
    stub.add(
        "PATCH", "/v1.0/users/*", Canned(429, envelope("TooManyRequests", "slow down"), {"Retry-After": "2"})
    )
    stub.add("PATCH", "/v1.0/users/*", Canned(204))
    make_client(stub, clock=clock).enable_user("u1")
    assert clock.slept == [2.0]
    assert len(stub.graph_requests()) == 2


def test_503_without_retry_after_backs_off_then_gives_up(stub: StubServer) -> None:
    clock = FakeClock()
    stub.add("GET", "/v1.0/users/*", Canned(503, envelope("serviceNotAvailable", "busy")), times=10)
    policy = RetryPolicy(max_attempts=4, max_total_seconds=60, base_delay=0.5, max_delay=30)
    with pytest.raises(ServiceUnavailable) as excinfo:
        make_client(stub, clock=clock, retry=policy).get_user("u1")
    assert clock.slept == [0.5, 1.0, 2.0]  # jitter pinned to 1.0 in make_client
    assert len(stub.graph_requests()) == 4
    assert excinfo.value.status == 503 and excinfo.value.request_id == "req-123"


def test_504_is_retried(stub: StubServer) -> None:
    stub.add("GET", "/v1.0/users/*", Canned(504, envelope("GatewayTimeout", "late")))
    stub.add("GET", "/v1.0/users/*", Canned(200, {"id": "u1"}))
    assert make_client(stub).get_user("u1").id == "u1"


def test_retry_after_beyond_budget_gives_up_without_sleeping(stub: StubServer) -> None:
    clock = FakeClock()
    stub.add(
        "PATCH", "/v1.0/users/*", Canned(429, envelope("TooManyRequests", "later"), {"Retry-After": "120"})
    )
    with pytest.raises(Throttled) as excinfo:
        make_client(stub, clock=clock, retry=RetryPolicy(max_total_seconds=60)).enable_user("u1")
    assert clock.slept == []
    assert excinfo.value.retry_after == 120.0
    assert len(stub.graph_requests()) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409])
def test_other_4xx_are_never_retried(stub: StubServer, status: int) -> None:
    clock = FakeClock()
    stub.add("PATCH", "/v1.0/users/*", Canned(status, envelope("x", "no")), times=3)
    with pytest.raises(Exception) as excinfo:  # noqa: B017 - the type is checked by the mapping tests
        make_client(stub, clock=clock).enable_user("u1")
    assert getattr(excinfo.value, "status", None) == status
    assert clock.slept == []
    assert len(stub.graph_requests()) == 1


def test_400_maps_to_bad_request_without_retry(stub: StubServer) -> None:
    stub.add("PATCH", "/v1.0/users/*", Canned(400, envelope("Request_BadRequest", "Invalid value")))
    with pytest.raises(BadRequest):
        make_client(stub).enable_user("u1")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_errors_are_retried_then_graph_unavailable(stub: StubServer) -> None:
    clock = FakeClock()
    unreachable = f"https://127.0.0.1:{_closed_port()}"  # tokens still come from the stub
    client = make_client(
        stub, clock=clock, retry=RetryPolicy(max_attempts=3, base_delay=0.1), graph_url=unreachable
    )
    with pytest.raises(GraphUnavailable) as excinfo:
        client.get_user("u1")
    assert clock.slept == [pytest.approx(0.1), pytest.approx(0.2)]
    assert "3 attempt" in str(excinfo.value)


def test_read_timeout_on_send_mail_is_not_repeated(stub: StubServer) -> None:
    clock = FakeClock()
    stub.add("POST", "/v1.0/users/*/sendMail", Canned(202, delay=1.0), times=3)
    client = make_client(stub, clock=clock, timeout=0.3)
    message = MailMessage(to=["a@example.org"], subject="s", html=None, text="t")
    with pytest.raises(GraphUnavailable):
        client.send_mail("noreply@contoso.test", message)
    assert clock.slept == []
    assert len(stub.graph_requests()) == 1


def test_read_timeout_on_idempotent_call_is_retried(stub: StubServer) -> None:
    clock = FakeClock()
    stub.add("GET", "/v1.0/users/*", Canned(200, {"id": "slow"}, delay=1.0))
    stub.add("GET", "/v1.0/users/*", Canned(200, {"id": "u1"}))
    assert make_client(stub, clock=clock, timeout=0.3).get_user("u1").id == "u1"
    assert len(clock.slept) == 1
