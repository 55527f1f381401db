"""Bulk batches of at most 50 with unique bulkIds, and the sliding-window rate pacer on a fake clock."""

from __future__ import annotations

from bisect import bisect_left

import pytest

from activation.clock import FakeClock
from activation.errors import ConfigurationError
from activation.provisioning.batches import RatePacer, split_into_batches
from activation.provisioning.planner import PlannedOperation
from activation.provisioning.scim import BULK_REQUEST_SCHEMA


def operations(count: int, *, bulk_id: str | None = None) -> list[PlannedOperation]:
    return [
        PlannedOperation(f"E{n}", "joiner", {"method": "POST", "bulkId": bulk_id or f"E{n}", "path": "/Users",
                                             "data": {"externalId": f"E{n}", "active": False}}, f"h{n}")
        for n in range(count)
    ]


@pytest.mark.parametrize(("count", "sizes"), [(0, []), (1, [1]), (50, [50]), (51, [50, 1]), (120, [50, 50, 20])])
def test_batches_hold_at_most_fifty(count: int, sizes: list[int]) -> None:
    batches = list(split_into_batches(operations(count)))
    assert [len(b.items) for b in batches] == sizes
    assert [b.number for b in batches] == list(range(1, len(sizes) + 1))
    for batch in batches:
        assert batch.request["schemas"] == [BULK_REQUEST_SCHEMA]
        assert len(batch.request["Operations"]) == len(batch.items) <= 50
        assert batch.employee_ids == tuple(op["data"]["externalId"] for op in batch.request["Operations"])
    seen = [eid for b in batches for eid in b.employee_ids]
    assert seen == [f"E{n}" for n in range(count)]


def test_bulk_ids_are_made_unique_within_a_request() -> None:
    (batch,) = split_into_batches(operations(3, bulk_id="same"))
    assert [op["bulkId"] for op in batch.request["Operations"]] == ["same", "same-2", "same-3"]


def test_smaller_batches_and_bad_sizes() -> None:
    assert [len(b.items) for b in split_into_batches(operations(7), size=3)] == [3, 3, 1]
    for size in (0, 51):
        with pytest.raises(ConfigurationError, match="batch size"):
            list(split_into_batches(operations(1), size=size))


def max_in_any_window(times: list[float], period: float) -> int:
    return max((bisect_left(times, t + period) - i for i, t in enumerate(times)), default=0)


def test_pacer_keeps_200_calls_under_40_per_5_seconds() -> None:
    clock = FakeClock()
    pacer = RatePacer(40, 5.0, clock)
    times = []
    for _ in range(200):
        pacer.wait()
        times.append(clock.monotonic())
    assert clock.monotonic() >= 20.0
    assert max_in_any_window(times, 5.0) <= 40
    assert times[39] == 0.0 and times[40] == pytest.approx(5.0)  # no waiting while under the ceiling
    assert clock.monotonic() == pytest.approx(20.0)  # and no more waiting than needed


def test_pacer_does_not_wait_when_calls_are_spread_out() -> None:
    clock = FakeClock()
    pacer = RatePacer(2, 1.0, clock)
    for _ in range(5):
        assert pacer.wait() == 0.0
        clock.advance(0.6)
    assert clock.slept == []


def test_pacer_honours_a_retry_after() -> None:
    clock = FakeClock()
    pacer = RatePacer(40, 5.0, clock)
    pacer.wait()
    pacer.defer(7.5)
    assert pacer.wait() == pytest.approx(7.5)
    assert clock.monotonic() == pytest.approx(7.5)


def test_pacer_margin_adds_slack() -> None:
    clock = FakeClock()
    pacer = RatePacer(1, 1.0, clock, margin=0.1)
    pacer.wait()
    assert pacer.wait() == pytest.approx(1.1)


@pytest.mark.parametrize(("calls", "period"), [(0, 5.0), (40, 0.0), (40, -1.0)])
def test_pacer_rejects_a_nonsense_ceiling(calls: int, period: float) -> None:
    with pytest.raises(ConfigurationError, match="rate ceiling"):
        RatePacer(calls, period, FakeClock())


def test_calls_stamped_when_they_end_keep_a_period_between_calls_whatever_the_latency() -> None:
    clock = FakeClock()
    pacer = RatePacer(2, 1.0, clock)
    first = pacer.acquire()
    clock.advance(0.5)  # latency: the server may have seen it as late as now
    pacer.release(first)
    second = pacer.acquire()
    clock.advance(0.5)
    pacer.release(second)
    start = clock.monotonic()
    pacer.acquire()  # the window is full until the first call's end + 1 s
    assert clock.monotonic() - start == pytest.approx(0.5)


def test_a_call_in_flight_holds_its_place_until_released() -> None:
    import threading

    clock = FakeClock()
    pacer = RatePacer(1, 1.0, clock)
    slot = pacer.acquire()
    got: list[float] = []
    waiter = threading.Thread(target=lambda: (pacer.acquire(), got.append(clock.monotonic())))
    waiter.start()  # blocks: the only place is held by a call in flight (unblocked it would record 0.0)
    clock.advance(0.3)
    pacer.release(slot)
    waiter.join(timeout=5)
    assert got == [pytest.approx(1.3)]  # one period after the first call ended
