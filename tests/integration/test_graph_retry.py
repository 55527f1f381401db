"""Retries proven from the emulator's own request log, with the real clock."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from graph_fixtures import Emulator, EmulatorHarness, running_emulator

from activation.clock import SystemClock
from activation.graph.errors import BadRequest, ServiceUnavailable
from activation.graph.retry import RetryPolicy


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    yield from running_emulator(tmp_path)


def _calls(emulator: Emulator, method: str, prefix: str) -> list[dict]:
    return [r for r in emulator.requests_log() if r["method"] == method and r["path"].startswith(prefix)]


def _user_id(emulator: Emulator) -> str:
    employee_id = f"R{uuid.uuid4().hex[:8]}"
    return (
        EmulatorHarness(emulator)
        .add_user(employee_id, f"{employee_id.lower()}@contoso.example", "Retry Me")
        .id
    )


def test_429_retry_after_is_honoured(emulator: Emulator) -> None:
    user_id = _user_id(emulator)
    emulator.add_fault(method="PATCH", path="/v1.0/users/*", status=429, retry_after=2, times=1)
    emulator.clear_requests()
    emulator.client(clock=SystemClock()).enable_user(user_id)
    patches = _calls(emulator, "PATCH", "/v1.0/users/")
    assert [p["status"] for p in patches] == [429, 204]
    assert patches[1]["timestamp"] - patches[0]["timestamp"] >= 2.0


def test_400_is_not_retried(emulator: Emulator) -> None:
    user_id = _user_id(emulator)
    emulator.add_fault(method="PATCH", path="/v1.0/users/*", status=400, times=5)
    emulator.clear_requests()
    with pytest.raises(BadRequest):
        emulator.client(clock=SystemClock()).enable_user(user_id)
    assert [p["status"] for p in _calls(emulator, "PATCH", "/v1.0/users/")] == [400]


def test_permanent_503_gives_up_within_the_bound(emulator: Emulator) -> None:
    user_id = _user_id(emulator)
    emulator.add_fault(method="PATCH", path="/v1.0/users/*", status=503, times=100)
    emulator.clear_requests()
    policy = RetryPolicy(max_attempts=3, max_total_seconds=3, base_delay=0.1, max_delay=1)
    clock = SystemClock()
    started = clock.monotonic()
    with pytest.raises(ServiceUnavailable):
        emulator.client(clock=clock, retry=policy).enable_user(user_id)
    assert clock.monotonic() - started < 3 + 2  # the budget plus request time, never an open-ended wait
    patches = _calls(emulator, "PATCH", "/v1.0/users/")
    assert [p["status"] for p in patches] == [503, 503, 503]
    assert patches[-1]["timestamp"] - patches[0]["timestamp"] <= 3.0
